import CanoSDK
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The real `cano-collector run` with a segfaulting plugin under `isolation: process` next
/// to a Webhook destination: the crashes stay in the plugin's child process.
@Suite(.serialized) struct IsolationProcessTests {
    @Test func aCrashingIsolatedPluginLeavesTheCollectorAndTheWebhookDestinationWorking() async throws {
        let server = try await ScriptedHTTPServer.start()
        server.setDefault(.status(200))
        let plugins = try TemporaryDirectory(prefix: "cano-isolation")
        defer { plugins.remove() }
        let crashes = try await CPluginCompiler.compile(CPluginCompiler.fixture("crashes.c"), into: plugins.path, as: "crashes.so")
        let collector = try await CollectorProcess(configYAML: """
            data_dir: "{{data_dir}}"
            server: {host: 127.0.0.1, port: {{port}}, shutdown_grace: 2s}
            plugins:
              paths: ["\(try BuildProducts.plugin("CanoWebhook"))", "\(crashes)"]
            destinations:
              - name: hook
                type: webhook
                config: {url: "\(server.url)", timeout: 5s}
                delivery: {initial_backoff: 10ms, max_backoff: 50ms}
              - name: crashy
                type: crashes
                isolation: process
                delivery: {initial_backoff: 10ms, max_backoff: 50ms}
            default_destinations: [hook, crashy]
            default_notify: {group_by: []}   # one Issue per alert: this test counts them, not groups
            """)
        defer { collector.stop() }

        let fingerprints = (0..<5).map { String(format: "%016x", 0xB000 + $0) }
        #expect(try collector.postAlerts(WebhookBody.firing(alertname: "IsolationTest", fingerprints: fingerprints)).status == 200)
        try await waitUntil("every alert delivered to the webhook", timeout: .seconds(30)) {
            Set(server.delivered.compactMap { $0.issue?.fingerprint }) == Set(fingerprints)
        }
        // The plugin's child crashed, more than once (it is restarted after each crash), and
        // the collector itself never did.
        try await waitUntil("two crashes of the isolated plugin", timeout: .seconds(30)) {
            collector.log.components(separatedBy: "isolated plugin process died").count - 1 >= 2
        }
        #expect(collector.isRunning)
        #expect(try collector.get("/readyz").status == 200)
        #expect(collector.log.contains("signal 11"))

        // And alerts posted after the crashes still flow.
        let later = String(format: "%016x", 0xB100)
        #expect(try collector.postAlerts(WebhookBody.firing(alertname: "IsolationTest", fingerprints: [later])).status == 200)
        try await waitUntil("a later alert delivered", timeout: .seconds(30)) {
            server.delivered.contains { $0.issue?.fingerprint == later }
        }
        #expect(collector.isRunning)
        await server.stop()
    }
}
