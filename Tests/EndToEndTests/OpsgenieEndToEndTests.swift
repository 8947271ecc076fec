import CanoSDK
import Foundation
import TestSupport
import Testing

/// The whole product with the Opsgenie plugin: a real Alertmanager posts webhooks to the
/// real `cano-collector` binary, which loads `libCanoOpsgenie.so` (in process, the
/// default for the plugins shipped with the collector) and talks to the Opsgenie double. The firing
/// must open an alert whose alias is the alert's fingerprint, and the resolve must close
/// that same alias.
@Suite(.serialized) struct OpsgenieEndToEndTests {
    static let apiKey = "og-e2e-5b1d7c3a-OPSGENIEe2eKEY"

    @Test func alertmanagerToOpsgenieCreatesThenClosesByFingerprint() async throws {
        let opsgenie = try await OpsgenieDouble.start(apiKey: Self.apiKey)
        let workspace = try EndToEndWorkspace(plugins: ["CanoOpsgenie"])
        defer { workspace.remove() }
        // As a Kubernetes Secret mounts it: a file with a trailing newline, which the host trims.
        let keyFile = try workspace.secretFile("opsgenie-api-key", Self.apiKey)
        let collector = try await CollectorProcess(configYAML: """
            \(workspace.configHead)
            destinations:
              - name: opsgenie
                type: opsgenie
                config: {api_key_file: "\(keyFile)", api_url: "\(opsgenie.apiURL)", team: platform}
            default_destinations: [opsgenie]
            """)
        defer { collector.stop() }
        let am = try await workspace.alertmanager(for: collector)
        defer { am.stop() }
        try am.post(alerts: [SampleAlert.firing])
        try await waitUntil("the alert created in Opsgenie", timeout: .seconds(30)) { !opsgenie.creates.isEmpty }

        // Alertmanager's own fingerprint for the alert: the collector keeps it as the Issue's.
        let fingerprint = try await am.firstFingerprint()

        let create = try #require(opsgenie.creates.first)
        #expect(create.status == 202, "\(create.error ?? "") \(create.errors)")
        #expect(create.headers["authorization"] == "GenieKey " + Self.apiKey, "the key file's newline was trimmed")
        let alert = try #require(opsgenie.alerts.first)
        #expect(alert.alias == fingerprint)
        #expect(alert.isOpen)
        #expect(alert.message == "KubePodCrashLooping")
        #expect(alert.created["priority"] == "P1")
        #expect(alert.created["entity"] == "Pod shop/cart-7d9f-x2")
        #expect(alert.created["responders"] == [["type": "team", "name": "platform"]])
        let tags = alert.created["tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(tags == ["alertname:KubePodCrashLooping", "cluster:e2e", "namespace:shop", "severity:critical"])
        #expect(alert.created["details"]?["pod"] == "cart-7d9f-x2")
        #expect(alert.created["description"]?.stringValue?.hasPrefix("Pod shop/cart-7d9f-x2 is crash looping") == true)

        // Resolve it: Alertmanager sends the resolved notification, the plugin closes the alias.
        try am.post(alerts: [SampleAlert.resolved])
        try await waitUntil("the alert closed in Opsgenie", timeout: .seconds(30)) {
            opsgenie.alert(alias: fingerprint)?.isOpen == false && !opsgenie.closes.isEmpty
        }
        let close = try #require(opsgenie.closes.first)
        #expect(close.path == "/v2/alerts/\(fingerprint)/close")
        #expect(close.query["identifierType"] == "alias")
        #expect(close.status == 202)
        #expect(opsgenie.requestStatus(close.requestId)?.status == "Closed alert")
        #expect(opsgenie.creates.count == 1, "the resolve opened nothing")
        #expect(opsgenie.alerts.count == 1)

        try await waitUntil("both deliveries counted") {
            try collector.get("/metrics").text.contains(#"cano_deliveries_total{destination="opsgenie",result="delivered"} 2"#)
        }
        let metrics = try collector.get("/metrics").text
        await opsgenie.stop()
        assertNoSecret(Self.apiKey, in: [LeakSurface("collector log", collector.log), LeakSurface("/metrics", metrics)])
    }

    /// `cano-collector plugins check` passes the plugin: descriptor, create from a key file,
    /// the firing and resolve, every scripted outcome (202, 429 with both Retry-After
    /// forms, 500, 400, a hang, a reset) and no echo of the key.
    @Test func pluginsCheckPasses() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cano-opsgenie-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let keyFile = dir.appendingPathComponent("key").path
        try "og-check-9c2e41-CHECKKEY\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
        let run = try await CollectorCLI.run([
            "plugins", "check", try BuildProducts.plugin("CanoOpsgenie"), "--timeout", "5",
            "--config-json", "{\"api_url\":\"{{capture_url}}\",\"api_key_file\":\"\(keyFile)\"}",
        ])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.hasSuffix("result: PASS\n"), "\(run.output)")
        #expect(run.output.contains("PASS  descriptor: opsgenie 1.1.0"), "\(run.output)")
        #expect(run.output.contains("PASS  secrets"), "\(run.output)")
        #expect(run.output.contains("PASS  outcome 429 Retry-After: 7: returned RETRY, retry after 7000 ms"), "\(run.output)")
        #expect(run.output.contains("PASS  outcome 429 Retry-After: HTTP date"), "\(run.output)")
        #expect(run.output.contains("PASS  outcome 400: returned PERMANENT"), "\(run.output)")
        #expect(!run.output.contains("FAIL"), "\(run.output)")
        #expect(!run.output.contains("CHECKKEY"), "the key leaked into the report")
    }

    /// A config mistake reaches the user through the C ABI as one clear line naming the key.
    @Test func pluginsCheckNamesAConfigMistake() async throws {
        let run = try await CollectorCLI.run([
            "plugins", "check", try BuildProducts.plugin("CanoOpsgenie"),
            "--config-json", #"{"api_key":"og-typo-7e1f-TYPOKEY","apiUrl":"https://api.eu.opsgenie.com"}"#,
        ])
        #expect(run.status != 0)
        #expect(run.output.contains("FAIL  create: create() failed: unknown config key \"apiUrl\" (known: api_key, api_url,"), "\(run.output)")
        #expect(!run.output.contains("TYPOKEY"), "the key leaked into the report")
    }
}
