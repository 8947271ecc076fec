import CanoSDK
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Issue 11's HA scenarios: 2 or 3 real `cano-collector` processes share one real
/// PostgreSQL database (each with its own data directory, as the chart's pods have) and
/// deliver to the Slack double (message semantics) or the scripted Webhook receiver (load:
/// the Slack double enforces Slack's posting pace of about one message per second per
/// channel, which would make a 1,000-alert scenario a quarter-hour test).
@Suite(.serialized) struct SharedStateProcessTests {
    static let slackToken = "xoxb-ha-0000-SLACKhaTOKEN"
    /// In the database URL of every config: the server trusts loopback and ignores it,
    /// so it works, and no log, metric or page may show it.
    static let databasePassword = "pgPASSWORDha"

    /// A replica's config: the shared database, a short claim lease (takeover after a
    /// kill in seconds, not half a minute) and one destination.
    /// `lease`: short where a test waits for a takeover after a kill; longer under load, where
    /// a replica starved of CPU on the test machine must not lose its claims.
    func config(databaseURL: String, destination: String, lease: String = "3s", poolSize: Int = 4) -> String {
        """
        data_dir: "{{data_dir}}"
        server: {host: 127.0.0.1, port: {{port}}, shutdown_grace: 5s}
        storage:
          postgres:
            url: "${CANO_HA_DATABASE_URL}"
            claim_lease: \(lease)
            pool_size: \(poolSize)
        \(destination)
        """
    }

    func slackDestination(_ slack: SlackDouble) throws -> String {
        """
        plugins: {paths: ["\(try BuildProducts.plugin("CanoSlack"))"]}
        destinations:
          - name: slack
            type: slack
            config: {token: "${HA_SLACK_TOKEN}", channel: "#alerts", api_url: "\(slack.apiURL)"}
        default_destinations: [slack]
        default_notify: {group_by: []}   # per-alert messages: these tests count and order them
        """
    }

    func webhookDestination(_ server: ScriptedHTTPServer, workers: Int = 2) throws -> String {
        """
        plugins: {paths: ["\(try BuildProducts.plugin("CanoWebhook"))"]}
        destinations:
          - name: hook
            type: webhook
            config: {url: "\(server.url)", timeout: 5s}
            delivery: {workers: \(workers), initial_backoff: 50ms, max_backoff: 500ms, max_attempts: 100000}
        default_destinations: [hook]
        default_notify: {group_by: []}   # per-alert messages: these tests count and order them
        """
    }

    /// A fresh database on `server` (the shared one by default) and its URL with a password in it.
    func database(on server: PostgresServer? = nil) async throws -> String {
        var target = server
        if target == nil { target = try await PostgresServer.shared }
        let server = target!
        let url = try await server.makeDatabase(prefix: "ha")
        return url.replacingOccurrences(of: "postgres://postgres@", with: "postgres://postgres:\(Self.databasePassword)@")
    }

    func replicas(_ count: Int, yaml: String, databaseURL: String) async throws -> [CollectorProcess] {
        var result: [CollectorProcess] = []
        for _ in 0..<count {
            result.append(try await CollectorProcess(configYAML: yaml, environment: [
                "CANO_HA_DATABASE_URL": databaseURL, "HA_SLACK_TOKEN": Self.slackToken,
            ]))
        }
        return result
    }

    /// Stops every replica and checks that no output, metric or readiness page shows the
    /// database password or the Slack token.
    func stopAndCheckSecrets(_ replicas: [CollectorProcess]) throws {
        var texts: [String] = []
        for replica in replicas where replica.isRunning {
            texts.append((try? replica.get("/metrics").text) ?? "")
            texts.append((try? replica.get("/readyz").text) ?? "")
        }
        for replica in replicas { replica.stop() }
        texts += replicas.map(\.log)
        for text in texts {
            #expect(!text.contains(Self.databasePassword), "the database password leaked")
            #expect(!text.contains("SLACKhaTOKEN"), "the Slack token leaked")
        }
    }

    func post(_ replica: CollectorProcess, _ body: [UInt8]) throws {
        let response = try replica.postAlerts(body)
        #expect(response.status == 200, "HTTP \(response.status): \(response.text)")
    }

    // MARK: Scenarios

    @Test func theSameFiringPostedToEveryReplicaIsPostedToSlackOnce() async throws {
        let slack = try await SlackDouble.start(token: Self.slackToken)
        defer { slack.stop() }
        let url = try await database()
        let all = try await replicas(3, yaml: config(databaseURL: url, destination: try slackDestination(slack)), databaseURL: url)
        defer { for r in all { r.stop() } }
        let body = WebhookBody.firing(alertname: "KubePodCrashLooping", fingerprints: ["00000000000ha001"])
        // As HA Alertmanager does: every replica of it notifies, each reaching another pod.
        for replica in all { try post(replica, body) }
        try await waitUntil("the message in Slack", timeout: .seconds(30)) { !slack.messages.isEmpty }
        // Dedup is settled in the store at intake: all three notifications were committed
        // before the first message, so a second post could only come from a second row.
        try await waitUntil("nothing left queued", timeout: .seconds(30)) {
            try await PostgresServer.shared.psql(url, "SELECT count(*) FROM deliveries WHERE state <> 'delivered'") == "0"
        }
        #expect(try await PostgresServer.shared.psql(url, "SELECT count(*) FROM deliveries") == "1")
        // One top-level message (its thread may carry the details).
        #expect(slack.calls("chat.postMessage").filter { $0.fields["thread_ts"] == nil }.count == 1)
        #expect(slack.messages.filter { $0.threadTS == nil }.count == 1)
        // The operators' CLI reads the shared store through the same config.
        let cli = try await CollectorCLI.run(["deliveries", "list", "--config", all[1].configPath],
                                             environment: ["CANO_HA_DATABASE_URL": url, "HA_SLACK_TOKEN": Self.slackToken])
        #expect(cli.status == 0, "\(cli.output)")
        #expect(cli.output.contains("delivered") && cli.output.contains("00000000000ha001"), "\(cli.output)")
        #expect(!cli.output.contains(Self.databasePassword))
        try stopAndCheckSecrets(all)
    }

    @Test func aResolveAcceptedByBUpdatesTheMessageAPosted() async throws {
        let slack = try await SlackDouble.start(token: Self.slackToken)
        defer { slack.stop() }
        let url = try await database()
        let all = try await replicas(2, yaml: config(databaseURL: url, destination: try slackDestination(slack)), databaseURL: url)
        defer { for r in all { r.stop() } }
        let fingerprints = ["00000000000ha002"]
        // The resolve reaches B right behind the firing on A, before A has delivered it:
        // it must wait for the firing, then update A's message with A's reference.
        try post(all[0], WebhookBody.firing(alertname: "KubePodCrashLooping", fingerprints: fingerprints))
        try post(all[1], WebhookBody.resolved(alertname: "KubePodCrashLooping", fingerprints: fingerprints))
        try await waitUntil("the original message updated", timeout: .seconds(30)) { !slack.calls("chat.update").isEmpty }
        let root = try #require(slack.messages.first { $0.threadTS == nil })
        let update = try #require(slack.calls("chat.update").first)
        #expect(update.error == nil)
        #expect(update.fields["ts"]?.stringValue == root.ts)
        #expect(slack.calls("chat.postMessage").filter { $0.fields["thread_ts"] == nil }.count == 1, "no second top-level post")
        #expect(slack.messages.filter { $0.threadTS == nil }.count == 1)
        try stopAndCheckSecrets(all)
    }

    @Test func aReplicaKilledDuringDeliveryIsFinishedByTheOthers() async throws {
        let server = try await ScriptedHTTPServer.start()
        // Slow answers keep deliveries in flight when the kill comes.
        server.setDefault(.slow(.milliseconds(200), status: 200))
        let url = try await database()
        let all = try await replicas(3, yaml: config(databaseURL: url, destination: try webhookDestination(server)), databaseURL: url)
        defer { for r in all { r.stop() } }
        let fingerprints = (0..<90).map { String(format: "%016x", 0xB000 + $0) }
        for (index, chunk) in stride(from: 0, to: fingerprints.count, by: 10).enumerated() {
            try post(all[index % 3], WebhookBody.firing(alertname: "HAKill", fingerprints: Array(fingerprints[chunk..<min(chunk + 10, fingerprints.count)])))
        }
        try await waitUntil("deliveries in flight", timeout: .seconds(20)) { server.requests.count >= 6 }
        all[0].signal(SIGKILL)
        try await all[0].waitForExit()
        // The claim lease (3 s) lapses and the two others take the dead replica's work over.
        try await waitUntil("every accepted alert delivered", timeout: .seconds(60)) {
            Set(server.delivered.compactMap { $0.issue?.fingerprint }) == Set(fingerprints)
        }
        let delivered = server.delivered.compactMap { $0.issue?.fingerprint }
        // At most what the killed replica had in a call (2 workers) is delivered twice.
        #expect(delivered.count - Set(delivered).count <= 2)
        try stopAndCheckSecrets(all)
    }

    @Test func aThousandDeliveriesOverThreeReplicasThroughAnOutageArriveOnceInOrder() async throws {
        let server = try await ScriptedHTTPServer.start()
        server.setDefault(.status(503))
        let url = try await database()
        let all = try await replicas(3, yaml: config(databaseURL: url, destination: try webhookDestination(server, workers: 4), lease: "15s", poolSize: 8),
                                     databaseURL: url)
        defer { for r in all { r.stop() } }
        // 500 fingerprints, firing then resolved: 1,000 deliveries. A fingerprint's firing
        // and its resolve reach different replicas.
        let fingerprints = (0..<500).map { String(format: "%016x", 0xC000 + $0) }
        let chunks = stride(from: 0, to: fingerprints.count, by: 50).map { Array(fingerprints[$0..<min($0 + 50, fingerprints.count)]) }
        let outageStart = ContinuousClock.now
        for (index, chunk) in chunks.enumerated() { try post(all[index % 3], WebhookBody.firing(alertname: "HAOutage", fingerprints: chunk)) }
        for (index, chunk) in chunks.enumerated() { try post(all[(index + 1) % 3], WebhookBody.resolved(alertname: "HAOutage", fingerprints: chunk)) }
        // The destination answers 503 for 20 s (the scenario's outage, not a wait for a state).
        try await Task.sleep(until: outageStart + .seconds(20))
        #expect(server.delivered.isEmpty)
        server.setDefault(.status(200))
        try await waitUntil("all 1,000 deliveries", timeout: .seconds(90)) { Set(server.delivered.map(Self.key)).count == 1000 }
        let delivered = server.delivered.map(Self.key)
        #expect(delivered.count == 1000, "each delivered once: \(delivered.count - Set(delivered).count) repeats")
        // In order per fingerprint: each firing reached the receiver before its resolve.
        var firstArrival: [String: Int] = [:]
        for (index, key) in delivered.enumerated() where firstArrival[key] == nil { firstArrival[key] = index }
        let outOfOrder = fingerprints.filter { (firstArrival[$0 + "/firing"] ?? .max) > (firstArrival[$0 + "/resolved"] ?? .max) }
        #expect(outOfOrder.isEmpty, "resolved before firing: \(outOfOrder.prefix(5))")
        try stopAndCheckSecrets(all)
    }

    static func key(_ r: ScriptedHTTPServer.Recorded) -> String {
        "\(r.issue?.fingerprint ?? "?")/\(r.issue?.status.rawValue ?? "?")"
    }

    @Test func postgresRestartedMidLoadLosesNothingAcknowledged() async throws {
        let server = try await ScriptedHTTPServer.start()
        server.setDefault(.slow(.milliseconds(10), status: 200))
        // A server of its own: the restart cuts every connection to it.
        let postgres = try await PostgresServer.dedicated()
        let url = try await database(on: postgres)
        let all = try await replicas(2, yaml: config(databaseURL: url, destination: try webhookDestination(server)), databaseURL: url)
        defer { for r in all { r.stop() } }
        let fingerprints = (0..<200).map { String(format: "%016x", 0xD000 + $0) }
        var acknowledged: Set<String> = []
        let restart = Task { try await postgres.restart() }
        for (index, start) in stride(from: 0, to: fingerprints.count, by: 10).enumerated() {
            let chunk = Array(fingerprints[start..<start + 10])
            // Alertmanager's behaviour: a 503 is retried until it is accepted.
            let deadline = ContinuousClock.now + .seconds(60)
            while true {
                let response: HTTPResponse
                do {
                    response = try all[index % 2].postAlerts(WebhookBody.firing(alertname: "HARestart", fingerprints: chunk))
                } catch {
                    // No answer within the client's 10 s while the database restarts (seen
                    // in loaded runs): Alertmanager retries such a send as it does a 503,
                    // and only a 200 counts as acknowledged. What a slow answer means for
                    // latency is not this test's question; losing nothing acknowledged is.
                    guard ContinuousClock.now < deadline else { throw error }
                    continue
                }
                if response.status == 200 { acknowledged.formUnion(chunk); break }
                #expect(response.status == 503, "HTTP \(response.status): \(response.text)")
                #expect(response.header("Retry-After") != nil)
                guard ContinuousClock.now < deadline else {
                    Testing.Issue.record("the intake did not accept again within 60 s of the restart")
                    return
                }
                try await Task.sleep(for: .milliseconds(100))  // Alertmanager's retry pace, not a synchronisation
            }
        }
        try await restart.value
        do {
            try await waitUntil("every acknowledged alert delivered", timeout: .seconds(60)) {
                acknowledged.isSubset(of: Set(server.delivered.compactMap { $0.issue?.fingerprint }))
            }
        } catch {
            // Seen once under a loaded CI-like run (and not in 5 runs since): say what was
            // left and where, for whoever meets it next.
            let missing = acknowledged.subtracting(server.delivered.compactMap { $0.issue?.fingerprint })
            let engines = all.enumerated().map { index, replica in
                let metrics = ((try? replica.get("/metrics").text) ?? "(no answer)").split(separator: "\n")
                    .filter { $0.hasPrefix("cano_queue_depth") || $0.hasPrefix("cano_deliveries_total") || $0.hasPrefix("cano_store") }
                return "replica \(index) (running: \(replica.isRunning)):\n\(metrics.joined(separator: "\n"))\nlog tail:\n\(replica.log.suffix(2000))"
            }
            Testing.Issue.record("\(missing.count) acknowledged alerts not delivered, e.g. \(missing.sorted().prefix(5));\n\(engines.joined(separator: "\n"))")
            throw error
        }
        #expect(acknowledged.count == fingerprints.count)
        try stopAndCheckSecrets(all)
        try await postgres.destroy()
    }

    @Test func anUnreachableDatabaseAtStartMakesReadyz503AndTheIntakeAskForARetry() async throws {
        let port = try freeLoopbackPort()  // nothing listens there
        let url = "postgres://cano:\(Self.databasePassword)@127.0.0.1:\(port)/cano"
        let server = try await ScriptedHTTPServer.start()
        let replica = try await CollectorProcess(
            configYAML: config(databaseURL: url, destination: try webhookDestination(server)), waitReady: false,
            environment: ["CANO_HA_DATABASE_URL": url])
        defer { replica.stop() }
        try await waitUntil("/readyz to answer", timeout: .seconds(30)) { (try? replica.get("/readyz")) != nil }
        let readyz = try replica.get("/readyz")
        #expect(readyz.status == 503)
        #expect(readyz.text.contains("storage unavailable"), "\(readyz.text)")
        #expect(readyz.text.contains("127.0.0.1:\(port)"), "the reason names the server: \(readyz.text)")
        let response = try replica.postAlerts(WebhookBody.firing(alertname: "HADown", fingerprints: ["00000000000ha0ff"]))
        #expect(response.status == 503)
        #expect(response.header("Retry-After") != nil)
        #expect(replica.log.contains("PostgreSQL is unreachable"))
        try stopAndCheckSecrets([replica])
    }
}
