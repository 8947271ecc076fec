import CanoSDK
@testable import Collector
import Foundation
import Logging
import Testing
import TestSupport

/// A destination that cannot be created is loud at once (/readyz body, gauge, error log)
/// and its deliveries never wait silently: create is retried with backoff and they flow
/// once it works, or they are dead-lettered after max_age with the reason.
@Suite struct DestinationSupervisorTests {
    @Test func aSecretFileMountedAfterTheStartLetsTheQueuedDeliveriesFlow() async throws {
        let server = try await ScriptedHTTPServer.start()
        server.setDefault(.status(200))
        let yaml = """
            data_dir: "{{data_dir}}"
            server: {host: 127.0.0.1, port: {{port}}}
            plugins:
              paths: ["\(try BuildProducts.plugin("CanoWebhook"))"]
            destinations:
              - name: hook
                type: webhook
                config:
                  url: "\(server.url)"
                  hmac_secret_file: "{{dir}}/hmac-secret"
            default_destinations: [hook]
            default_notify: {group_by: []}   # one delivery per alert: the test counts them
            """
        let collector = try await CollectorProcess(configYAML: yaml)
        defer { collector.stop() }
        // Ready (it takes alerts), and loud about the destination that is not.
        let readyz = try collector.get("/readyz")
        #expect(readyz.status == 200)
        #expect(readyz.text.contains("failed destination hook: cannot read file"), "\(readyz.text)")
        #expect(try collector.get("/metrics").text.contains(#"cano_destination_ready{destination="hook"} 0"#))
        #expect(collector.log.contains("destination not created; its deliveries are queued and creating it is retried"))

        let fingerprints = (0..<3).map { String(format: "%016x", 0xD000 + $0) }
        #expect(try collector.postAlerts(WebhookBody.firing(alertname: "LateSecret", fingerprints: fingerprints)).status == 200)

        // The Secret is mounted late, with the newline a file-made Secret has.
        try "s3cret-key\n".write(toFile: collector.directory.appendingPathComponent("hmac-secret").path, atomically: true, encoding: .utf8)
        try await waitUntil("the queued deliveries delivered", timeout: .seconds(30)) {
            Set(server.delivered.compactMap { $0.issue?.fingerprint }) == Set(fingerprints)
        }
        #expect(try collector.get("/metrics").text.contains(#"cano_destination_ready{destination="hook"} 1"#))
        let after = try collector.get("/readyz")
        #expect(after.status == 200)
        #expect(!after.text.contains("failed destination"), "\(after.text)")
        await server.stop()
    }

    /// Issue 15 §1: a well-formed Slack token that Slack rejects was found only at the
    /// first dead letter. Now create's auth.test fails at start, loudly, and the rotated
    /// Secret is picked up by the create retries, so the queued alert reaches Slack.
    @Test func aSlackTokenSlackRejectsIsLoudAtStartAndARotatedTokenIsPickedUp() async throws {
        let good = "xoxb-2222-3333-ROTATEDtokenGOOD"
        let wrong = "xoxb-2222-3333-REVOKEDtokenBAD"
        let slack = try await SlackDouble.start(token: good)
        defer { slack.stop() }
        let yaml = """
            data_dir: "{{data_dir}}"
            server: {host: 127.0.0.1, port: {{port}}}
            plugins:
              paths: ["\(try BuildProducts.plugin("CanoSlack"))"]
            destinations:
              - name: chat
                type: slack
                config:
                  token_file: "{{dir}}/slack-token"
                  channel: "#alerts"
                  api_url: "\(slack.apiURL)"
            default_destinations: [chat]
            """
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cano-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try (wrong + "\n").write(toFile: directory.appendingPathComponent("slack-token").path, atomically: true, encoding: .utf8)
        let collector = try await CollectorProcess(configYAML: yaml, directory: directory)
        defer { collector.stop() }
        let readyz = try collector.get("/readyz")
        #expect(readyz.status == 200)
        #expect(readyz.text.contains("failed destination chat:") && readyz.text.contains("auth.test rejected the token: invalid_auth"), "\(readyz.text)")
        #expect(try collector.get("/metrics").text.contains(#"cano_destination_ready{destination="chat"} 0"#))
        #expect(try collector.postAlerts(WebhookBody.firing(alertname: "TokenRotated", fingerprints: ["00000000000e0001"])).status == 200)

        try (good + "\n").write(toFile: collector.directory.appendingPathComponent("slack-token").path, atomically: true, encoding: .utf8)
        try await waitUntil("the queued alert posted with the rotated token", timeout: .seconds(30)) { slack.messages.count == 1 }
        #expect(try collector.get("/metrics").text.contains(#"cano_destination_ready{destination="chat"} 1"#))
        assertNoSecret(wrong, in: collector.log.split(separator: "\n").map { LeakSurface("collector log", String($0)) })
    }

    @Test func deliveriesOfADestinationThatNeverComesUpAreDeadLetteredAfterMaxAgeWithTheReason() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-supervisor")
        defer { dir.remove() }
        let database = try CollectorSchema.open(path: dir.file("db.sqlite"))
        defer { database.close() }
        var policy = DeliveryPolicy()
        policy.maxAge = .milliseconds(200)
        let configs = [DestinationConfig(name: "broken", type: "slak", delivery: policy)]
        let metrics = Metrics()
        let readiness = Readiness()
        let logger = Logger(label: "test")
        var search = PluginSearchConfig()
        search.directories = [dir.path]
        let catalog = try PluginCatalog.scan(search)
        let supervisor = DestinationSupervisor(
            factory: DestinationFactory(catalog: catalog, services: PluginServices(logger: logger, store: InMemoryKeyValueStore(), metrics: metrics)),
            configs: configs, readiness: readiness, metrics: metrics, logger: logger,
            backoff: .init(initial: .milliseconds(20), maximum: .milliseconds(50)))
        let ready = await supervisor.createAll()
        #expect(ready.isEmpty)
        #expect(metrics.gauge("cano_destination_ready", ["destination": "broken"]) == 0)
        #expect(readiness.report.contains("failed destination broken: unknown destination type \"slak\""))

        let engine = DeliveryEngine(database: database, destinations: [], policies: ["broken": policy], metrics: metrics, logger: logger,
                                    pollInterval: .milliseconds(20))
        let outbox = Outbox(database: database, router: IssueRouter(routes: [], defaultDestinations: ["broken"]),
                            policies: ["broken": policy], metrics: metrics, logger: logger, onQueued: { engine.loadCommitted() })
        try engine.start()
        supervisor.start(engine: engine)
        _ = try await outbox.submit([alert("fp-never")])
        try await waitUntil("the delivery dead-lettered", timeout: .seconds(10)) {
            (try? engine.deadLetters(destination: "broken").count) == 1
        }
        let dead = try engine.deadLetters(destination: "broken")
        #expect(dead.first?.lastMessage?.hasPrefix("destination broken could not be created: unknown destination type \"slak\"") == true,
                "\(dead.first?.lastMessage ?? "")")
        supervisor.stop()
        await outbox.close()
        _ = await engine.drain(deadline: .now + .seconds(2))
    }
}
