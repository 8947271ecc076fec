import CanoSDK
import Foundation
import TestSupport
import Testing

/// The whole product on loopback for Datadog: a real Alertmanager posts to the real
/// `cano-collector` binary, which loads `libCanoDatadog.so` and posts Events API events to
/// the strict Datadog double. The firing and the resolve are two events with one
/// `aggregation_key` (the Issue's fingerprint): an error alert, then ok.
@Suite(.serialized) struct DatadogEndToEndTests {
    @Test func alertmanagerFiringAndResolveReachDatadogWithOneAggregationKey() async throws {
        let apiKey = "c4n0e2e0datadog0api0key000000007"
        let datadog = try await DatadogDouble.start(site: "EU1", apiKeys: [apiKey])
        defer { stopLater { await datadog.stop() } }
        let workspace = try EndToEndWorkspace(plugins: ["CanoDatadog"])
        defer { workspace.remove() }
        // As a Kubernetes Secret mounts it: a file ending in a newline, read by the host
        // (`api_key_file` → `api_key`).
        let keyFile = try workspace.secretFile("api-key", apiKey)

        let collector = try await CollectorProcess(configYAML: """
            \(workspace.configHead)
            destinations:
              - name: dd
                type: datadog
                config: {site: EU, api_url: "\(datadog.url)", api_key_file: "\(keyFile)", tags: ["env:e2e"], tag_labels: [alertname]}
            default_destinations: [dd]
            """, directory: workspace.directory)
        defer { collector.stop() }
        let am = try await workspace.alertmanager(for: collector)
        defer { am.stop() }
        let labels: [String: JSONValue] = [
            "alertname": .string("KubePodCrashLooping"), "namespace": .string("shop"), "pod": .string("cart-7d9f-x2"),
            "container": .string("cart"), "severity": .string("critical"),
        ]
        try am.post(alerts: [[
            "labels": .object(labels),
            "annotations": .object(["description": .string("Pod shop/cart-7d9f-x2 is crash looping")]),
        ]])
        try await waitUntil("Datadog to get the firing event", timeout: .seconds(30)) { !datadog.events.isEmpty }
        #expect(datadog.rejections.isEmpty, "\(datadog.rejections)")
        let firing = try #require(datadog.events.first)
        #expect(firing.version == "v2")
        #expect(firing.apiKey == apiKey)
        #expect(firing.alertType == "error")
        #expect(firing.title.contains("KubePodCrashLooping"))
        #expect(firing.text.contains("Pod shop/cart-7d9f-x2 is crash looping"))
        #expect(firing.tags.contains("env:e2e"))
        #expect(firing.tags.contains("namespace:shop"))
        #expect(firing.tags.contains("cluster:e2e"))
        #expect(firing.tags.contains("alertname:kubepodcrashlooping"))
        let aggregationKey = try #require(firing.aggregationKey)
        #expect(datadog.requests.first?.target == "/api/v2/events")

        // Alertmanager resolves it: a different idempotency key, the same fingerprint.
        let startsAt = try #require(firing.body["data"]?["attributes"]?["attributes"]?["custom"]?["starts_at"]?.stringValue)
        try am.post(alerts: [["labels": .object(labels), "startsAt": .string(startsAt), "endsAt": .string(RFC3339.format(Date()))]])
        try await waitUntil("Datadog to get the resolve event", timeout: .seconds(30)) { datadog.events.count >= 2 }
        let resolve = try #require(datadog.events.last)
        #expect(resolve.alertType == "ok")
        #expect(resolve.aggregationKey == aggregationKey, "the resolve lines up with the firing")
        #expect(datadog.events(aggregationKey: aggregationKey).count == 2)
        #expect(datadog.rejections.isEmpty, "\(datadog.rejections)")

        try await waitUntil("both deliveries counted") {
            try collector.get("/metrics").text.contains(#"cano_deliveries_total{destination="dd",result="delivered"} 2"#)
        }
        let metrics = try collector.get("/metrics").text
        for secret in [apiKey, "e2e-intake-token"] {
            #expect(!collector.log.contains(secret), "the secret leaked into the collector's log")
            #expect(!metrics.contains(secret), "the secret leaked into /metrics")
        }
    }
}
