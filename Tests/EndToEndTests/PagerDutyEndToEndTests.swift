import CanoSDK
import Foundation
import TestSupport
import Testing

/// The whole product on loopback for PagerDuty: a real Alertmanager posts to the real
/// `cano-collector` binary, which loads `libCanoPagerDuty.so` and sends Events API v2
/// events to the strict PagerDuty double. The firing opens an alert; the resolve closes
/// the same one, through the fingerprint as `dedup_key`.
@Suite(.serialized) struct PagerDutyEndToEndTests {
    @Test func alertmanagerFiringAndResolveReachPagerDutyAsOneAlert() async throws {
        let routingKey = "c4n0e2e0pagerduty0routing0key007"
        let pagerduty = try await PagerDutyDouble.start(routingKeys: [routingKey])
        defer { stopLater { await pagerduty.stop() } }
        let workspace = try EndToEndWorkspace(plugins: ["CanoPagerDuty"])
        defer { workspace.remove() }
        // As a Kubernetes Secret mounts it: a file ending in a newline, read by the host
        // (`routing_key_file` → `routing_key`).
        let keyFile = try workspace.secretFile("routing-key", routingKey)

        let collector = try await CollectorProcess(configYAML: """
            \(workspace.configHead)
            destinations:
              - name: pager
                type: pagerduty
                config: {url: "\(pagerduty.url)", routing_key_file: "\(keyFile)"}
            default_destinations: [pager]
            """, directory: workspace.directory)
        defer { collector.stop() }
        let am = try await workspace.alertmanager(for: collector)
        defer { am.stop() }
        try am.post(alerts: [SampleAlert.firing])
        try await waitUntil("PagerDuty to get the trigger", timeout: .seconds(30)) { !pagerduty.alertEvents.isEmpty }
        #expect(pagerduty.rejections.isEmpty, "\(pagerduty.rejections)")
        let trigger = try #require(pagerduty.alertEvents.first)
        #expect(trigger.action == "trigger")
        #expect(trigger.routingKey == routingKey)
        let dedupKey = try #require(trigger.dedupKey)
        #expect(trigger.payload?["summary"]?.stringValue == "KubePodCrashLooping: Pod shop/cart-7d9f-x2 is crash looping")
        #expect(trigger.payload?["severity"]?.stringValue == "critical")
        #expect(trigger.payload?["source"]?.stringValue == "e2e/shop/cart-7d9f-x2")
        #expect(trigger.customDetails?["labels"]?["pod"]?.stringValue == "cart-7d9f-x2")
        #expect(trigger.body["links"]?.arrayValue?.contains { $0["href"]?.stringValue == "https://runbooks.example/crashloop" } == true)
        #expect(pagerduty.alert(dedupKey: dedupKey)?.status == .triggered)

        // Alertmanager resolves it: a different idempotency key, the same fingerprint.
        let startsAt = try #require(trigger.payload?["timestamp"]?.stringValue)
        var resolved = SampleAlert.resolved
        resolved["startsAt"] = .string(startsAt)
        try am.post(alerts: [resolved])
        try await waitUntil("PagerDuty to get the resolve", timeout: .seconds(30)) { pagerduty.alertEvents.contains { $0.action == "resolve" } }
        let resolve = try #require(pagerduty.alertEvents.first { $0.action == "resolve" })
        #expect(resolve.dedupKey == dedupKey, "the resolve names the alert the trigger opened")
        #expect(resolve.applied, "it found the open alert")
        #expect(pagerduty.alerts.count == 1)
        #expect(pagerduty.alert(dedupKey: dedupKey)?.status == .resolved)

        try await waitUntil("both deliveries counted") {
            try collector.get("/metrics").text.contains(#"cano_deliveries_total{destination="pager",result="delivered"} 2"#)
        }
        let metrics = try collector.get("/metrics").text
        for secret in [routingKey, "e2e-intake-token"] {
            #expect(!collector.log.contains(secret), "the secret leaked into the collector's log")
            #expect(!metrics.contains(secret), "the secret leaked into /metrics")
        }
    }
}
