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
        """
    }

    /// An Alertmanager v4 webhook body with one firing alert per fingerprint.
    func webhook(_ fingerprints: [String]) -> [UInt8] {
        let alerts = fingerprints.map { fp in
            """
            {"status":"firing","labels":{"alertname":"ProcessTest","fp":"\(fp)","severity":"critical","namespace":"default"},
             "annotations":{"summary":"process test \(fp)"},"startsAt":"2026-11-26T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",
             "generatorURL":"http://prometheus/graph","fingerprint":"\(fp)"}
            """
        }
        return Array("""
            {"version":"4","groupKey":"{}:{alertname=\\"ProcessTest\\"}","truncatedAlerts":0,"status":"firing","receiver":"cano",
             "groupLabels":{"alertname":"ProcessTest"},"commonLabels":{"alertname":"ProcessTest"},"commonAnnotations":{},
             "externalURL":"http://alertmanager:9093","alerts":[\(alerts.joined(separator: ","))]}
            """.utf8)
    }

    func deliveredFingerprints(_ server: ScriptedHTTPServer) -> [String] {
        server.delivered.compactMap { $0.issue?.fingerprint }
    }

    @Test func killDuringDeliveryThenRestartDeliversEverythingAtMostInFlightTwice() async throws {
        let server = try await ScriptedHTTPServer.start()
        // Slow answers keep deliveries in flight when the kill comes.
        server.setDefault(.slow(.milliseconds(300), status: 200))
        let yaml = try config(url: server.url)
        let first = try CollectorProcess(configYAML: yaml)
        let fingerprints = (0..<20).map { String(format: "%016x", 0xA000 + $0) }
        let response = try first.postAlerts(webhook(fingerprints))
        #expect(response.status == 200)
        try await waitUntil("deliveries in flight") { server.requests.count >= 3 }
        first.signal(SIGKILL)
        try first.waitForExit()
        // The kill came mid-way: some alerts were not delivered yet.
        let deliveredBeforeRestart = Set(deliveredFingerprints(server))
        #expect(deliveredBeforeRestart.count < fingerprints.count)

        server.setDefault(.status(200))
        let second = try CollectorProcess(configYAML: yaml, directory: first.directory)
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
        try second.waitForExit()
        await server.stop()
    }

    @Test func sigtermDrainsInFlightAndKeepsTheRestForTheNextStart() async throws {
        let server = try await ScriptedHTTPServer.start()
        server.setDefault(.slow(.milliseconds(500), status: 200))
        let yaml = try config(url: server.url, workers: 1)
        let first = try CollectorProcess(configYAML: yaml)
        let fingerprints = (0..<10).map { String(format: "%016x", 0xB000 + $0) }
        #expect(try first.postAlerts(webhook(fingerprints)).status == 200)
        try await waitUntil("a delivery in flight") { server.requests.count >= 1 }
        first.signal(SIGTERM)
        try first.waitForExit(timeout: 15)
        #expect(first.exitStatus == 0)
        let sentBeforeStop = server.requests.count
        #expect(sentBeforeStop < 10)

        server.setDefault(.status(200))
        let second = try CollectorProcess(configYAML: yaml, directory: first.directory)
        try await waitUntil("the rest delivered after restart", timeout: .seconds(30)) {
            Set(deliveredFingerprints(server)) == Set(fingerprints)
        }
        // The drained in-flight calls were recorded: nothing is sent twice.
        #expect(deliveredFingerprints(server).count == 10)
        second.signal(SIGTERM)
        try second.waitForExit()
        await server.stop()
    }

    @Test func restartWithAFullOutboxKeepsRefusingThenDeliversAll() async throws {
        let server = try await ScriptedHTTPServer.start()
        server.setDefault(.status(503))
        let yaml = try config(url: server.url, queueLimit: 5)
        let first = try CollectorProcess(configYAML: yaml)
        let accepted = (0..<5).map { String(format: "%016x", 0xC000 + $0) }
        #expect(try first.postAlerts(webhook(accepted)).status == 200)
        let refused = [String(format: "%016x", 0xCFFF)]
        #expect(try first.postAlerts(webhook(refused)).status == 503)
        first.signal(SIGKILL)
        try first.waitForExit()

        let second = try CollectorProcess(configYAML: yaml, directory: first.directory)
        // Still full after the restart: the outbox survived, so intake still refuses.
        #expect(try second.postAlerts(webhook(refused)).status == 503)
        server.setDefault(.status(200))
        try await waitUntil("the queued alerts delivered", timeout: .seconds(30)) {
            Set(deliveredFingerprints(server)) == Set(accepted)
        }
        // Alertmanager retries the refused batch; now it fits.
        try await waitUntil("the refused alert accepted on retry") { try second.postAlerts(webhook(refused)).status == 200 }
        try await waitUntil("the refused alert delivered") { Set(deliveredFingerprints(server)) == Set(accepted + refused) }
        #expect(deliveredFingerprints(server).count == 6)
        second.signal(SIGTERM)
        try second.waitForExit()
        await server.stop()
    }

    /// Runs `cano-collector` with `arguments` to completion; returns its exit status and output.
    func runCLI(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BuildProducts.collector())
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func deadLettersAreListedAndRetriedFromTheCommandLine() async throws {
        let server = try await ScriptedHTTPServer.start()
        server.enqueue([.status(400)])
        let collector = try CollectorProcess(configYAML: try config(url: server.url))
        let fingerprint = "00000000000dead1"
        #expect(try collector.postAlerts(webhook([fingerprint])).status == 200)
        let dataDir = collector.directory.appendingPathComponent("data").path
        try await waitUntil("the dead letter listed") {
            try runCLI(["deliveries", "list", "--failed", "--data-dir", dataDir]).output.contains(fingerprint)
        }
        let listed = try runCLI(["deliveries", "list", "--failed", "--destination", "hook", "--data-dir", dataDir])
        #expect(listed.status == 0)
        #expect(listed.output.contains("permanent failure"))
        let metrics = try collector.get("/metrics").text
        #expect(metrics.contains("cano_dead_letters_total{destination=\"hook\"} 1"))

        let retried = try runCLI(["deliveries", "retry", "--all-failed", "--data-dir", dataDir])
        #expect(retried.status == 0)
        #expect(retried.output.contains("re-queued 1"))
        // The running collector picks the re-queued delivery up from the database.
        try await waitUntil("the retried dead letter delivered", timeout: .seconds(15)) { deliveredFingerprints(server) == [fingerprint] }
        try await waitUntil("no dead letters left") {
            try runCLI(["deliveries", "list", "--failed", "--data-dir", dataDir]).output.contains("no dead letters")
        }
        let unknown = try runCLI(["deliveries", "retry", "99999", "--data-dir", dataDir])
        #expect(unknown.status != 0)
        #expect(unknown.output.contains("not dead letters"))
        collector.signal(SIGTERM)
        try collector.waitForExit()
        await server.stop()
    }
}
