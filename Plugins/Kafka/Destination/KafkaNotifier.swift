#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// Sends Issues to Kafka through one librdkafka producer, and turns librdkafka's delivery
/// reports into delivery results. Used from the host's delivery threads, one call
/// at a time (the plugin is not reentrant).
///
/// - Topic: the `topic` template resolved for the Issue (``TopicTemplate``), else
///   `default_topic`, else a permanent failure.
/// - Record value: the Issue JSON exactly as the host sent it.
/// - Record key: the Issue's fingerprint, so an alert's firing and its resolve hash to one
///   partition and keep their order.
/// - Headers: ``Header`` names; consumers dedup on the idempotency key.
public final class KafkaNotifier {
    /// Record header names.
    public enum Header {
        /// The host's idempotency key: the same for every retry of one delivery, so a
        /// consumer can drop a record a timed-out attempt left behind.
        public static let idempotencyKey = "cano-idempotency-key"
        /// The Issue's fingerprint (also the record key).
        public static let fingerprint = "cano-fingerprint"
        /// `firing` or `resolved`.
        public static let status = "cano-status"
        /// `prometheus`, `kubernetes`, `helm`...
        public static let source = "cano-source"
        /// `alert` or `event`: the Issue's `type`.
        public static let type = "cano-type"
        /// `HIGH`, `LOW`, `INFO` or `DEBUG`: the Issue's `severity`, as in its JSON.
        public static let severity = "cano-severity"
        /// The Issue's `schemaVersion`.
        public static let schemaVersion = "cano-schema-version"
        /// Always `application/json`: the value is the Issue JSON.
        public static let contentType = "content-type"
    }

    /// The parsed destination config.
    public let config: KafkaConfig
    let events: ProducerEvents
    /// Nil after a fatal producer error, until the next delivery builds a new one.
    private var producer: KafkaProducer?

    /// Validates the config and creates the producer (librdkafka connects lazily, so no
    /// network I/O happens here).
    public init(config: KafkaConfig, log: @escaping @Sendable (HostServices.LogLevel, String, [String: String]) -> Void) throws(PluginError) {
        self.config = config
        events = ProducerEvents(secrets: config.secrets, log: log)
        producer = try KafkaProducer(config: config, events: events)
    }

    /// Produces the Issue and waits for its delivery report until the request's deadline.
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        let issue = request.issue
        // Resolved first: an Issue the template cannot name a topic for fails the same way
        // on every attempt, so it needs neither the producer nor the deadline.
        let topic: String
        var fallback: String?
        switch config.topic.resolve(for: issue) {
        case .topic(let name):
            topic = name
        case .unresolved(let reason):
            guard let defaultTopic = config.defaultTopic else {
                return .permanent(message: "\(reason), and no default_topic is set")
            }
            topic = defaultTopic
            fallback = reason
        }
        // A record produced now could not be confirmed in time, yet might still land and
        // then be sent again by the host's retry: better not to send it at all.
        guard request.deadline.timeIntervalSinceNow > 0 else {
            return .retry(message: "the delivery deadline had passed before the record was produced")
        }
        let producer: KafkaProducer
        if let current = self.producer {
            producer = current
        } else {
            do throws(PluginError) {
                producer = try KafkaProducer(config: config, events: events)
                self.producer = producer
            } catch {
                return .retry(message: "could not create a new Kafka producer: \(error.message)")
            }
        }
        let headers = [
            (Header.idempotencyKey, request.idempotencyKey),
            (Header.fingerprint, issue.fingerprint),
            (Header.status, issue.status.rawValue),
            (Header.source, issue.source.rawValue),
            (Header.type, issue.type.rawValue),
            (Header.severity, issue.severity.rawValue),
            (Header.schemaVersion, String(issue.schemaVersion)),
            (Header.contentType, "application/json"),
        ]
        let outcome = producer.send(topic: topic, key: Array(issue.fingerprint.utf8), value: request.issueJSON, headers: headers, deadline: request.deadline)
        return result(outcome, producer: producer, topic: topic, fallback: fallback)
    }

    /// `fallback`: why the record went to `default_topic`, told in every result.
    private func result(_ outcome: KafkaProducer.Outcome, producer: KafkaProducer, topic: String, fallback: String?) -> DeliveryResult {
        let where_ = "topic \(topic)" + (fallback.map { " (default_topic: \($0))" } ?? "")
        switch outcome {
        case .delivered(let partition, let offset):
            return .delivered(reference: "\(topic)/\(partition)@\(offset)",
                              message: "delivered to \(where_), partition \(partition), offset \(offset)")
        case .failed(let code, let fatal) where fatal:
            let detail = producer.fatalError ?? KafkaError.describe(code)
            // A fatal error (idempotence state lost) ends this handle; the next delivery
            // builds a fresh one rather than failing forever.
            // No flush when it goes: a fatal producer delivers nothing more, and flushing
            // for flush_timeout would hold this delivery past its deadline.
            producer.flushTimeout = .zero
            self.producer = nil
            events.log(.error, "the Kafka producer hit a fatal error; a new one is created for the next delivery", ["error": detail])
            return .retry(message: "Kafka producer fatal error \(detail); retrying with a new producer")
        case .failed(let code, _):
            let text = "Kafka refused the record for \(where_): \(KafkaError.describe(code))"
            return KafkaError.isPermanent(code) ? .permanent(message: text) : .retry(message: text)
        case .noReport:
            let last = events.lastError.map { "; last client error: \($0)" } ?? ""
            return .retry(message: "no delivery report from Kafka for \(where_) before the deadline\(last)")
        }
    }
}
