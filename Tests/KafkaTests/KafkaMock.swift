import CanoSDK
import CRdKafka
import Foundation
import Synchronization
import Testing
import TestSupport
@testable import KafkaDestination

/// librdkafka's in-process mock cluster (destinations.md §8.3): real Kafka protocol on
/// loopback, with error injection, and no broker to install. Every call into librdkafka
/// that may block runs on a ``BlockingThread`` in the tests, never on the cooperative pool.
final class MockCluster: @unchecked Sendable {
    /// The rd_kafka_t the mock cluster lives in (librdkafka needs one to host it).
    private let host: OpaquePointer
    let cluster: OpaquePointer
    /// "127.0.0.1:PORT", what `brokers:` gets.
    let bootstraps: String

    init(brokers: Int32 = 1) throws {
        guard let conf = rd_kafka_conf_new() else { throw MockError("rd_kafka_conf_new") }
        rd_kafka_conf_set_log_cb(conf, silentLog)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw MockError("rd_kafka_new for the mock: \(text(of: errstr))")
        }
        guard let cluster = rd_kafka_mock_cluster_new(rk, brokers), let bootstraps = rd_kafka_mock_cluster_bootstraps(cluster) else {
            rd_kafka_destroy(rk)
            throw MockError("rd_kafka_mock_cluster_new")
        }
        host = rk
        self.cluster = cluster
        self.bootstraps = String(cString: bootstraps)
    }

    /// Starts a cluster on a blocking thread.
    static func start(brokers: Int32 = 1) async throws -> MockCluster {
        try await BlockingThread.run { () throws -> MockCluster in try MockCluster(brokers: brokers) }
    }

    private let stopped = Mutex(false)

    /// Destroys the cluster on a blocking thread (it joins the mock's broker threads).
    func stop() async {
        guard stopped.withLock({ let was = $0; $0 = true; return !was }) else { return }
        await BlockingThread.run {
            rd_kafka_mock_cluster_destroy(self.cluster)
            rd_kafka_destroy(self.host)
        }
    }

    /// ``consume(topic:partitions:count:timeout:)`` on a blocking thread.
    func records(topic: String, partitions: Int32 = 4, count: Int, timeout: Duration = .seconds(20)) async throws -> [Record] {
        try await BlockingThread.run { () throws -> [Record] in try self.consume(topic: topic, partitions: partitions, count: count, timeout: timeout) }
    }

    func createTopic(_ name: String, partitions: Int32 = 4) {
        _ = rd_kafka_mock_topic_create(cluster, name, partitions, 1)
    }

    /// The next `count` Produce requests fail with `code`.
    func failProduce(_ code: rd_kafka_resp_err_t, count: Int = 1) {
        var codes = [rd_kafka_resp_err_t](repeating: code, count: count)
        rd_kafka_mock_push_request_errors_array(cluster, 0 /* Produce */, codes.count, &codes)
    }

    /// Metadata requests report `code` for `topic` (UNKNOWN_TOPIC_OR_PART: auto-create off).
    func setTopicError(_ topic: String, _ code: rd_kafka_resp_err_t) {
        rd_kafka_mock_topic_set_error(cluster, topic, code)
    }

    func setBroker(_ id: Int32, up: Bool) {
        _ = up ? rd_kafka_mock_broker_set_up(cluster, id) : rd_kafka_mock_broker_set_down(cluster, id)
    }

    /// Reads records of `topic` (all `partitions`, from the start) with a real librdkafka
    /// consumer until `count` have arrived or `timeout` passes. Blocking.
    func consume(topic: String, partitions: Int32 = 4, count: Int, timeout: Duration = .seconds(20)) throws -> [Record] {
        guard let conf = rd_kafka_conf_new() else { throw MockError("rd_kafka_conf_new") }
        var errstr = [CChar](repeating: 0, count: 512)
        for (k, v) in [("bootstrap.servers", bootstraps), ("group.id", "cano-test-\(UUID().uuidString)"), ("enable.auto.commit", "false")] {
            guard rd_kafka_conf_set(conf, k, v, &errstr, errstr.count) == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                throw MockError("consumer \(k): \(text(of: errstr))")
            }
        }
        rd_kafka_conf_set_log_cb(conf, silentLog)
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw MockError("consumer: \(text(of: errstr))")
        }
        defer {
            rd_kafka_consumer_close(rk)
            rd_kafka_destroy(rk)
        }
        let list = rd_kafka_topic_partition_list_new(partitions)
        for p in 0..<partitions {
            rd_kafka_topic_partition_list_add(list, topic, p)?.pointee.offset = Int64(RD_KAFKA_OFFSET_BEGINNING)
        }
        let assigned = rd_kafka_assign(rk, list)
        rd_kafka_topic_partition_list_destroy(list)
        guard assigned == RD_KAFKA_RESP_ERR_NO_ERROR else { throw MockError("assign: \(KafkaError.describe(assigned.rawValue))") }

        var records: [Record] = []
        let deadline = ContinuousClock.now + timeout
        while records.count < count, ContinuousClock.now < deadline {
            guard let message = rd_kafka_consumer_poll(rk, 100) else { continue }
            defer { rd_kafka_message_destroy(message) }
            let m = message.pointee
            // End of partition and similar events are not records.
            guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            records.append(Record(message: message))
        }
        return records
    }
}

/// One consumed record.
struct Record: Sendable {
    var key: String?
    var value: [UInt8]
    var partition: Int32
    var offset: Int64
    var headers: [String: String]

    init(message: UnsafeMutablePointer<rd_kafka_message_t>) {
        let m = message.pointee
        key = m.key.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: m.key_len), as: UTF8.self) }
        value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? []
        partition = m.partition
        offset = m.offset
        headers = [:]
        var list: OpaquePointer?
        if rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list {
            var index = 0
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                if let name {
                    headers[String(cString: name)] = value.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: size), as: UTF8.self) } ?? ""
                }
                index += 1
            }
        }
    }

    var issue: CanoSDK.Issue? { try? IssueCoding.decode(CanoSDK.Issue.self, from: value) }
}

struct MockError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Keeps the mock's and the consumer's librdkafka chatter out of the test output.
private let silentLog: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = { _, _, _, _ in }

/// Every log line the plugin writes, flattened to text for leak checks.
final class LogSink: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func record(_ level: HostServices.LogLevel, _ message: String, _ fields: [String: String]) {
        let text = "\(level) \(message) " + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.withLock { $0.append(text) }
    }
}

/// A notifier made and used on blocking threads: librdkafka calls block, and a notifier
/// is used by one thread at a time, as the host does.
final class Producer: @unchecked Sendable {
    private var notifier: KafkaNotifier?
    let logs: LogSink

    /// Creates the notifier on a blocking thread.
    static func make(_ config: JSONValue, logs: LogSink = LogSink()) async throws -> Producer {
        try await BlockingThread.run { () throws -> Producer in
            let parsed = try KafkaConfig(config)
            return Producer(notifier: try KafkaNotifier(config: parsed) { logs.record($0, $1, $2) }, logs: logs)
        }
    }

    private init(notifier: KafkaNotifier, logs: LogSink) {
        self.notifier = notifier
        self.logs = logs
    }

    /// Delivers one Issue on a blocking thread, with a deadline `within` from now.
    func deliver(_ issue: CanoSDK.Issue, within: Duration = .seconds(20), idempotencyKey: String = UUID().uuidString) async throws -> DeliveryResult {
        let json = try IssueCoding.encode(issue)
        let request = DeliveryRequest(issue: issue, issueJSON: json, attempt: 1,
                                      deadline: Date().addingTimeInterval(Double(KafkaConfig.milliseconds(within)) / 1000),
                                      idempotencyKey: idempotencyKey, reference: nil)
        return await BlockingThread.run { self.notifier?.deliver(request) ?? .permanent(message: "closed") }
    }

    /// Drops the notifier on a blocking thread, where its deinit flushes (bounded by
    /// `flush_timeout`) and destroys the librdkafka handle.
    func close() async {
        await BlockingThread.run { self.notifier = nil }
    }
}

enum Sample {
    static let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    /// A Prometheus alert Issue, as the collector maps one from Alertmanager; `namespace`
    /// nil is an Issue about no namespaced object (a node), `labels` adds subject labels.
    static func issue(_ status: IssueStatus = .firing, fingerprint: String = "3f2a9c0d11e4b7a8",
                      namespace: String? = "shop", labels: [String: String] = [:]) -> CanoSDK.Issue {
        var subjectLabels = ["alertname": "KubePodCrashLooping"]
        if let namespace { subjectLabels["namespace"] = namespace }
        subjectLabels.merge(labels) { $1 }
        var issue = CanoSDK.Issue(
            type: .alert, source: .prometheus, severity: .high, status: status, title: "KubePodCrashLooping",
            description: "Pod \(namespace ?? "-")/cart-7d9f-x2 is crash looping",
            aggregationKey: "KubePodCrashLooping", fingerprint: fingerprint,
            subject: Subject(kind: "Pod", name: "cart-7d9f-x2", namespace: namespace, container: "cart",
                             labels: subjectLabels, annotations: [:]),
            cluster: "prod-eu", startsAt: start)
        if status == .resolved { issue.endsAt = start.addingTimeInterval(300) }
        return issue
    }
}
