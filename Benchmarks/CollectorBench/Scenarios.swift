// The five scenarios of issue 8. Each returns a Section or throws; every loop is bounded
// in count and in time.
import CanoSDK
import Collector
import Foundation
import Logging
import TestSupport

// MARK: 1. Ingest

/// The `file` destination the ingest runs queue to (a flow-style element of `destinations:`):
/// cheap to deliver, so what is measured is the intake and its durable commit.
let ingestSinkDestination = #"- {name: sink, type: file, config: {path: "{{dir}}/delivered.jsonl"}, delivery: {queue_limit: 10000000}}"#

/// `alerts / batch` batches of `batch` distinct crash-loop alerts (keys `<tag><batch>-<b>-<i>`).
func ingestBatches(batch: Int, alerts: Int, tag: String = "i", startsAt: String) -> [[BenchAlert]] {
    (0..<(alerts / batch)).map { b in
        (0..<batch).map { i in AlertBodies.crashLoop("\(tag)\(batch)-\(b)-\(i)", namespace: "ns-\(i % 20)", startsAt: startsAt) }
    }
}

/// One closed-loop ingest run at one batch size.
struct IngestRun {
    var load: LoadResult
    var batch: Int
    /// Alerts answered 200.
    var alerts: Int { load.ok * batch }
    var alertsPerSecond: Double { Double(alerts) / seconds(load.elapsed) }
    /// The mean time per request seen by one sender (elapsed × senders / requests).
    var msPerRequest: Double
    /// CPU time (user + system) the target processes used from the start of the run until
    /// what they accepted was processed (`settle`), in microseconds per alert answered 200;
    /// NaN when no process was given.
    var cpuMicrosPerAlert: Double
}

extension LoadResult {
    /// Throws unless every request was answered 200; `what` names the run in the failure.
    func requireAllAccepted(_ what: String) throws {
        guard ok == requests, ok > 0 else {
            throw BenchFailure("\(what): \(ok) of \(requests) requests answered 200 (statuses \(statuses), transport errors \(transportErrors))")
        }
    }
}

/// Sends `bodies` (batches of `batch` alerts) closed loop from `scale.ingestSenders` keep-alive
/// connections, round-robin over `urls`, for at most `scale.ingestTimeLimit`; fails unless
/// every request was answered 200. `who` names the target in the failure. `pids` are its
/// processes, whose CPU time is read before the run and after `settle(alerts accepted)`
/// returns: the work the run left behind (the collector's deliveries) counts too.
func ingestRun(_ who: String, urls: [String], pids: [Int32] = [], bodies: [[UInt8]], batch: Int, scale: Scale,
               settle: (Int) async throws -> Void = { _ in }) async throws -> IngestRun {
    let cpu = { pids.reduce(0.0) { $0 + ProcessStats.cpuSeconds(pid: $1) } }
    let cpuBefore = cpu()
    let run = await closedLoop(urls: urls, bodies: bodies, senders: scale.ingestSenders, timeLimit: scale.ingestTimeLimit)
    try run.requireAllAccepted("\(who), batches of \(batch)")
    try await settle(run.ok * batch)
    let cpuUsed = cpu() - cpuBefore
    return IngestRun(load: run, batch: batch, msPerRequest: seconds(run.elapsed) * 1000 / Double(run.ok) * Double(scale.ingestSenders),
                     cpuMicrosPerAlert: pids.isEmpty ? .nan : cpuUsed * 1e6 / Double(run.ok * batch))
}

/// Response times under load: `bodies` (batches of `batch` alerts) open loop at
/// `alertsPerSecond`, from `scale.ingestSenders` keep-alive connections; fails unless every
/// request was answered 200. The bodies are built beforehand, so building them stays out of
/// the response times.
func openLoopIngestRun(_ who: String, url: String, bodies: [[UInt8]], batch: Int, alertsPerSecond: Double, scale: Scale) async throws -> LoadResult {
    let run = await openLoop(urls: [url], count: bodies.count, rate: alertsPerSecond / Double(batch), senders: scale.ingestSenders) { i, _ in bodies[i] }
    try run.requireAllAccepted("\(who), batches of \(batch) at \(f0(alertsPerSecond)) alerts/s")
    return run
}

/// Waits (bounded) until `collector` has delivered `count` Issues to `destination` since it
/// started, so that its backlog neither escapes its CPU figure nor runs into what is
/// measured next.
func waitDelivered(_ collector: CollectorProcess, destination: String, count: Int) async throws {
    var delivered = 0.0
    let done = try await poll(timeout: .seconds(300)) {
        delivered = metricSum(try collector.get("/metrics").text, "cano_deliveries_total", ["destination=\"\(destination)\"", "result=\"delivered\""])
        return delivered >= Double(count)
    }
    guard done else { throw BenchFailure("\(f0(delivered)) of \(count) Issues delivered to \(destination) within 300 s") }
}

/// Checks that every accepted alert is in the outbox: `cano_deliveries_queued_total` for
/// `destination`, summed over the replicas, is `expected`. Returns it.
@discardableResult
func checkQueued(_ collectors: [CollectorProcess], destination: String, expected: Int) throws -> Double {
    let queued = try collectors.reduce(0.0) { $0 + metricSum(try $1.get("/metrics").text, "cano_deliveries_queued_total", ["destination=\"\(destination)\""]) }
    guard queued == Double(expected) else { throw BenchFailure("cano_deliveries_queued_total{destination=\"\(destination)\"} is \(queued), expected \(expected)") }
    return queued
}

/// Durable alerts/s accepted over HTTP, cano-collector's `POST /api/alerts` against
/// Alertmanager's `POST /api/v2/alerts`, with the same alerts, in the same run.
func ingestScenario(_ scale: Scale) async throws -> Section {
    var section = Section(name: "ingest", title: "1. Ingest: alerts/s accepted over HTTP, cano-collector vs Alertmanager")
    let collector = try await CollectorProcess(configYAML: """
        cluster: bench
        data_dir: {{data_dir}}
        server: {host: 127.0.0.1, port: {{port}}}
        destinations:
          \(ingestSinkDestination)
        default_destinations: [sink]
        # One Issue per alert, queued in the intake's commit (every bench webhook carries one
        # groupKey): the figure compared is durable acceptance, and the check below counts
        # the outbox.
        default_notify: {group_by: []}
        """, logLevel: "info")
    defer {
        collector.stop()
        try? FileManager.default.removeItem(at: collector.directory)
    }
    // Alertmanager groups for 10 minutes before notifying: during the run it only accepts
    // and stores, which is what is compared. Its receiver is a closed loopback port.
    let am = try await AlertmanagerProcess(webhookURL: "http://127.0.0.1:\(try freeLoopbackPort())/unused", groupWait: "10m", groupInterval: "10m", logLevel: "info")
    defer { am.stop() }
    let startsAt = RFC3339.format(Date())
    var acceptedTotal = 0
    section.headers = ["batch", "alerts sent", "cano-collector alerts/s", "Alertmanager alerts/s", "ratio", "cano p/req ms", "AM p/req ms",
                       "cano / AM CPU µs per alert",
                       "cano p50 / p99 ms at half load (requests)", "AM p50 / p99 ms at half load (requests)"]
    let canoURL = "http://127.0.0.1:\(collector.port)/api/alerts", amURL = "http://127.0.0.1:\(am.port)/api/v2/alerts"
    for (batch, alerts) in scale.ingestAlerts {
        let batches = ingestBatches(batch: batch, alerts: alerts, startsAt: startsAt)
        let cano = try await ingestRun("cano-collector", urls: [canoURL], pids: [collector.pid], bodies: batches.map(AlertBodies.webhook), batch: batch, scale: scale) {
            acceptedTotal += $0
            try await waitDelivered(collector, destination: "sink", count: acceptedTotal)
        }
        let amRun = try await ingestRun("Alertmanager", urls: [amURL], pids: [am.pid], bodies: batches.map(AlertBodies.apiV2), batch: batch, scale: scale)
        // Latency under load: as many new alerts, each tool at half the rate it sustained above.
        let fresh = ingestBatches(batch: batch, alerts: alerts, tag: "h", startsAt: startsAt)
        let canoHalf = try await openLoopIngestRun("cano-collector", url: canoURL, bodies: fresh.map(AlertBodies.webhook), batch: batch,
                                                   alertsPerSecond: cano.alertsPerSecond / 2, scale: scale)
        acceptedTotal += canoHalf.ok * batch
        try await waitDelivered(collector, destination: "sink", count: acceptedTotal)
        let amHalf = try await openLoopIngestRun("Alertmanager", url: amURL, bodies: fresh.map(AlertBodies.apiV2), batch: batch,
                                                 alertsPerSecond: amRun.alertsPerSecond / 2, scale: scale)
        let canoLatency = LatencySummary(nanos: canoHalf.responseNanos), amLatency = LatencySummary(nanos: amHalf.responseNanos)
        section.figures["ingest.cano.batch\(batch).alerts_per_s"] = cano.alertsPerSecond
        section.figures["ingest.alertmanager.batch\(batch).alerts_per_s"] = amRun.alertsPerSecond
        section.figures["ingest.ratio.batch\(batch)"] = cano.alertsPerSecond / amRun.alertsPerSecond
        section.figures["ingest.cano.batch\(batch).cpu_us_per_alert"] = cano.cpuMicrosPerAlert
        section.figures["ingest.alertmanager.batch\(batch).cpu_us_per_alert"] = amRun.cpuMicrosPerAlert
        section.figures["ingest.cano.batch\(batch).half_load_p99_ms"] = canoLatency.p99
        section.figures["ingest.alertmanager.batch\(batch).half_load_p99_ms"] = amLatency.p99
        section.rows.append([String(batch), "\(cano.alerts) / \(amRun.alerts)", f0(cano.alertsPerSecond), f0(amRun.alertsPerSecond),
                             f2(cano.alertsPerSecond / amRun.alertsPerSecond), f2(cano.msPerRequest), f2(amRun.msPerRequest),
                             "\(f0(cano.cpuMicrosPerAlert)) / \(f0(amRun.cpuMicrosPerAlert))",
                             "\(f2(canoLatency.p50)) / \(f2(canoLatency.p99)) (\(canoLatency.count))",
                             "\(f2(amLatency.p50)) / \(f2(amLatency.p99)) (\(amLatency.count))"])
    }
    // Every accepted alert is in the outbox: the queued counter says so.
    let queued = try checkQueued([collector], destination: "sink", expected: acceptedTotal)
    section.notes = [
        "\(scale.ingestSenders) concurrent senders, each one keep-alive HTTP/1.1 connection (libcurl), closed loop; each run stops after its alerts or \(scale.ingestTimeLimit).",
        "cano-collector answers 200 only after the group commit (SQLite WAL, synchronous=FULL: fsync per commit); it delivers to a `file` destination meanwhile. cano_deliveries_queued_total matched every accepted alert (\(f0(queued))).",
        "Alertmanager (\(Machine.run(["prometheus-alertmanager", "--version"]).split(separator: "\n").first ?? "")) keeps alerts in memory and snapshots them to disk every 15 minutes: its 200 is not durable. group_wait 10m, so it only ingests during the run.",
        "`p/req ms` is the mean time per request seen by one sender (elapsed × senders / requests).",
        "`CPU µs per alert`: user + system CPU time of the process (/proc/PID/stat) from the start of its closed-loop run, per alert answered 200; cano-collector's until every accepted alert was also delivered to the `file` destination (its default workflows enrich and diagnose each), and the next run starts only then. Alertmanager notifies nobody during the run.",
        "Half load: then each tool gets as many new alerts in the same batches, open loop (each request due at its slot whatever the previous ones took) at half the alerts/s it sustained above, from the same senders, the bodies built beforehand. The response time of each 200 counts from the moment the request was due, so a request held behind a slow one counts its wait too.",
    ]
    return section
}

// MARK: 2. End-to-end latency

extension Rig.LatencyRun {
    /// Records p50/p90/p99/max (ms) and the alerts not accepted under `key` (`latency.webhook.100`).
    func record(_ key: String, in section: inout Section) {
        section.figures[key + ".p50_ms"] = summary.p50
        section.figures[key + ".p90_ms"] = summary.p90
        section.figures[key + ".p99_ms"] = summary.p99
        section.figures[key + ".max_ms"] = summary.max
        section.figures[key + ".not_accepted"] = Double(load.requests - load.ok)
    }

    /// The alerts that reached the double, flagged when some accepted ones did not.
    var deliveredCell: String { incomplete == nil ? String(summary.count) : "\(summary.count) of \(load.ok) (**incomplete**)" }
    /// The requests not answered 200, with their statuses.
    var notAcceptedCell: String { load.requests == load.ok ? "0" : "\(load.requests - load.ok) \(load.statuses.filter { $0.key != 200 })" }
    var sendRate: Double { Double(load.requests) / seconds(load.elapsed) }
}

func latencyScenario(_ scale: Scale) async throws -> Section {
    var section = Section(name: "latency", title: "2. End-to-end latency: webhook received → destination double")
    var failures: [String] = []
    section.headers = ["destination", "enrichment", "alerts/s", "alerts delivered", "not accepted", "achieved send rate/s", "p50 ms", "p90 ms", "p99 ms", "max ms"]
    for podLogs in [false, true] {
        let rig = try await Rig(slackPacing: 0, enforceSlackRate: false, podLogs: podLogs)
        do {
            try await rig.warmUp(["webhook", "slack"])
            for dest in ["webhook", "slack"] {
                for (rate, secs) in scale.latencyRuns {
                    let count = rate * secs
                    let run = try await rig.latencyRun(dest: dest, rate: rate, count: count, tag: "lat-\(dest)-\(rate)")
                    let summary = run.summary
                    if let missing = run.incomplete { failures.append("\(dest)\(podLogs ? " + pod logs" : "") at \(rate)/s: \(missing)") }
                    run.record("latency.\(dest)\(podLogs ? ".podlogs" : "").\(rate)", in: &section)
                    section.rows.append([dest == "webhook" ? "Webhook plugin" : "Slack plugin", podLogs ? "pod logs" : "none", String(rate),
                                         run.deliveredCell, run.notAcceptedCell,
                                         f0(run.sendRate), f2(summary.p50), f2(summary.p90), f2(summary.p99), f2(summary.max)])
                }
            }
            if podLogs {
                let metrics = try rig.collector.get("/metrics").text
                let lines = metrics.split(separator: "\n").filter { $0.hasPrefix("cano_enrichments_total") }
                section.notes.append("Enrichment outcomes (cano_enrichments_total): " + (lines.isEmpty ? "none reported" : lines.joined(separator: "; ")))
            }
        } catch {
            await rig.stop()
            throw error
        }
        await rig.stop()
    }
    section.notes = [
        "Each alert is one webhook POST (open loop: sent at its slot whatever the previous ones took; 1, 2 and 8 keep-alive senders at 10, 100 and 1000/s). Its description carries the send time; the double reads it on arrival: latency = intake HTTP + (enrichment) + durable commit + queue + plugin + HTTP to the double. Same process, same monotonic clock.",
        "Destinations: the Webhook plugin to a loopback receiver answering 200 at once; the Slack plugin to the Slack double answering at once with `pace_per_channel: 0` (pacing off: at its default of 1 message/s per channel the pacing, not the collector, would be the latency). Delivery defaults: 2 workers per destination.",
        "Every alert has its own fingerprint, so every one is delivered (no dedup).",
        "Enrichment `none`: `enrichment: {enabled: false}`. `pod logs`: one workflow with `pod_logs: {tail_lines: 100}` for KubePodCrashLooping, the collector connected (kubeconfig, token, CA) to the fake Kubernetes API server over HTTPS in the benchmark process, which holds the pod and a 200-line log; every alert names that pod. With Slack the log goes into the thread as a file upload after the message: the latency is to the chat.postMessage.",
    ] + section.notes
    if !failures.isEmpty {
        section.passed = false
        section.error = failures.joined(separator: "; ")
        section.notes.append("Incomplete runs (percentiles cover only what arrived): " + failures.joined(separator: "; "))
    }
    return section
}

// MARK: 3. Storm

func stormScenario(_ scale: Scale) async throws -> Section {
    var section = Section(name: "storm", title: "3. Storm: \(scale.stormAlerts) alerts in \(scale.stormSeconds) s over \(scale.stormFingerprints) fingerprints, one Slack channel, noise control off and on")
    let off = try await stormRun(scale, grouping: false)
    let on = try await stormRun(scale, grouping: true)
    let fingerprints = scale.stormFingerprints
    section.figures = [
        "storm.alerts_sent": Double(off.sent), "storm.alerts_accepted": Double(off.accepted), "storm.messages_sent": Double(off.posted),
        "storm.postmessage_calls": Double(off.postCalls), "storm.429s": Double(off.rejected), "storm.repeated_429": Double(max(0, off.rejected - 1)),
        "storm.drain_seconds": off.drain, "storm.send_seconds": off.send, "storm.lost": Double(off.lost),
        "storm.reposted": Double(off.reposted), "storm.duplicates_absorbed": off.duplicates, "storm.dead_letters": off.dead,
        "storm_grouped.messages_sent": Double(on.posted), "storm_grouped.updates": Double(on.updates), "storm_grouped.files": Double(on.files),
        "storm_grouped.drain_seconds": on.drain, "storm_grouped.lost": Double(on.lost), "storm_grouped.429s": Double(on.rejected),
        "storm_grouped.dead_letters": on.dead,
    ]
    section.headers = ["noise control", "alerts sent", "accepted (200)", "fingerprints", "messages posted", "messages edited", "files", "429s",
                       "time to drain s", "lost", "dead letters"]
    section.rows = [off, on].map { (r: StormRun) -> [String] in
        let mode: String = r.grouping ? "on (defaults: Alertmanager groupKey, storm guard)" : "off (`group_by: []`, `storm: {enabled: false}`)"
        let counts: [Int] = [r.sent, r.accepted, fingerprints, r.posted, r.updates, r.files, r.rejected]
        return [mode] + counts.map { String($0) } + [f1(r.drain), String(r.lost), f0(r.dead)]
    }
    section.notes = [
        "Run: \(scale.mode == "full" ? "full size" : scale.mode == "quick" ? "`--quick` (scaled down to a tenth)" : "smoke (tiny)"). Alerts are single-alert webhooks at an even \(f1(Double(scale.stormAlerts) / Double(scale.stormSeconds)))/s from 4 senders; alert k is pod worker-storm-(k mod \(fingerprints)), all firing with one startsAt, all with Alertmanager's groupKey of alertname KubePodCrashLooping.",
        "The Slack double enforces 1 chat.postMessage per second per channel (HTTP 429, Retry-After: 1); the plugin paces at `pace_per_channel: 1` (its default).",
        "Off: every fingerprint is a message of its own (a repeat of a delivered or queued alert is not queued again: \(f0(off.duplicates)) repeats absorbed at intake), so draining takes at least \(fingerprints) s at 1 message/s. On: the alerts are one Alertmanager group, so one root message, edited as members join (chat.update), with a note per change in its thread and the full member list as a CSV file when the table is capped.",
        "Time to drain: from the first alert sent to the last Slack call once every pod is shown (off: in its own message; on: in the root's table or the list file). Lost = pods never shown.",
    ]
    for r in [off, on] where !r.drained || r.lost > 0 || r.accepted != r.sent {
        throw BenchFailure("storm (noise control \(r.grouping ? "on" : "off")): \(r.lost) of \(fingerprints) pods not shown; intake accepted \(r.accepted) of \(r.sent)")
    }
    return section
}

/// One storm run's figures (``stormScenario``).
struct StormRun {
    var grouping: Bool
    var sent = 0, accepted = 0, posted = 0, postCalls = 0, updates = 0, files = 0, rejected = 0, lost = 0, reposted = 0
    var drain = 0.0, send = 0.0, duplicates = 0.0, dead = 0.0
    var drained = false
}

func stormRun(_ scale: Scale, grouping: Bool) async throws -> StormRun {
    let rig = try await Rig(slackPacing: 1, enforceSlackRate: true, grouping: grouping)
    defer { Task { await rig.stop() } }
    let startsAt = RFC3339.format(Date())
    let fingerprints = scale.stormFingerprints
    let began = ContinuousClock.now
    let load = await openLoop(urls: rig.alertsURLs, count: scale.stormAlerts, rate: Double(scale.stormAlerts) / Double(scale.stormSeconds), senders: 4) { i, _ in
        let k = i % fingerprints
        var alert = AlertBodies.crashLoop("storm-\(k)", namespace: "storm", extra: [("bench_dest", "slack")],
                                          description: "Storm alert storm-fp-\(k) is firing.", startsAt: startsAt)
        alert.fingerprint = "storm-fp-\(k)"
        return AlertBodies.webhook([alert])
    }
    var run = StormRun(grouping: grouping)
    run.send = seconds(ContinuousClock.now - began)
    // Off, at 1 message/s per channel, N fingerprints need at least N seconds.
    let drainLimit = Duration.seconds(fingerprints * 2 + 60)
    let marker = Array("worker-storm-".utf8)
    func delivered() -> [SlackDoubleCall] {
        rig.slack.calls.filter { $0.received >= began && $0.status == 200 && $0.error == nil }
    }
    /// Messages per pod (off), and the pods shown anywhere: messages, edits and files (on).
    func shown() -> (perPod: [Int64: Int], all: Set<Int64>) {
        var perPod: [Int64: Int] = [:]
        var all = Set<Int64>()
        for call in delivered() where call.method == "chat.postMessage" || call.method == "chat.update" {
            if call.method == "chat.postMessage", let k = number(after: marker, in: call.body) { perPod[k, default: 0] += 1 }
            all.formUnion(numbers(after: marker, in: call.body))
        }
        for file in rig.slack.files { all.formUnion(numbers(after: marker, in: file.bytes)) }
        return (perPod, all)
    }
    run.drained = await poll(timeout: drainLimit) { shown().all.count >= fingerprints }
    let calls = delivered()
    run.drain = seconds((calls.map(\.received).max() ?? .now) - began)
    let posts = rig.slack.calls("chat.postMessage").filter { $0.received >= began }
    run.postCalls = posts.count
    run.rejected = posts.filter { $0.status == 429 }.count
    run.posted = calls.filter { $0.method == "chat.postMessage" }.count
    run.updates = calls.filter { $0.method == "chat.update" }.count
    run.files = rig.slack.files.count
    let (perPod, all) = shown()
    run.lost = fingerprints - all.count
    run.reposted = perPod.values.reduce(0) { $0 + max(0, $1 - 1) }
    run.sent = load.requests
    run.accepted = load.ok
    let metrics = try rig.collector.get("/metrics").text
    run.duplicates = metricSum(metrics, "cano_deliveries_duplicate_total", ["destination=\"slack\""])
    run.dead = metricSum(metrics, "cano_dead_letters_total", ["destination=\"slack\""])
    await rig.stop()
    return run
}

// MARK: 4. Memory and CPU

func memoryScenario(_ scale: Scale) async throws -> Section {
    var section = Section(name: "memory", title: "4a. Memory and CPU of the cano-collector process")
    let rig = try await Rig(slackPacing: 0, enforceSlackRate: false)
    defer { Task { await rig.stop() } }
    let pid = rig.collector.pid
    // Let start-up allocations settle (bounded).
    try await Task.sleep(for: .seconds(2))
    let idle = ProcessStats.memory(pid: pid)
    let cpu0 = ProcessStats.cpuSeconds(pid: pid)
    let count = scale.sustainedRate * scale.sustainedSeconds
    let run = try await rig.latencyRun(dest: "webhook", rate: scale.sustainedRate, count: count, tag: "sustain")
    if let missing = run.incomplete { throw BenchFailure("sustained run: \(missing)") }
    let (summary, load) = (run.summary, run.load)
    let cpu = ProcessStats.cpuSeconds(pid: pid) - cpu0
    let cpuPerAlert = cpu / Double(count) * 1e6
    let after = ProcessStats.memory(pid: pid)

    // Alertmanager doing the same job at the same rate: every alert its own notification
    // (group_by ['...'], no group wait), posted as a webhook to the same receiver.
    let am = try await AlertmanagerProcess(webhookURL: "\(rig.receiver.baseURL)/am", groupWait: "0s", groupInterval: "1m", groupBy: ["..."], logLevel: "info")
    defer { am.stop() }
    try await Task.sleep(for: .seconds(2))  // start-up allocations settle, as for the collector (bounded)
    let amIdle = ProcessStats.memory(pid: am.pid)
    rig.webhookLatencies.withLock { $0.removeAll() }
    let amCPU0 = ProcessStats.cpuSeconds(pid: am.pid)
    let startsAt = RFC3339.format(Date())
    let amLoad = await openLoop(urls: ["http://127.0.0.1:\(am.port)/api/v2/alerts"], count: count, rate: Double(scale.sustainedRate), senders: 2) { i, stamp in
        AlertBodies.apiV2([AlertBodies.crashLoop("am-sustain-\(i)", namespace: "bench", description: "bench-sent-ns=\(stamp)", startsAt: startsAt)])
    }
    try amLoad.requireAllAccepted("Alertmanager at \(scale.sustainedRate)/s")
    guard await poll(timeout: .seconds(60), { rig.webhookLatencies.withLock { $0.count } >= count }) else {
        throw BenchFailure("Alertmanager at \(scale.sustainedRate)/s: \(rig.webhookLatencies.withLock { $0.count }) of \(count) notifications arrived within 60 s")
    }
    let amCPU = ProcessStats.cpuSeconds(pid: am.pid) - amCPU0
    let amCPUPerAlert = amCPU / Double(count) * 1e6
    let amAfter = ProcessStats.memory(pid: am.pid)
    let amSummary = LatencySummary(nanos: rig.webhookLatencies.withLock { $0 })
    am.stop()
    await rig.stop()

    // The Helm chart's configuration: the same host and plugins with the Kubernetes sources.
    let chart = try await Rig(slackPacing: 0, enforceSlackRate: false, chartPods: scale.memoryChartPods)
    defer { Task { await chart.stop() } }
    try await Task.sleep(for: .seconds(2))  // the initial sync and start-up allocations settle (bounded)
    let chartIdle = ProcessStats.memory(pid: chart.collector.pid)
    await chart.stop()

    section.figures = [
        "memory.idle_rss_mib": mib(idle.rss), "memory.sustained_rss_mib": mib(after.rss), "memory.sustained_peak_rss_mib": mib(after.peak),
        "memory.sustained_cpu_percent": cpu / seconds(load.elapsed) * 100, "memory.cpu_us_per_alert": cpuPerAlert,
        "memory.sustained_p99_ms": summary.p99,
        "memory.idle_rss_anon_mib": mib(idle.anon), "memory.idle_rss_file_mib": mib(idle.file),
        "memory.sustained_rss_anon_mib": mib(after.anon), "memory.sustained_rss_file_mib": mib(after.file),
        "memory.idle_rss_kubernetes_mib": mib(chartIdle.rss),
        "memory.alertmanager_cpu_us_per_alert": amCPUPerAlert, "memory.alertmanager_sustained_p99_ms": amSummary.p99,
        "memory.alertmanager_idle_rss_mib": mib(amIdle.rss), "memory.alertmanager_sustained_rss_mib": mib(amAfter.rss),
    ]
    section.headers = ["state", "RSS MiB", "of which anonymous MiB", "of which file-backed MiB", "peak RSS MiB", "CPU"]
    section.rows = [
        ["idle: host + Webhook and Slack plugins loaded, 2 destinations", f1(mib(idle.rss)), f1(mib(idle.anon)), f1(mib(idle.file)), f1(mib(idle.peak)), "—"],
        ["after \(scale.sustainedRate) alerts/s for \(scale.sustainedSeconds) s (webhook)", f1(mib(after.rss)), f1(mib(after.anon)), f1(mib(after.file)), f1(mib(after.peak)),
         "\(f1(cpu / seconds(load.elapsed) * 100))% of one core, \(f0(cpuPerAlert)) µs per alert"],
        ["idle, the Helm chart's configuration: the same with the Kubernetes sources and leader election, \(scale.memoryChartPods) pods",
         f1(mib(chartIdle.rss)), f1(mib(chartIdle.anon)), f1(mib(chartIdle.file)), f1(mib(chartIdle.peak)), "—"],
        ["Alertmanager idle", f1(mib(amIdle.rss)), f1(mib(amIdle.anon)), f1(mib(amIdle.file)), f1(mib(amIdle.peak)), "—"],
        ["Alertmanager after the same \(scale.sustainedRate) alerts/s for \(scale.sustainedSeconds) s, each its own webhook notification",
         f1(mib(amAfter.rss)), f1(mib(amAfter.anon)), f1(mib(amAfter.file)), f1(mib(amAfter.peak)),
         "\(f1(amCPU / seconds(amLoad.elapsed) * 100))% of one core, \(f0(amCPUPerAlert)) µs per alert"],
    ]
    section.notes = [
        "RSS is VmRSS of the cano-collector process (/proc/PID/status), split into RssAnon (heap, stacks: private to the process) and RssFile (pages of the binary and shared libraries mapped from disk: shared with other processes using the same files, and reclaimable under memory pressure); CPU is utime+stime (/proc/PID/stat) over the sustained run, which includes intake, the durable commit and delivery through the Webhook plugin. p99 during it: \(f1(summary.p99)) ms.",
        "Alertmanager's row: the same alerts through its own API (`POST /api/v2/alerts`), one per request, route `group_by: ['...']` with `group_wait: 0s`, so each is notified on its own, as a webhook to the same loopback receiver; its CPU is counted until the last notification arrived, as the collector's is. It keeps alerts and its notification log in memory (no fsync per alert). p99 from the send to the receiver: \(f1(amSummary.p99)) ms.",
    ]
    return section
}

/// Runs KubeBench (the Kubernetes sources against the fake API server in a child process).
func kubeScenario(_ scale: Scale) async throws -> Section {
    var section = Section(name: "kube", title: "4b. Kubernetes sources at cluster scale (KubeBench)")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try BuildProducts.path("KubeBench"))
    p.arguments = ["--pods", String(scale.kubePods), "--events", String(scale.kubeEvents)]
    let out = TemporaryFile()
    p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out.path))
    p.standardError = p.standardOutput
    try p.run()
    let finished = await poll(timeout: .seconds(600)) { !p.isRunning }
    if !finished { p.terminate() }
    let text = (try? String(contentsOfFile: out.path, encoding: .utf8)) ?? ""
    out.remove()
    guard finished, p.terminationStatus == 0,
          let line = text.split(separator: "\n").last(where: { $0.hasPrefix("KUBEBENCH_JSON ") }),
          let json = try? IssueCoding.decode(JSONValue.self, from: Array(line.dropFirst("KUBEBENCH_JSON ".count).utf8)),
          case .object(let o) = json else {
        throw BenchFailure("KubeBench did not finish (status \(p.terminationStatus)); its output:\n\(text.suffix(2000))")
    }
    for (k, v) in o { if let n = v.numberValue { section.figures["kube." + k] = n } }
    let fig = section.figures
    section.headers = ["pods", "events", "initial sync s", "RSS after sync MiB", "peak RSS MiB", "watch events", "churn s", "RSS after churn MiB", "CPU ms per 1,000 watch events"]
    section.rows = [[String(scale.kubePods), String(scale.kubeEvents), f2(fig["kube.sync_seconds"] ?? .nan), f1(fig["kube.rss_after_sync_mib"] ?? .nan),
                     f1(fig["kube.peak_rss_mib"] ?? .nan), f0(fig["kube.watch_events"] ?? .nan), f2(fig["kube.churn_seconds"] ?? .nan),
                     f1(fig["kube.rss_after_churn_mib"] ?? .nan), f1(fig["kube.cpu_ms_per_1000_events"] ?? .nan)]]
    section.notes = [
        "KubeBench runs the collector's Kubernetes sources (pods, events, jobs, Helm watchers; list + watch over HTTPS) in its own process against the fake API server in a child process, so the RSS is the collector side alone (no HTTP intake, outbox or plugins in that process: add the idle figure above for the whole agent).",
        "Churn: every event re-sent as a fresh Warning and every pod updated (a resync storm), then a sentinel pod; CPU is the process's user+system time over the churn divided by the watch events it received.",
        "Issues from history during the initial sync: \(f0(fig["kube.issues_from_history"] ?? .nan)) (expected 0).",
    ]
    return section
}

/// A file under the temporary directory for a child's output.
struct TemporaryFile {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("cano-bench-\(UUID().uuidString).log").path
    init() { FileManager.default.createFile(atPath: path, contents: nil) }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

// MARK: 5. Plugin call overhead

func pluginCallScenario(_ scale: Scale) async throws -> Section {
    var section = Section(name: "plugin-call", title: "5. Plugin call overhead through the C ABI")
    let dir = try TemporaryDirectory(prefix: "cano-bench-plugin")
    defer { dir.remove() }
    // The minimal valid destination of the loader tests: deliver() returns OK with a
    // malloc'ed "delivered" message, which the host copies and frees through free_buffer.
    let so = await try CPluginCompiler.compile(CPluginCompiler.fixture("valid.c"), into: dir.path, as: "libnoop.so", defines: ["FIXTURE_NAME=\"noop\""])
    let plugin = try PluginLoader.load(path: so)
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    let destination = try PluginDestination(name: "noop", plugin: plugin, config: Array("{}".utf8),
                                            services: PluginServices(logger: logger, store: InMemoryKeyValueStore(), metrics: Metrics()))
    defer { destination.shutdown() }
    let issue = Issue(type: .alert, source: .prometheus, severity: .high, status: .firing, title: "KubePodCrashLooping",
                      description: "Pod payments/worker-7f9 is restarting 3 times in the last 10 minutes.",
                      aggregationKey: "KubePodCrashLooping", fingerprint: "a1b2c3d4e5f60718",
                      subject: Subject(kind: "Pod", name: "worker-7f9", namespace: "payments", labels: ["alertname": "KubePodCrashLooping", "severity": "critical"]),
                      cluster: "bench", startsAt: Date())
    let json = try IssueCoding.encode(issue)
    let calls = scale.pluginCalls
    let elapsed = Locked(Duration.zero)
    let failures = Locked(0)
    await onThreads(1) { _ in
        let context = DeliveryContext(attempt: 1, deadlineUnixMillis: Int64(Date().timeIntervalSince1970 * 1000) + 15_000, deadline: .now + .seconds(15),
                                      idempotencyKey: String(repeating: "ab", count: 32), reference: nil)
        for _ in 0..<1000 { _ = destination.deliver(issueJSON: json, context: context) }  // warm-up
        let start = ContinuousClock.now
        var bad = 0
        for _ in 0..<calls where destination.deliver(issueJSON: json, context: context).status != .delivered { bad += 1 }
        let took = ContinuousClock.now - start
        elapsed.withLock { $0 = took }
        failures.withLock { $0 = bad }
    }
    guard failures.withLock({ $0 }) == 0 else { throw BenchFailure("the no-op plugin failed \(failures.withLock { $0 }) calls") }
    let ns = seconds(elapsed.withLock { $0 }) * 1e9 / Double(calls)
    section.figures = ["plugin.deliver_ns_per_call": ns]
    section.headers = ["calls", "ns per deliver call", "calls/s (one thread)"]
    section.rows = [[String(calls), f0(ns), f0(1e9 / ns)]]
    section.notes = [
        "`PluginDestination.deliver` → `PluginInstance.call` → the plugin's C `deliver` → result mapped back (message copied, plugin buffer freed through its `free_buffer`) to a `DeliveryOutcome`. Plugin: Tests/Fixtures/plugins/valid.c compiled by the benchmark with `cc -shared -fPIC`; it is not reentrant, so each call takes the instance's write lock. Issue JSON of \(json.count) bytes, one thread.",
    ]
    return section
}
