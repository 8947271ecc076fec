// Durable ingest throughput of the outbox: concurrent submitters hand batches of alerts
// to `Outbox.submit`, which returns only after the group commit. Run in release:
//
//   swift run -c release IngestBenchmark [--alerts N] [--batch N] [--submitters N] [--synchronous FULL|NORMAL]
//
// Prints alerts/s accepted durably and the submit latency percentiles.
import CanoSDK
import Collector
import Foundation
import Logging

struct Options {
    var alerts = 100_000
    var batch = 50
    var submitters = 16
    var synchronous: Database.Synchronous = .full

    init(_ args: [String]) {
        var i = 0
        while i < args.count {
            let value = i + 1 < args.count ? args[i + 1] : ""
            switch args[i] {
            case "--alerts": alerts = Int(value) ?? alerts
            case "--batch": batch = Int(value) ?? batch
            case "--submitters": submitters = Int(value) ?? submitters
            case "--synchronous": synchronous = Database.Synchronous(rawValue: value.uppercased()) ?? synchronous
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
let outbox = Outbox(
    database: database, router: Router(routes: [], defaultDestinations: ["bench"]), policies: ["bench": policy],
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

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
let sorted = latencies.sorted()
func pct(_ p: Double) -> Double { seconds(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) * 1000 }
print(String(format: "accepted durably: %.0f alerts/s (%.2f s); submit latency p50 %.1f ms, p99 %.1f ms",
             Double(total) / seconds(elapsed), seconds(elapsed), pct(0.5), pct(0.99)))
