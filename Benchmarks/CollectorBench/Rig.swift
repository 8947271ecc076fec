// A running cano-collector (the release binary, as a subprocess) with the two plugins
// loaded, and the loopback doubles it delivers to: a fast webhook receiver and the Slack
// double. Latency is measured from the stamp each alert carries to the double's arrival.
// With a shared store (`storage.postgres`) it can run several replicas of the same config;
// alerts are then spread round-robin over their intakes.
import CanoSDK
import Collector
import FakeKubeAPIServer
import Foundation
import TestSupport

final class Rig: @unchecked Sendable {
    /// The replicas (one unless a shared store was given), each with its own data_dir.
    let collectors: [CollectorProcess]
    /// The first replica (the only one of a single-replica rig).
    var collector: CollectorProcess { collectors[0] }
    let receiver: CaptureServer
    let slack: SlackDouble
    /// Webhook arrivals: send-to-arrival nanoseconds, one per request carrying a stamp.
    let webhookLatencies: Locked<[Int64]>
    static let slackToken = "xoxb-bench-token"

    /// The fake Kubernetes API server, when the rig enriches with pod logs or runs the
    /// Kubernetes sources.
    let kube: FakeKubeAPIServer?
    /// Whether alerts are enriched with the pod logs of ``enrichedPod``.
    let podLogs: Bool
    /// The pod every enriched alert names; the fake API server holds it and its log.
    static let enrichedPod = "worker-enriched"

    /// `slackPacing`: the plugin's `pace_per_channel` (0 = off). `podLogs`: enrich alerts
    /// with the pod's log from the fake API server (otherwise enrichment is disabled).
    /// `chartPods` > 0: instead, the Kubernetes sources as the Helm chart runs them (leader
    /// election on, the default workflows) against the fake API server holding that many
    /// pods from the fixtures, one in a hundred crash-looping.
    /// `storage`: a top-level `storage:` block (empty: SQLite in data_dir); `replicas`
    /// collectors run that same config (more than one needs a shared store). `sink`: alerts
    /// no route takes (no `bench_dest` label) go to the ingest scenario's `file` destination.
    /// `grouping`: noise control as configured by default (Alertmanager groups, Slack's storm
    /// guard); off, every alert is its own notification, which is what the latency and
    /// throughput scenarios measure (every bench webhook carries the same `groupKey`).
    init(slackPacing: Int, enforceSlackRate: Bool, podLogs: Bool = false, storage: String = "", replicas: Int = 1, sink: Bool = false,
         grouping: Bool = false, chartPods: Int = 0) async throws {
        let latencies = Locked<[Int64]>([])
        webhookLatencies = latencies
        let receiver = try await CaptureServer.start { request in
            let arrival = nowNanos()
            if let stamp = sentStamp(in: request.body) { latencies.withLock { $0.append(arrival - stamp) } }
            return CaptureServer.Response(status: 200, body: Array("{\"ok\":true}".utf8))
        }
        let slack = try await SlackDouble.start(token: Self.slackToken)
        if enforceSlackRate { slack.enforcePostingRate(.seconds(1)) }
        self.receiver = receiver
        self.slack = slack
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cano-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.podLogs = podLogs
        var enrichment = "enrichment: {enabled: false}"
        let kubeconfigPath = directory.appendingPathComponent("kubeconfig").path
        let token = "bench-kube-token"
        if chartPods > 0 {
            let server = try await FakeKubeAPIServer.start(tokens: [token])
            kube = server
            let healthy = try Fixtures.load("pods/pod-running-healthy-managedfields.json")
            let crash = try Fixtures.load("pods/pod-crashloopbackoff-managedfields.json")
            for i in 0..<chartPods {
                server.cluster.apply("pods", (i % 100 == 0 ? crash : healthy).removing("metadata.resourceVersion")
                    .setting("metadata.namespace", to: .string("ns-\(i % 20)")).setting("metadata.name", to: .string("app-\(i)"))
                    .setting("metadata.uid", to: .string(UUID().uuidString.lowercased())))
            }
            try server.kubeconfig(token: token, namespace: "bench").write(toFile: kubeconfigPath, atomically: true, encoding: .utf8)
            enrichment = #"kubernetes: {enabled: true, kubeconfig: "\#(kubeconfigPath)", leader_election: {enabled: true}}"#
        } else if podLogs {
            let server = try await FakeKubeAPIServer.start(tokens: [token])
            kube = server
            let pod = try Fixtures.load("pods/pod-crashloopbackoff-managedfields.json")
                .setting("metadata.namespace", to: .string("bench")).setting("metadata.name", to: .string(Self.enrichedPod))
                .removing("metadata.resourceVersion")
            server.cluster.apply("pods", pod)
            // 200 lines of a realistic crash log; the enricher tails 100 of them.
            server.cluster.setLog(namespace: "bench", pod: Self.enrichedPod, (0..<200).map {
                "2026-11-26T10:00:\(String(format: "%02d", $0 % 60))Z ERROR worker: payment batch \($0) failed: connection refused (db-primary:5432), retrying"
            }.joined(separator: "\n"))
            try server.kubeconfig(token: token, namespace: "bench").write(toFile: kubeconfigPath, atomically: true, encoding: .utf8)
            enrichment = """
                kubernetes: {enabled: true, kubeconfig: "\(kubeconfigPath)", leader_election: {enabled: false}}
                enrichment:
                  default_workflows: false
                  workflows:
                    - name: bench-pod-logs
                      when: {aggregation_key: KubePodCrashLooping}
                      enrichers:
                        - pod_logs: {tail_lines: 100}
                """
        } else {
            kube = nil
        }
        // Noise control is per route (`default_notify` is the default route's only).
        let perAlert = grouping ? "" : "\n    group_by: []"
        let config = """
            \(try Self.configHead(hookURL: "\(receiver.baseURL)/hook", slackAPI: slack.apiURL, slackPacing: slackPacing))\(grouping ? "" : "\n    storm: {enabled: false}")
              \(sink ? ingestSinkDestination + "\ndefault_destinations: [sink]" : "")
            routes:
              - matchers: ['bench_dest="webhook"']
                destinations: [hook]\(perAlert)
              - matchers: ['bench_dest="slack"']
                destinations: [slack]\(perAlert)
            \(grouping ? "" : "default_notify: {group_by: []}")
            \(enrichment)
            \(storage)
            """
        var started: [CollectorProcess] = []
        do {
            // One after the other: the first creates the schema of a shared store.
            for replica in 0..<replicas {
                started.append(try await CollectorProcess(configYAML: config, directory: replica == 0 ? directory : nil, logLevel: "info"))
            }
        } catch {
            for c in started { c.stop(); try? FileManager.default.removeItem(at: c.directory) }
            throw error
        }
        collectors = started
    }

    /// The start of every bench config: cluster, `data_dir` and `server` (placeholders for
    /// ``CollectorProcess``), both plugins, and their destinations `hook` (Webhook, to
    /// `hookURL`) and `slack` (the Slack plugin on `slackAPI`, pacing `slackPacing` messages/s
    /// per channel, 0 = off). It ends inside the `slack` element, so a caller can add keys to it.
    static func configHead(hookURL: String, slackAPI: String, slackPacing: Int) throws -> String {
        """
        cluster: bench
        data_dir: {{data_dir}}
        server: {host: 127.0.0.1, port: {{port}}}
        plugins: {paths: ["\(try BuildProducts.plugin("CanoWebhook"))", "\(try BuildProducts.plugin("CanoSlack"))"]}
        destinations:
          - name: hook
            type: webhook
            config: {url: "\(hookURL)"}
          - name: slack
            type: slack
            config: {token: \(slackToken), channel: C0ALERTS01, api_url: "\(slackAPI)", pace_per_channel: \(slackPacing)}
        """
    }

    /// Every replica's intake; load generators send request i to the (i mod count)th.
    var alertsURLs: [String] { collectors.map { "http://127.0.0.1:\($0.port)/api/alerts" } }

    /// Successful chat.postMessage calls received at or after `since`.
    func slackPosts(since: ContinuousClock.Instant) -> [SlackDoubleCall] {
        slack.calls("chat.postMessage").filter { $0.received >= since && $0.status == 200 && $0.error == nil }
    }

    /// Sends `count` single-alert webhooks at `rate` to destination `dest` ("webhook" or
    /// "slack"), waits (bounded) for the double to get them all, and returns the latencies.
    /// One latency run's outcome; `incomplete` says what did not arrive in time (percentiles
    /// then cover only what did).
    struct LatencyRun {
        var summary: LatencySummary
        var load: LoadResult
        var incomplete: String?
    }

    func latencyRun(dest: String, rate: Int, count: Int, tag: String) async throws -> LatencyRun {
        let enriched = podLogs
        webhookLatencies.withLock { $0.removeAll() }
        let since = ContinuousClock.now
        let startsAt = RFC3339.format(Date())
        let senders = rate >= 1000 ? 8 : rate >= 100 ? 2 : 1
        let load = await openLoop(urls: alertsURLs, count: count, rate: Double(rate), senders: senders) { i, stamp in
            // Enriched alerts all name the pod the fake API server has; a sequence label keeps them distinct.
            AlertBodies.webhook([enriched
                ? AlertBodies.crashLoop("enriched", namespace: "bench", extra: [("bench_dest", dest), ("bench_seq", "\(tag)-\(i)")],
                                        description: "bench-sent-ns=\(stamp)", startsAt: startsAt)
                : AlertBodies.crashLoop("\(tag)-\(i)", namespace: "bench", extra: [("bench_dest", dest)],
                                        description: "bench-sent-ns=\(stamp)", startsAt: startsAt)])
        }
        // Refusals (a 503: the store unavailable) are reported by the caller; what was accepted must
        // arrive. The bound grows with the run: a slow destination drains a backlog.
        guard load.ok > 0 else { throw BenchFailure("\(dest) at \(rate)/s: intake accepted nothing (statuses \(load.statuses), transport errors \(load.transportErrors))") }
        let bound = Duration.seconds(60 + count / 100)
        let arrived = await poll(timeout: bound) { self.latencies(dest: dest, since: since).count >= load.ok }
        let nanos = latencies(dest: dest, since: since)
        let incomplete = arrived ? nil : "\(nanos.count) of \(load.ok) accepted alerts reached the double within \(bound) of the end of sending"
        return LatencyRun(summary: LatencySummary(nanos: nanos), load: load, incomplete: incomplete)
    }

    func latencies(dest: String, since: ContinuousClock.Instant) -> [Int64] {
        if dest == "webhook" { return webhookLatencies.withLock { $0 } }
        return slackPosts(since: since).compactMap { call in sentStamp(in: call.body).map { nowNanos(call.received) - $0 } }
    }

    /// A few alerts (at least one per replica) to each of `dests` before measuring: plugin
    /// first calls, connections, the store's first statements.
    func warmUp(_ dests: [String]) async throws {
        for dest in dests {
            if let missing = try await latencyRun(dest: dest, rate: 10, count: 5 * collectors.count, tag: "warm-\(dest)").incomplete {
                throw BenchFailure("warm-up to \(dest): \(missing)")
            }
        }
    }

    func stop() async {
        for c in collectors { c.stop() }
        await kube?.shutdown()
        slack.stop()
        await receiver.stop()
        for c in collectors { try? FileManager.default.removeItem(at: c.directory) }
    }
}
