// Durable ingest throughput of the outbox: concurrent submitters hand batches of alerts
// to `Outbox.submit`, which returns only after the group commit. Run in release:
//
//   scripts/build-release.sh --product IngestBenchmark && .build/release/IngestBenchmark [--alerts N] [--batch N] [--submitters N] [--synchronous FULL|NORMAL]
//   .build/release/IngestBenchmark --latency [--rate 100] [--seconds 20]
//
// The first form prints alerts/s accepted durably and the submit latency percentiles.
// The second submits single alerts at a fixed rate through outbox and engine to an
// in-process destination that returns at once, and prints the end-to-end latency (submit
// call to the destination's deliver call) percentiles.
import CanoSDK
import Collector
import Foundation
import Logging

struct Options {
    var alerts = 100_000
    var batch = 50
    var submitters = 16
    var synchronous: Database.Synchronous = .full
    var latency = false
    var rate = 100
    var seconds = 20

    init(_ args: [String]) {
        var i = 0
        while i < args.count {
            let value = i + 1 < args.count ? args[i + 1] : ""
            switch args[i] {
            case "--alerts": alerts = Int(value) ?? alerts
            case "--batch": batch = Int(value) ?? batch
            case "--submitters": submitters = Int(value) ?? submitters
            case "--synchronous": synchronous = Database.Synchronous(rawValue: value.uppercased()) ?? synchronous
            case "--rate": rate = Int(value) ?? rate
            case "--seconds": seconds = Int(value) ?? seconds
            case "--latency":
                latency = true
                i += 1
                continue
            default: break
            }
            i += 2
        }
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cano-ingest-bench-\(UUID().uuidString)").path
defer { try? FileManager.default.removeItem(atPath: directory) }

let database = try CollectorSchema.open(path: CollectorSchema.path(inDataDirectory: directory), options: Database.Options(synchronous: options.synchronous))
var policy = DeliveryPolicy()
policy.queueLimit = Int.max

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func percentile(_ sorted: [Duration], _ p: Double) -> Double {
    seconds(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) * 1000
}

/// Returns at once and notes when each fingerprint arrived.
final class FastDestination: Destination, @unchecked Sendable {
    let name = "bench"
    let lock = NSLock()
    var arrivals: [String: ContinuousClock.Instant] = [:]
    func deliver(issueJSON: [UInt8], context: DeliveryContext) -> DeliveryOutcome {
        let now = ContinuousClock.now
        let issue = try? IssueCoding.decode(Issue.self, from: issueJSON)
        lock.lock()
        arrivals[issue?.fingerprint ?? ""] = now
        lock.unlock()
        return DeliveryOutcome(.delivered, message: "ok")
    }
    var count: Int { lock.lock(); defer { lock.unlock() }; return arrivals.count }
}

if options.latency {
    let destination = FastDestination()
    let engine = DeliveryEngine(database: database, destinations: [destination], policies: ["bench": policy], metrics: Metrics(), logger: Logger(label: "bench"))
    let outbox = Outbox(
        database: database, router: IssueRouter(routes: [], defaultDestinations: ["bench"]), policies: ["bench": policy],
        metrics: Metrics(), logger: Logger(label: "bench"), onQueued: { engine.loadCommitted() })
    try engine.start()
    let total = options.rate * options.seconds
    print("end-to-end latency: \(total) alerts at \(options.rate)/s, synchronous=\(options.synchronous.rawValue)")
    let interval = Duration.seconds(1) / options.rate
    let began = ContinuousClock.now
    var submitted: [String: ContinuousClock.Instant] = [:]
    for i in 0..<total {
        // Open loop: each alert is due at its slot, whatever the previous one took.
        try await Task.sleep(until: began + interval * i, clock: .continuous)
        let issue = Issue(type: .alert, source: .prometheus, severity: .high, status: .firing, title: "Latency",
                          aggregationKey: "Latency", fingerprint: "lat-\(i)", startsAt: Date())
        submitted[issue.fingerprint] = ContinuousClock.now
        _ = try await outbox.submit([issue])
    }
    while destination.count < total { try await Task.sleep(for: .milliseconds(10)) }
    _ = await engine.drain(deadline: .now + .seconds(5))
    await outbox.close()
    database.close()
    let latencies = submitted.map { destination.arrivals[$0.key]! - $0.value }.sorted()
    print(String(format: "delivered %d; end-to-end latency p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                 latencies.count, percentile(latencies, 0.5), percentile(latencies, 0.99), seconds(latencies.last!) * 1000))
    exit(0)
}

let outbox = Outbox(
    database: database, router: IssueRouter(routes: [], defaultDestinations: ["bench"]), policies: ["bench": policy],
    metrics: Metrics(), logger: Logger(label: "bench"))

let startsAt = Date()
func makeBatch(_ submitter: Int, _ index: Int) -> [Issue] {
    (0..<options.batch).map { i in
        Issue(type: .alert, source: .prometheus, severity: .high, status: .firing, title: "KubePodCrashLooping",
              description: "Pod payments/worker-\(i) is restarting 3 times in the last 10 minutes.",
              aggregationKey: "KubePodCrashLooping", fingerprint: "s\(submitter)-b\(index)-a\(i)",
              subject: Subject(kind: "Pod", name: "worker-\(i)", namespace: "payments",
                               labels: ["alertname": "KubePodCrashLooping", "namespace": "payments", "pod": "worker-\(i)", "severity": "critical"]),
              cluster: "bench", startsAt: startsAt)
    }
}

let batchesPerSubmitter = options.alerts / options.batch / options.submitters
let total = batchesPerSubmitter * options.submitters * options.batch
print("ingest: \(total) alerts, batches of \(options.batch), \(options.submitters) concurrent submitters, synchronous=\(options.synchronous.rawValue)")

let clock = ContinuousClock()
let began = clock.now
let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
    for s in 0..<options.submitters {
        group.addTask {
            var own: [Duration] = []
            for b in 0..<batchesPerSubmitter {
                let batch = makeBatch(s, b)
                let t0 = clock.now
                let receipt = try await outbox.submit(batch)
                own.append(clock.now - t0)
                precondition(receipt.queued == batch.count, "unexpected receipt \(receipt)")
            }
            return own
        }
    }
    var all: [Duration] = []
    for try await part in group { all += part }
    return all
}
let elapsed = clock.now - began
await outbox.close()
let pending = try DeliveryStore(database: database).pendingCounts()["bench"] ?? 0
precondition(pending == total, "recorded \(pending) of \(total)")
database.close()

let sorted = latencies.sorted()
func pct(_ p: Double) -> Double { percentile(sorted, p) }
print(String(format: "accepted durably: %.0f alerts/s (%.2f s); submit latency p50 %.1f ms, p99 %.1f ms",
             Double(total) / seconds(elapsed), seconds(elapsed), pct(0.5), pct(0.99)))
