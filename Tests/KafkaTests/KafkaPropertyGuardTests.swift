import CanoSDK
import Collector
import Foundation
import Logging
import Testing
import TestSupport
@testable import KafkaDestination

/// `properties:` passes librdkafka settings through, except those that would break what
/// docs/kafka.md §4 promises: each is refused at create, by name (the table there gives
/// the reasons).
@Suite struct KafkaPropertyGuardTests {
    static func config(_ name: String, _ value: JSONValue, _ extra: [String: JSONValue] = [:]) -> JSONValue {
        var config: [String: JSONValue] = ["brokers": "k1:9092", "topic": "alerts", "properties": .object([name: value])]
        for (k, v) in extra { config[k] = v }
        return .object(config)
    }

    static let refused: [(String, JSONValue, [String: JSONValue])] = [
        ("enable.idempotence", false, [:]),
        ("enable.idempotence", "true", [:]),
        ("acks", 1, [:]),
        ("request.required.acks", "0", ["idempotence": false, "acks": 0]),
        ("message.timeout.ms", 0, [:]),
        ("delivery.timeout.ms", 600_000, [:]),
        ("transactional.id", "cano-collector", [:]),
        ("delivery.report.only.error", true, [:]),
        ("delivery.report.only.error", "t", [:]),
        ("max.in.flight.requests.per.connection", 10, [:]),
        ("max.in.flight", "6", [:]),
        ("partitioner", "random", [:]),
        ("queuing.strategy", "lifo", [:]),
        ("linger.ms", 5000, [:]),
        ("queue.buffering.max.ms", "1500.5", [:]),
        ("test.mock.num.brokers", 3, [:]),
    ]

    /// A property a dedicated key sets would override it silently and skip its checks
    /// (found in review: `security.protocol` here could send the SASL password in clear).
    @Test(arguments: [("security.protocol", "sasl_plaintext", "security_protocol"), ("bootstrap.servers", "evil:9092", "brokers"),
                      ("sasl.mechanisms", "PLAIN", "sasl_mechanism"), ("ssl.ca.location", "certs/ca.pem", "ssl_ca_file"),
                      ("enable.ssl.certificate.verification", "false", "ssl_verify"), ("compression.type", "none", "compression")])
    func propertiesADedicatedKeySetsAreRefused(name: String, value: String, key: String) {
        do {
            _ = try KafkaConfig(Self.config(name, .string(value)))
            Issue.record("accepted properties.\(name)")
        } catch {
            #expect(error.message.contains("key \"properties.\(name)\"") && error.message.contains("\"\(key)\" key"), "\(error.message)")
        }
    }

    /// Lingering only delays a producer that waits for each record: 0 unless asked.
    @Test func lingerDefaultsToZero() throws {
        let config = try KafkaConfig(.object(["brokers": "k1:9092", "topic": "alerts"]))
        #expect(config.properties().last { $0.property == "linger.ms" }?.value == "0")
    }

    @Test(arguments: refused)
    func propertiesThatBreakTheGuaranteesAreRefusedByName(name: String, value: JSONValue, extra: [String: JSONValue]) {
        do {
            _ = try KafkaConfig(Self.config(name, value, extra))
            Issue.record("accepted properties.\(name): \(value)")
        } catch {
            #expect(error.message.contains("key \"properties.\(name)\""), "\(error.message)")
            #expect(error.message.contains("refused"), "\(error.message)")
        }
    }

    /// What stays allowed: the defaults spelled out, tuning that changes no guarantee, and
    /// what `idempotence: false` (the explicit opt-out) permits.
    static let allowed: [(String, JSONValue, [String: JSONValue])] = [
        ("linger.ms", 5, [:]),
        ("linger.ms", 1000, [:]),
        ("enable.gapless.guarantee", true, [:]),
        ("partitioner", "murmur2_random", [:]),
        ("max.in.flight", 5, [:]),
        ("max.in.flight", 100, ["idempotence": false, "acks": 1]),
        ("delivery.report.only.error", false, [:]),
        ("queuing.strategy", "fifo", [:]),
        ("queue.buffering.max.messages", 1000, [:]),
        ("topic.metadata.propagation.max.ms", 10_000, [:]),
        ("retries", 5, [:]),
    ]

    @Test(arguments: allowed)
    func harmlessPropertiesPassThrough(name: String, value: JSONValue, extra: [String: JSONValue]) throws {
        let config = try KafkaConfig(Self.config(name, value, extra))
        #expect(config.properties().contains { $0.property == name })
    }
}

/// `validate`'s dry run (CANO_CREATE_VALIDATE_ONLY) starts no producer: an idempotent one
/// would contact the brokers at once. The instance it makes delivers nothing.
@Suite struct KafkaValidateOnlyTests {
    @Test func validateOnlyStartsNoProducer() async throws {
        _ = ProcessSetupForKafka.curl
        let plugin = try PluginLoader.load(path: try BuildProducts.plugin("CanoKafka"))
        let config = Array(#"{"brokers":"127.0.0.1:1","topic":"alerts"}"#.utf8)
        let services = PluginServices(logger: Logger(label: "t"), store: InMemoryKeyValueStore(), metrics: Metrics())
        let issueJSON = try IssueCoding.encode(Sample.issue())
        let result = await BlockingThread.run { () -> (status: Int32, message: String) in
            guard let instance = try? PluginInstance(plugin: plugin, name: "k", configJSON: config, services: services, flags: .validateOnly) else {
                return (0, "create failed")
            }
            defer { instance.destroy() }
            let context = DeliveryContext(attempt: 1, deadlineUnixMillis: Int64(Date().timeIntervalSince1970 * 1000) + 1000,
                                          deadline: .now + .seconds(1), idempotencyKey: "k", reference: nil)
            let called = instance.call(.deliver, issueJSON: issueJSON, context: context)
            return (called.status, called.message)
        }
        #expect(result.status == 3, "PERMANENT: \(result)")
        #expect(result.message.contains("created by validate"), "\(result.message)")
    }
}

enum ProcessSetupForKafka {
    static let curl: Void = HTTPClient.initializeProcess()
}
