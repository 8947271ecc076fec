import CanoSDK
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The real `cano-collector run` as a subprocess: crash (kill -9), SIGTERM drain, and a
/// restart with a full outbox. Alerts go in through `/api/alerts`, out through the Webhook
/// plugin (`libCanoWebhook.so`) to the scripted double.
@Suite(.serialized) struct ProcessTests {
    /// A config with one webhook destination pointing at `url`.
    func config(url: String, workers: Int = 2, queueLimit: Int = 10_000, grace: String = "10s") throws -> String {
        """
        data_dir: "{{data_dir}}"
        server:
          host: 127.0.0.1
          port: {{port}}
          shutdown_grace: \(grace)
        plugins:
          paths: ["\(try BuildProducts.plugin("CanoWebhook"))"]
        destinations:
          - name: hook
            type: webhook
            config:
              url: "\(url)"
              timeout: 5s
            delivery:
              workers: \(workers)
              queue_limit: \(queueLimit)
              initial_backoff: 10ms
              max_backoff: 50ms
              max_attempts: 1000
        default_destinations: [hook]
        default_notify: {group_by: []}   # one delivery per alert: these tests count them
        """
    }

    func deliveredFingerprints(_ server: ScriptedHTTPServer) -> [String] {
        server.delivered.compactMap { $0.issue?.fingerprint }
    }

    @Test func aTakenPortStopsTheStartWithACriticalLineNamingTheAddress() async throws {
        let server = try await ScriptedHTTPServer.start()
        let port = try #require(URLComponents(string: server.url)?.port)
        let collector = try await CollectorProcess(configYAML: try config(url: server.url), port: port, waitReady: false)
        try await collector.waitForExit()
        #expect(collector.exitStatus == 1)
        let critical = collector.log.split(separator: "\n").filter { $0.contains(#""level":"critical""#) }
        #expect(critical.count == 1, "\(collector.log)")
        #expect(critical.first?.contains("cannot listen on 127.0.0.1:\(port) (server.host, server.port): the address is already in use") == true, "\(collector.log)")
        #expect(server.requests.isEmpty)
        await server.stop()
    }

    @Test func aDataDirectoryThatCannotBeCreatedIsNamed() async throws {
        let yaml = try config(url: "http://127.0.0.1:9/unused").replacingOccurrences(of: #"data_dir: "{{data_dir}}""#, with: #"data_dir: "/proc/self/cano-data""#)
        let collector = try await CollectorProcess(configYAML: yaml, waitReady: false)
        try await collector.waitForExit()
        #expect(collector.exitStatus == 1)
        let critical = collector.log.split(separator: "\n").filter { $0.contains(#""level":"critical""#) }
        #expect(critical.count == 1, "\(collector.log)")
        #expect(critical.first?.contains("cannot create data_dir /proc/self/cano-data: ") == true, "\(collector.log)")
        #expect(critical.first?.contains("NSCocoaErrorDomain") == false)
    }

    @Test func killDuringDeliveryThenRestartDeliversEverythingAtMostInFlightTwice() async throws {
        let server = try await ScriptedHTTPServer.start()
        // Slow answers keep deliveries in flight when the kill comes.
        server.setDefault(.slow(.milliseconds(300), status: 200))
        let yaml = try config(url: server.url)
        let first = try await CollectorProcess(configYAML: yaml)
        let fingerprints = (0..<20).map { String(format: "%016x", 0xA000 + $0) }
        let response = try first.postAlerts(WebhookBody.firing(alertname: "ProcessTest", fingerprints: fingerprints))
        #expect(response.status == 200)
        try await waitUntil("deliveries in flight") { server.requests.count >= 3 }
        first.signal(SIGKILL)
        try await first.waitForExit()
        // The kill came mid-way: some alerts were not delivered yet.
        let deliveredBeforeRestart = Set(deliveredFingerprints(server))
        #expect(deliveredBeforeRestart.count < fingerprints.count)

        server.setDefault(.status(200))
        let second = try await CollectorProcess(configYAML: yaml, directory: first.directory)
        try await waitUntil("every accepted alert delivered", timeout: .seconds(30)) {
            Set(deliveredFingerprints(server)) == Set(fingerprints)
        }
        let delivered = deliveredFingerprints(server)
        let repeats = delivered.count - Set(delivered).count
        // At most the deliveries in flight at the kill (2 workers) are sent twice.
        #expect(repeats <= 2)
        // Repeats carry the same idempotency key, so the receiver can drop them.
        let keysByFingerprint = Dictionary(grouping: server.delivered, by: { $0.issue?.fingerprint ?? "" })
            .mapValues { Set($0.compactMap { $0.header("Idempotency-Key") }) }
        #expect(keysByFingerprint.values.allSatisfy { $0.count == 1 })
        second.signal(SIGTERM)
        try await second.waitForExit()
        await server.stop()
    }

    @Test func sigtermDrainsInFlightAndKeepsTheRestForTheNextStart() async throws {
        let server = try await ScriptedHTTPServer.start()
        server.setDefault(.slow(.milliseconds(500), status: 200))
        let yaml = try config(url: server.url, workers: 1)
        let first = try await CollectorProcess(configYAML: yaml)
        let fingerprints = (0..<10).map { String(format: "%016x", 0xB000 + $0) }
        #expect(try first.postAlerts(WebhookBody.firing(alertname: "ProcessTest", fingerprints: fingerprints)).status == 200)
        try await waitUntil("a delivery in flight") { server.requests.count >= 1 }
        first.signal(SIGTERM)
        try await first.waitForExit(timeout: 15)
        #expect(first.exitStatus == 0)
        let sentBeforeStop = server.requests.count
        #expect(sentBeforeStop < 10)

        server.setDefault(.status(200))
        let second = try await CollectorProcess(configYAML: yaml, directory: first.directory)
        try await waitUntil("the rest delivered after restart", timeout: .seconds(30)) {
            Set(deliveredFingerprints(server)) == Set(fingerprints)
        }
        // The drained in-flight calls were recorded: nothing is sent twice.
        #expect(deliveredFingerprints(server).count == 10, "\(deliveredFingerprints(server))\nFIRST\n\(first.log)\nSECOND\n\(second.log)")
        second.signal(SIGTERM)
        try await second.waitForExit()
        await server.stop()
    }

    @Test func restartWithAFullOutboxKeepsTheOverflowAsADeadLetterThenAResendDeliversIt() async throws {
        let server = try await ScriptedHTTPServer.start()
        server.setDefault(.status(503))
        let yaml = try config(url: server.url, queueLimit: 5)
        let first = try await CollectorProcess(configYAML: yaml)
        let accepted = (0..<5).map { String(format: "%016x", 0xC000 + $0) }
        #expect(try first.postAlerts(WebhookBody.firing(alertname: "ProcessTest", fingerprints: accepted)).status == 200)
        let overflow = [String(format: "%016x", 0xCFFF)]
        // Accepted (a 503 would make Alertmanager hold back every other destination too).
        #expect(try first.postAlerts(WebhookBody.firing(alertname: "ProcessTest", fingerprints: overflow)).status == 200)
        first.signal(SIGKILL)
        try await first.waitForExit()

        let second = try await CollectorProcess(configYAML: yaml, directory: first.directory)
        let dataDir = first.directory.appendingPathComponent("data").path
        #expect(try await CollectorCLI.run(["deliveries", "list", "--failed", "--data-dir", dataDir]).output.contains("queue full"))
        server.setDefault(.status(200))
        try await waitUntil("the queued alerts delivered", timeout: .seconds(30)) {
            Set(deliveredFingerprints(server)) == Set(accepted)
        }
        // Alertmanager's resend of the still-firing alert revives its dead letter.
        #expect(try second.postAlerts(WebhookBody.firing(alertname: "ProcessTest", fingerprints: overflow)).status == 200)
        try await waitUntil("the overflow alert delivered") { Set(deliveredFingerprints(server)) == Set(accepted + overflow) }
        #expect(deliveredFingerprints(server).count == 6, "\(deliveredFingerprints(server)) \(second.log)")
        second.signal(SIGTERM)
        try await second.waitForExit()
        await server.stop()
    }

    @Test func deadLettersAreListedAndRetriedFromTheCommandLine() async throws {
        let server = try await ScriptedHTTPServer.start()
        server.enqueue([.status(400)])
        let collector = try await CollectorProcess(configYAML: try config(url: server.url))
        let fingerprint = "00000000000dead1"
        #expect(try collector.postAlerts(WebhookBody.firing(alertname: "ProcessTest", fingerprints: [fingerprint])).status == 200)
        let dataDir = collector.directory.appendingPathComponent("data").path
        try await waitUntil("the dead letter listed") {
            try await CollectorCLI.run(["deliveries", "list", "--failed", "--data-dir", dataDir]).output.contains(fingerprint)
        }
        let listed = try await CollectorCLI.run(["deliveries", "list", "--failed", "--destination", "hook", "--data-dir", dataDir])
        #expect(listed.status == 0)
        #expect(listed.output.contains("permanent failure"))
        let metrics = try collector.get("/metrics").text
        #expect(metrics.contains("cano_dead_letters_total{destination=\"hook\"} 1"))

        let retried = try await CollectorCLI.run(["deliveries", "retry", "--all-failed", "--data-dir", dataDir])
        #expect(retried.status == 0)
        #expect(retried.output.contains("re-queued 1"))
        // The running collector picks the re-queued delivery up from the database.
        try await waitUntil("the retried dead letter delivered", timeout: .seconds(15)) { deliveredFingerprints(server) == [fingerprint] }
        try await waitUntil("no dead letters left") {
            try await CollectorCLI.run(["deliveries", "list", "--failed", "--data-dir", dataDir]).output.contains("no dead letters")
        }
        let unknown = try await CollectorCLI.run(["deliveries", "retry", "99999", "--data-dir", dataDir])
        #expect(unknown.status != 0)
        #expect(unknown.output.contains("not dead letters"))
        collector.signal(SIGTERM)
        try await collector.waitForExit()
        await server.stop()
    }
}
