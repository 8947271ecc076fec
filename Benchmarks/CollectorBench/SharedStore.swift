// Scenario 6 (issue 11): the shared store. The same ingest and latency measurements as
// scenarios 1 and 2 (their load generators and rig), for SQLite with one replica and for
// PostgreSQL with one and with three replicas of the same config, in the same run.
import CanoSDK
import Foundation
import TestSupport

/// One configuration of the shared-store scenario.
private struct StoreConfiguration {
    var postgres: Bool
    var replicas: Int
    var label: String { postgres ? "PostgreSQL" : "SQLite" }
    var key: String { "\(postgres ? "postgres" : "sqlite").\(replicas)" }
}

func sharedStoreScenario(_ scale: Scale) async throws -> Section {
    var section = Section(name: "shared", title: "6. Shared store: SQLite vs PostgreSQL with 1 and 3 replicas")
    let server = try await PostgresServer.shared
    let settings = try await durablePostgres(server)
    let latencyRate = 100
    let latencySeconds = scale.latencyRuns.first { $0.rate == latencyRate }?.seconds ?? 1
    let ingestSizes = scale.ingestAlerts.filter { [1, 50].contains($0.batch) }
    section.headers = ["store", "replicas"] + ingestSizes.flatMap { ["ingest alerts/s, batch \($0.batch)", "p/req ms, batch \($0.batch)"] }
        + ["latency alerts delivered", "not accepted", "p50 ms", "p99 ms", "max ms", "warnings / errors logged"]
    var logNotes: [String] = []
    var failures: [String] = []
    let configurations = [StoreConfiguration(postgres: false, replicas: 1), StoreConfiguration(postgres: true, replicas: 1),
                          StoreConfiguration(postgres: true, replicas: 3)]
    for configuration in configurations {
        var storage = ""
        if configuration.postgres {
            let url = try await server.makeDatabase(prefix: "bench_shared_\(configuration.replicas)")
            storage = "storage: {postgres: {url: \"\(url)\", claim_lease: 30s, pool_size: 4}}"
        }
        let rig = try await Rig(slackPacing: 0, enforceSlackRate: false, storage: storage, replicas: configuration.replicas, sink: true)
        do {
            var row = [configuration.label, String(configuration.replicas)]
            // Latency first, on the fresh store: the ingest runs leave a backlog for the sink.
            try await rig.warmUp(["webhook"])
            let latency = try await rig.latencyRun(dest: "webhook", rate: latencyRate, count: latencyRate * latencySeconds, tag: "shared-\(configuration.key)")
            if let missing = latency.incomplete { failures.append("\(configuration.label) × \(configuration.replicas) at \(latencyRate)/s: \(missing)") }
            latency.record("shared.\(configuration.key).latency\(latencyRate)", in: &section)
            let delivered = try rig.collectors.map { metricSum(try $0.get("/metrics").text, "cano_deliveries_total", ["destination=\"hook\"", "result=\"delivered\""]) }

            let startsAt = RFC3339.format(Date())
            var accepted = 0
            var ingestCells: [String] = []
            for (batch, alerts) in ingestSizes {
                let bodies = ingestBatches(batch: batch, alerts: alerts, tag: "s\(configuration.key)-", startsAt: startsAt).map(AlertBodies.webhook)
                let run = try await ingestRun("\(configuration.label) × \(configuration.replicas)", urls: rig.alertsURLs, bodies: bodies, batch: batch, scale: scale)
                accepted += run.alerts
                section.figures["shared.\(configuration.key).ingest.batch\(batch).alerts_per_s"] = run.alertsPerSecond
                ingestCells += [f0(run.alertsPerSecond), f2(run.msPerRequest)]
            }
            try checkQueued(rig.collectors, destination: "sink", expected: accepted)

            let problems = rig.collectors.enumerated().flatMap { replica, c in
                logProblems(c.log).map { "replica \(replica): \($0)" }
            }
            section.figures["shared.\(configuration.key).log_problems"] = Double(problems.count)
            if !problems.isEmpty {
                logNotes.append("\(configuration.label) × \(configuration.replicas), \(problems.count) warning/error lines, first ones: "
                    + problems.prefix(3).map { "`\($0.prefix(300))`" }.joined(separator: "; "))
            }
            row += ingestCells + [latency.deliveredCell, latency.notAcceptedCell, f2(latency.summary.p50), f2(latency.summary.p99), f2(latency.summary.max),
                                  String(problems.count)]
            section.rows.append(row)
            if configuration.replicas > 1 {
                section.notes.append("\(configuration.label) × \(configuration.replicas): the latency run's webhook deliveries (warm-up included) by replica: "
                    + delivered.map(f0).joined(separator: " / ") + ".")
            }
        } catch {
            keepLogs(rig.collectors, name: "shared-\(configuration.key)")
            await rig.stop()
            throw error
        }
        keepLogs(rig.collectors, name: "shared-\(configuration.key)")
        await rig.stop()
    }
    section.notes = [
        "Per configuration, in this order: a fresh store (SQLite in the replica's data_dir, or a new PostgreSQL database), warm-up, then \(latencyRate) alerts/s for \(latencySeconds) s through the Webhook plugin to the loopback receiver (as scenario 2: open loop, stamped send time, p50/p99/max ms), then ingest as scenario 1 (\(scale.ingestSenders) keep-alive senders, closed loop, batches of " + ingestSizes.map { "\($0.batch) (\($0.alerts) alerts)" }.joined(separator: " and ") + ", each run stopping after its alerts or \(scale.ingestTimeLimit)) into a `file` destination. cano_deliveries_queued_total, summed over the replicas, matched every accepted alert.",
        "Replicas: the same config (`storage: {postgres: {url, claim_lease: 30s, pool_size: 4}}`), each its own process, port and data_dir; request i goes to replica i mod N, whichever replica then claims and delivers it. All of them, PostgreSQL, the load generator and the doubles share this machine's \(ProcessInfo.processInfo.activeProcessorCount) cores.",
        "PostgreSQL: \(settings). SQLite: WAL, synchronous=FULL (fsync per group commit).",
    ] + section.notes + logNotes
    if !failures.isEmpty {
        section.passed = false
        section.error = failures.joined(separator: "; ")
    }
    return section
}

/// Makes a PostgreSQL this process started durable like SQLite's synchronous=FULL
/// (scripts/postgres.sh turns fsync, synchronous_commit and full_page_writes off for tests),
/// and returns the server's version and those settings. A server given by
/// CANO_TEST_POSTGRES_URL belongs to someone else: it is measured as it is.
func durablePostgres(_ server: PostgresServer) async throws -> String {
    if server.startedHere {
        for setting in ["fsync", "synchronous_commit", "full_page_writes"] {
            try await server.psql(server.adminURL, "ALTER SYSTEM SET \(setting) = on")
        }
        try await server.psql(server.adminURL, "SELECT pg_reload_conf()")
        // The reload is asynchronous: wait (bounded) until the setting shows.
        for _ in 0..<40 {
            if try await server.psql(server.adminURL, "SHOW fsync") == "on" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
    let version = try await server.psql(server.adminURL, "SHOW server_version")
    let values = try await server.psql(server.adminURL, """
        SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings
        WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'commit_delay', 'max_connections')
        """)
    return "server \(version) on loopback (\(server.startedHere ? "started by the benchmark (scripts/postgres.sh), then made durable" : "given by CANO_TEST_POSTGRES_URL, settings as found")): \(values)"
}

/// The collector's log lines at level warning or above.
func logProblems(_ log: String) -> [String] {
    let marks = ["warning", "error", "critical"].flatMap { ["\"level\":\"\($0)\"", "\"level\": \"\($0)\""] }
    return log.split(separator: "\n").filter { line in marks.contains { line.contains($0) } }.map(String.init)
}

/// With CANO_BENCH_LOG_DIR set, copies each replica's log there (`<name>-<replica>.log`)
/// before the rig's folders are deleted.
func keepLogs(_ collectors: [CollectorProcess], name: String) {
    guard let dir = ProcessInfo.processInfo.environment["CANO_BENCH_LOG_DIR"], !dir.isEmpty else { return }
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for (replica, c) in collectors.enumerated() { try? c.log.write(toFile: "\(dir)/\(name)-\(replica).log", atomically: true, encoding: .utf8) }
}
