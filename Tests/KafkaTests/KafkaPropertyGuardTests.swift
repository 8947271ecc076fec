import CanoSDK
import Testing
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
