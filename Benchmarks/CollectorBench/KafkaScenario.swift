// Scenario 7 (issue 14): Issues/s through the Kafka destination. Each Issue goes through
// `KafkaNotifier.deliver`, the code the plugin's `deliver()` runs (topic resolution,
// headers, produce, waiting for the delivery report), to librdkafka's in-process mock
// cluster on loopback: the Kafka protocol is real, the broker is not (no disk, no
// replication), so this is the plugin's and librdkafka's cost, not a cluster's.
import CanoSDK
import CRdKafka
import Foundation
import KafkaDestination

/// One producer configuration measured by the scenario.
private struct KafkaVariant {
    var label: String
    var key: String
    var topic: String
    var defaultTopic: String?
    var properties: [String: JSONValue] = [:]
}

/// librdkafka's mock cluster, for the benchmark (the tests' `MockCluster` lives in the test
/// target). Created and destroyed on a dedicated thread: both block.
private final class BenchKafkaCluster {
    private let host: OpaquePointer
    private let cluster: OpaquePointer
    let bootstraps: String

    init() throws {
        guard let conf = rd_kafka_conf_new() else { throw BenchFailure("rd_kafka_conf_new failed") }
        rd_kafka_conf_set_log_cb(conf, benchSilentLog)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw BenchFailure("rd_kafka_new for the mock cluster failed")
        }
        guard let cluster = rd_kafka_mock_cluster_new(rk, 1), let bootstraps = rd_kafka_mock_cluster_bootstraps(cluster) else {
            rd_kafka_destroy(rk)
            throw BenchFailure("rd_kafka_mock_cluster_new failed")
        }
        host = rk
        self.cluster = cluster
        self.bootstraps = String(cString: bootstraps)
    }

    func createTopic(_ name: String, partitions: Int32 = 4) {
        _ = rd_kafka_mock_topic_create(cluster, name, partitions, 1)
    }

    func destroy() {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(host)
    }
}

/// Keeps the mock's librdkafka chatter out of the benchmark's output.
private let benchSilentLog: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = { _, _, _, _ in }

/// What one variant's run measured.
private struct KafkaRun {
    var elapsed: Duration
    var nanos: [Int64]
    var failures: [String]
}

/// Delivers `count` Issues (after a warm-up) one call at a time, as the host calls one
/// destination instance, on a dedicated thread: every call blocks in `rd_kafka_poll`.
private func kafkaRun(_ variant: KafkaVariant, count: Int, warmUp: Int) async throws -> KafkaRun {
    let namespaces = ["payments", "checkout", "search", "platform"]
    let outcome = Locked<Result<KafkaRun, BenchFailure>>(.failure(BenchFailure("the run did not start")))
    await onThreads(1) { _ in
        let cluster: BenchKafkaCluster
        do { cluster = try BenchKafkaCluster() } catch {
            outcome.withLock { $0 = .failure(BenchFailure("\(error)")) }
            return
        }
        defer { cluster.destroy() }
        for topic in [variant.topic, variant.defaultTopic].compactMap({ $0 }) {
            if topic.contains("{{") {
                for namespace in namespaces { cluster.createTopic(topic.replacingOccurrences(of: "{{namespace}}", with: namespace)) }
            } else {
                cluster.createTopic(topic)
            }
        }
        var json: [String: JSONValue] = ["brokers": .string(cluster.bootstraps), "topic": .string(variant.topic)]
        if let defaultTopic = variant.defaultTopic { json["default_topic"] = .string(defaultTopic) }
        if !variant.properties.isEmpty { json["properties"] = .object(variant.properties) }
        var notifier: KafkaNotifier?
        do throws(PluginError) {
            notifier = try KafkaNotifier(config: try KafkaConfig(.object(json))) { _, _, _ in }
        } catch {
            outcome.withLock { $0 = .failure(BenchFailure("create: \(error.message)")) }
            return
        }
        // Built before the clock starts: the host hands the plugin ready JSON.
        let requests: [DeliveryRequest] = (0..<(warmUp + count)).compactMap { i in
            let namespace = namespaces[i % namespaces.count]
            let issue = Issue(type: .alert, source: .prometheus, severity: .high, status: .firing, title: "KubePodCrashLooping",
                              description: "Pod \(namespace)/worker-\(i) is restarting 3 times in the last 10 minutes.",
                              aggregationKey: "KubePodCrashLooping", fingerprint: String(format: "kb%014lx", i),
                              subject: Subject(kind: "Pod", name: "worker-\(i)", namespace: namespace, labels: ["alertname": "KubePodCrashLooping", "severity": "critical"]),
                              cluster: "bench", startsAt: Date())
            guard let bytes = try? IssueCoding.encode(issue) else { return nil }
            return DeliveryRequest(issue: issue, issueJSON: bytes, attempt: 1, deadline: .distantFuture,
                                   idempotencyKey: String(format: "%064lx", i), reference: nil)
        }
        var failures: [String] = []
        var nanos: [Int64] = []
        nanos.reserveCapacity(count)
        var start = ContinuousClock.now
        for (i, template) in requests.enumerated() {
            if i == warmUp { start = .now }
            var request = template
            // The host's default delivery deadline (delivery.timeout: 15s).
            request.deadline = Date().addingTimeInterval(15)
            let began = ContinuousClock.now
            let result = notifier!.deliver(request)
            let took = ContinuousClock.now - began
            guard case .delivered = result else {
                if failures.count < 3 { failures.append("\(result)") }
                continue
            }
            if i >= warmUp { nanos.append(took.components.seconds * 1_000_000_000 + took.components.attoseconds / 1_000_000_000) }
        }
        let elapsed = ContinuousClock.now - start
        notifier = nil  // flushes (nothing is left in flight) and destroys the producer before the cluster
        outcome.withLock { $0 = .success(KafkaRun(elapsed: elapsed, nanos: nanos, failures: failures)) }
    }
    return try outcome.withLock { try $0.get() }
}

func kafkaScenario(_ scale: Scale) async throws -> Section {
    var section = Section(name: "kafka", title: "7. Kafka destination: Issues/s through the plugin's delivery path to librdkafka's mock cluster")
    let variants = [
        KafkaVariant(label: "properties: {linger.ms: 5} (librdkafka's own default)", key: "linger5", topic: "bench-alerts", properties: ["linger.ms": 5]),
        KafkaVariant(label: "defaults (the plugin sets linger.ms 0)", key: "defaults", topic: "bench-alerts"),
        KafkaVariant(label: "topic: bench-{{namespace}} (4 topics), linger.ms 0", key: "template", topic: "bench-{{namespace}}",
                     defaultTopic: "bench-other", properties: ["linger.ms": 0]),
    ]
    let count = scale.kafkaIssues
    let warmUp = max(5, count / 100)
    section.headers = ["config", "Issues", "Issues/s", "p50 ms", "p90 ms", "p99 ms", "max ms"]
    var failures: [String] = []
    for variant in variants {
        let run = try await kafkaRun(variant, count: count, warmUp: warmUp)
        let summary = LatencySummary(nanos: run.nanos)
        let perSecond = Double(run.nanos.count) / seconds(run.elapsed)
        if run.nanos.count != count { failures.append("\(variant.key): \(count - run.nanos.count) of \(count) not delivered, e.g. \(run.failures.joined(separator: "; "))") }
        section.figures["kafka.\(variant.key).issues_per_s"] = perSecond
        section.figures["kafka.\(variant.key).p50_ms"] = summary.p50
        section.figures["kafka.\(variant.key).p99_ms"] = summary.p99
        section.rows.append([variant.label, String(run.nanos.count), f0(perSecond), f2(summary.p50), f2(summary.p90), f2(summary.p99), f2(summary.max)])
    }
    section.notes = [
        "Each Issue is one `KafkaNotifier.deliver` call, the body of the plugin's `deliver()`: topic resolution, headers, `rd_kafka_producev`, then polling until that record's delivery report (idempotent producer, acks=all). One call at a time, as the host calls one destination instance; \(warmUp) warm-up calls per row are not counted.",
        "Not included: the C ABI call and the Issue JSON decode in front of it (see plugin-call), the outbox, HTTP intake.",
        "Broker: librdkafka's in-process mock cluster (1 broker, 4 partitions per topic) on loopback. It stores in memory and replicates nothing, so a real cluster adds its network round trip and, with acks=all, the in-sync replicas' fetch.",
        "Each delivery waits for its own record, so a linger (librdkafka's own default is 5 ms) is paid in full by every call: compare the first two rows; the plugin sets linger.ms 0 unless told otherwise.",
    ]
    if !failures.isEmpty {
        section.passed = false
        section.error = failures.joined(separator: "; ")
    }
    return section
}
