// kube-bench: memory and initial-sync time of the Kubernetes sources against a large
// cluster. The fake API server runs in a child process (this binary with `serve`), so the
// collector side's RSS is measured alone.
//
//   scripts/build-release.sh --product KubeBench
//   .build/release/KubeBench [--pods 10000] [--events 50000]
import TestSupport
import CanoSDK
import Collector
import FakeKubeAPIServer
import Foundation
import KubeClient
import KubeSources
import Logging
import Synchronization

func argument(_ name: String, _ fallback: Int) -> Int {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) { return v }
    return fallback
}

/// VmRSS and VmHWM of this process, in KiB.
func memory() -> (rss: Int, peak: Int) {
    let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    func field(_ name: String) -> Int {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first { Int($0) != nil } ?? "0") ?? 0
    }
    return (field("VmRSS"), field("VmHWM"))
}

func mib(_ kib: Int) -> String { String(format: "%.1f MiB", Double(kib) / 1024) }

/// User + system CPU seconds this process has used.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return s(usage.ru_utime) + s(usage.ru_stime)
}

func secondsOf(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

// MARK: serve (child process)

func serve(directory: String, pods: Int, events: Int) async throws {
    let token = "bench-token"
    let server = try await FakeKubeAPIServer.start(tokens: [token])
    let cluster = server.cluster
    let healthy = try Fixtures.load("pods/pod-running-healthy-managedfields.json")
    let crash = try Fixtures.load("pods/pod-crashloopbackoff-managedfields.json")
    for i in 0..<pods {
        // One pod in a hundred is crash-looping: realistic, and it exercises the detector.
        let base = i % 100 == 0 ? crash : healthy
        let ns = "ns-\(i % 200)"
        cluster.apply("pods", base.setting("metadata.namespace", to: .string(ns)).setting("metadata.name", to: .string("app-\(i / 20)-5d4f8-\(i)"))
            .setting("metadata.uid", to: .string(UUID().uuidString.lowercased())))
    }
    let templates = try Fixtures.load("events/eventlist-imagepull-oomjob-failedscheduling.json")["items"]?.arrayValue ?? []
    for i in 0..<events {
        let t = templates[i % templates.count]
        cluster.apply("events", t.setting("metadata.namespace", to: .string("ns-\(i % 200)"))
            .setting("metadata.name", to: .string("ev-\(i)")).setting("metadata.uid", to: .string(UUID().uuidString.lowercased())))
    }
    try server.certificates.caPEM.write(toFile: directory + "/ca.pem", atomically: true, encoding: .utf8)
    // For a collector run against it (scripts/startup-order.sh); the port file comes last:
    // its presence says the rest is written.
    try server.kubeconfig(token: token, namespace: "default").write(toFile: directory + "/kubeconfig", atomically: true, encoding: .utf8)
    try String(server.port).write(toFile: directory + "/port", atomically: true, encoding: .utf8)
    // Commands on stdin: "churn N" re-sends N events as new Warning events and touches
    // every pod (a resync storm), then a sentinel the collector waits for.
    while let line = readLine() {
        let parts = line.split(separator: " ")
        if parts.first == "churn", let n = parts.dropFirst().first.flatMap({ Int($0) }) {
            let now = RFC3339.format(Date())
            for i in 0..<n {
                let t = templates[i % templates.count]
                cluster.apply("events", t.setting("metadata.namespace", to: .string("ns-\(i % 200)"))
                    .setting("metadata.name", to: .string("ev-\(i)")).setting("lastTimestamp", to: .string(now)))
            }
            for i in 0..<pods {
                let base = i % 100 == 0 ? crash : healthy
                cluster.apply("pods", base.setting("metadata.namespace", to: .string("ns-\(i % 200)"))
                    .setting("metadata.name", to: .string("app-\(i / 20)-5d4f8-\(i)")).setting("metadata.annotations.resync", to: .string(now)))
            }
            cluster.apply("pods", crash.setting("metadata.namespace", to: .string("sentinel")).setting("metadata.name", to: .string("sentinel")))
            print("churned", n)
        }
    }
    await server.shutdown()
}

// MARK: measure (parent process)

final class CountingSink: IssueSink {
    let count = Mutex(0)
    let sentinel = Mutex(false)
    func submit(_ issues: [Issue]) async throws(SubmitError) -> SubmitReceipt {
        count.withLock { $0 += issues.count }
        if issues.contains(where: { $0.subject.namespace == "sentinel" }) { sentinel.withLock { $0 = true } }
        return SubmitReceipt(queued: issues.count, duplicates: 0)
    }
}

func measure(pods: Int, events: Int) async throws {
    HTTPClient.initializeProcess()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kube-bench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let child = Process()
    child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    child.arguments = ["serve", "--dir", dir, "--pods", String(pods), "--events", String(events)]
    let input = Pipe()
    child.standardInput = input
    try child.run()
    defer { child.terminate() }
    let seedStart = ContinuousClock.now
    while !FileManager.default.fileExists(atPath: dir + "/port") {
        guard child.isRunning else { print("the fake API server process exited"); exit(1) }
        try await Task.sleep(for: .milliseconds(50))  // polling another process's progress
    }
    try await Task.sleep(for: .milliseconds(50))
    let port = try String(contentsOfFile: dir + "/port", encoding: .utf8)
    let ca = try String(contentsOfFile: dir + "/ca.pem", encoding: .utf8)
    print("fake API server seeded with \(pods) pods and \(events) events in \(ContinuousClock.now - seedStart) (child process)")

    let before = memory()
    var config = KubernetesConfig(enabled: true, clusterName: "bench")
    config.leaderElection.enabled = false
    let connection = KubeConnection(server: "https://127.0.0.1:\(port)", tls: TLSOptions(caPEM: Array(ca.utf8)), token: TokenSource(token: "bench-token"))
    let synced = Mutex<Set<String>>([])
    let sink = CountingSink()
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    let sources = KubernetesSources(config: config, sink: sink, logger: logger, connection: connection, onInitialSync: { name in
        _ = synced.withLock { $0.insert(name) }
    })
    let start = ContinuousClock.now
    let task = Task { try await sources.run() }
    while synced.withLock({ $0.count }) < 4 { try await Task.sleep(for: .milliseconds(5)) }
    let syncTime = ContinuousClock.now - start
    let afterSync = memory()
    print("initial sync (pods, events, jobs, helm): \(syncTime)")
    print("RSS before start: \(mib(before.rss)); after initial sync: \(mib(afterSync.rss)); peak: \(mib(afterSync.peak))")
    let fromHistory = sink.count.withLock { $0 }
    print("Issues reported from history: \(fromHistory) (expected 0)")

    let cpuBeforeChurn = cpuSeconds()
    input.fileHandleForWriting.write(Data("churn \(events)\n".utf8))
    let churnStart = ContinuousClock.now
    while !sink.sentinel.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
    let churnTime = ContinuousClock.now - churnStart
    let churnCPU = cpuSeconds() - cpuBeforeChurn
    let afterChurn = memory()
    // Watch events the churn produced: every event modified, every pod modified, one sentinel pod added.
    let watchEvents = events + pods + 1
    print("after \(events) fresh Warning events and a \(pods)-pod update storm: \(churnTime), Issues \(sink.count.withLock { $0 })")
    print("RSS after churn: \(mib(afterChurn.rss)); peak over the run: \(mib(afterChurn.peak)) (target <= 60 MiB)")
    print(String(format: "CPU over the churn: %.2f s for %d watch events = %.1f ms per 1,000 watch events", churnCPU, watchEvents, churnCPU * 1e6 / Double(watchEvents)))
    // One machine-readable line for the benchmark suite (CollectorBench).
    let figures: [String: Double] = [
        "pods": Double(pods), "events": Double(events), "sync_seconds": secondsOf(syncTime),
        "rss_before_mib": Double(before.rss) / 1024, "rss_after_sync_mib": Double(afterSync.rss) / 1024,
        "rss_after_churn_mib": Double(afterChurn.rss) / 1024, "peak_rss_mib": Double(afterChurn.peak) / 1024,
        "churn_seconds": secondsOf(churnTime), "churn_cpu_seconds": churnCPU, "watch_events": Double(watchEvents),
        "cpu_ms_per_1000_events": churnCPU * 1e6 / Double(watchEvents), "issues_from_history": Double(fromHistory),
        "issues_after_churn": Double(sink.count.withLock { $0 }),
    ]
    print("KUBEBENCH_JSON " + String(decoding: try IssueCoding.encode(figures), as: UTF8.self))
    task.cancel()
}

let args = CommandLine.arguments
if args.count > 1, args[1] == "serve" {
    let dir = args.firstIndex(of: "--dir").map { args[$0 + 1] } ?? "."
    try await serve(directory: dir, pods: argument("--pods", 10_000), events: argument("--events", 50_000))
} else {
    try await measure(pods: argument("--pods", 10_000), events: argument("--events", 50_000))
}
exit(0)
