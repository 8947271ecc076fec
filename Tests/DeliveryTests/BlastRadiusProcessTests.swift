import CanoSDK
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Issue #19 with the real binary: a plugin loaded in process that segfaults on one Issue,
/// and one that never returns, next to a healthy Webhook destination. (The same plugins under
/// `isolation: process` are tested in IsolationProcessTests.)
@Suite(.serialized) struct BlastRadiusProcessTests {
    /// A config with the C fixture plugin `plugin` as destination `bad` and a Webhook
    /// destination `hook`, both on the default route.
    func config(plugin: String, hookURL: String, badQueueLimit: Int = 10_000, grace: String = "10s") throws -> String {
        """
        data_dir: "{{data_dir}}"
        server: {host: 127.0.0.1, port: {{port}}, shutdown_grace: \(grace)}
        plugins:
          paths: ["\(plugin)", "\(try BuildProducts.plugin("CanoWebhook"))"]
        destinations:
          - name: bad
            type: \(plugin.hasSuffix("hangs.so") ? "hangs" : "poisoned")
            isolation: in_process     # what is contained here is the in-process case
            delivery: {workers: 1, queue_limit: \(badQueueLimit), initial_backoff: 10ms, max_backoff: 50ms, timeout: 1s}
          - name: hook
            type: webhook
            config: {url: "\(hookURL)", timeout: 5s}
            delivery: {initial_backoff: 10ms, max_backoff: 50ms}
        default_destinations: [bad, hook]
        default_notify: {group_by: []}   # one Issue per alert: this test counts them, not groups
        """
    }

    func deliveredTitles(_ server: ScriptedHTTPServer) -> Set<String> {
        Set(server.delivered.compactMap { $0.issue?.title })
    }

    @Test func aSegfaultingPluginIsQuarantinedAfterTwoCrashesAndTheWebhookKeepsDelivering() async throws {
        let server = try await ScriptedHTTPServer.start()
        let directory = try TemporaryDirectory(prefix: "cano-poison")
        let plugin = try await CPluginCompiler.compile(CPluginCompiler.fixture("crashes_on_poison.c"), into: directory.path, as: "libpoisoned.so")
        let yaml = try config(plugin: plugin, hookURL: server.url)

        // Run 1 accepts the alerts, then the plugin segfaults on the poison one.
        let first = try await CollectorProcess(configYAML: yaml)
        // The crash may come before the 200 is written (the delivery starts right after the
        // commit): then the sender sees a dropped connection and would resend, a duplicate.
        if let response = try? first.postAlerts(WebhookBody.firing(alertnames: ["PoisonAlert", "FineAlert"])) { #expect(response.status == 200) }
        try await first.waitForExit(timeout: 60)
        #expect(first.terminatingSignal == SIGSEGV)
        #expect(first.log.contains("in a plugin call for delivery"))

        // Run 2 (the kubelet's restart) calls it again and dies again.
        let second = try await CollectorProcess(configYAML: yaml, directory: first.directory, waitReady: false)
        try await second.waitForExit(timeout: 60)
        #expect(second.terminatingSignal == SIGSEGV)

        // Run 3 quarantines the poison Issue and comes up; both destinations flow.
        let third = try await CollectorProcess(configYAML: yaml, directory: first.directory)
        try await waitUntil("the webhook got both alerts", timeout: .seconds(30)) {
            deliveredTitles(server) == ["PoisonAlert", "FineAlert"]
        }
        let readyz = try third.get("/readyz")
        #expect(readyz.status == 200)
        #expect(readyz.text.contains("suspect destination bad: quarantined: the plugin crashed the process on this Issue (2 times)"))
        let metrics = try third.get("/metrics").text
        #expect(metrics.contains("cano_destination_suspect{destination=\"bad\"} 1"))
        #expect(metrics.contains("cano_deliveries_quarantined_total{destination=\"bad\"} 1"))
        let failed = try await CollectorCLI.run(["deliveries", "list", "--failed", "--data-dir", first.directory.appendingPathComponent("data").path]).output
        #expect(failed.contains("quarantined"))
        // New alerts still reach both destinations (the plugin only crashes on poison).
        #expect(try third.postAlerts(WebhookBody.firing(alertnames: ["LaterAlert"])).status == 200)
        try await waitUntil("a later alert delivered to the webhook") { deliveredTitles(server).contains("LaterAlert") }
        try await waitUntil("a later alert delivered by the plugin") {
            try third.get("/metrics").text.contains("cano_deliveries_total{destination=\"bad\",result=\"delivered\"}")
        }
        third.signal(SIGTERM)
        try await third.waitForExit()
        #expect(third.exitStatus == 0)
        await server.stop()
    }

    @Test func aHungPluginNeitherBlocksIntakeForOthersNorHoldsUpShutdown() async throws {
        let server = try await ScriptedHTTPServer.start()
        let directory = try TemporaryDirectory(prefix: "cano-hang")
        let plugin = try await CPluginCompiler.compile(CPluginCompiler.fixture("hangs.c"), into: directory.path, as: "libhangs.so")
        let collector = try await CollectorProcess(configYAML: try config(plugin: plugin, hookURL: server.url, badQueueLimit: 2, grace: "2s"))
        // Ten webhooks, one alert each: the hung destination's queue fills after two, and
        // intake keeps answering 200 for the healthy one.
        let names = (0..<10).map { "Stuck\($0)" }
        for name in names {
            #expect(try collector.postAlerts(WebhookBody.firing(alertnames: [name])).status == 200)
        }
        try await waitUntil("the webhook got every alert", timeout: .seconds(30)) { deliveredTitles(server) == Set(names) }
        let metrics = try collector.get("/metrics").text
        #expect(metrics.contains("cano_queue_overflow_total{destination=\"bad\"} 8"))
        #expect(metrics.contains("cano_deliveries_in_flight{destination=\"bad\"} 1"))

        let started = ContinuousClock.now
        collector.signal(SIGTERM)
        try await collector.waitForExit(timeout: 30)
        #expect(ContinuousClock.now - started < .seconds(2 + 5))
        #expect(collector.exitStatus == 0)
        #expect(collector.log.contains("plugin stuck in a call at shutdown"))
        #expect(collector.log.contains("\"plugin\":\"hangs\""))

        // The abandoned call stays queued, and was not counted as a crash.
        let pending = try await CollectorCLI.run(["deliveries", "list", "--data-dir", collector.directory.appendingPathComponent("data").path]).output
        #expect(!pending.contains("quarantined"))
        await server.stop()
    }
}
