import CanoSDK
import Foundation
import Testing
import TestSupport
@testable import KafkaDestination

/// `topic` as a template (`alerts-{{namespace}}`): checked at create, resolved per Issue,
/// against librdkafka's mock cluster. Written against the config JSON only, so the same
/// tests ran (and failed) before templates existed.
@Suite struct KafkaTopicTemplateTests {
    static func config(_ mock: MockCluster, topic: String, defaultTopic: String? = nil) -> JSONValue {
        var config: [String: JSONValue] = ["brokers": .string(mock.bootstraps), "topic": .string(topic)]
        if let defaultTopic { config["default_topic"] = .string(defaultTopic) }
        return .object(config)
    }

    /// Each namespace's records land in its own topic; within a topic, one alert's firing
    /// and resolve still share a partition and keep their order.
    @Test func recordsLandInTheirNamespacesTopicInOrderPerKey() async throws {
        let mock = try await MockCluster.start()
        mock.createTopic("alerts-shop")
        mock.createTopic("alerts-billing")
        let producer = try await Producer.make(Self.config(mock, topic: "alerts-{{namespace}}"))
        let alerts = [("shop", "aaaa0001"), ("billing", "bbbb0002"), ("shop", "cccc0003"), ("billing", "dddd0004"), ("shop", "eeee0005")]
        for (namespace, fingerprint) in alerts {
            let result = try await producer.deliver(Sample.issue(.firing, fingerprint: fingerprint, namespace: namespace))
            guard case .delivered(let reference?, let message) = result else {
                Issue.record("expected delivered, got \(result)")
                await producer.close(); await mock.stop(); return
            }
            #expect(reference.hasPrefix("alerts-\(namespace)/"), "\(reference)")
            #expect(message.contains("topic alerts-\(namespace)"), "\(message)")
        }
        for (namespace, fingerprint) in alerts.reversed() {
            #expect(try await producer.deliver(Sample.issue(.resolved, fingerprint: fingerprint, namespace: namespace)).isDelivered)
        }
        for namespace in ["shop", "billing"] {
            let mine = alerts.filter { $0.0 == namespace }.map(\.1)
            let records = try await mock.records(topic: "alerts-\(namespace)", count: mine.count * 2)
            #expect(records.count == mine.count * 2, "\(namespace): \(records.count) records")
            #expect(Set(records.compactMap(\.key)) == Set(mine), "only \(namespace)'s alerts in alerts-\(namespace)")
            for fingerprint in mine {
                let ordered = records.filter { $0.key == fingerprint }.sorted { $0.offset < $1.offset }
                #expect(Set(ordered.map(\.partition)).count == 1, "\(fingerprint) landed on one partition")
                #expect(ordered.map { $0.issue?.status } == [.firing, .resolved])
            }
        }
        await producer.close()
        await mock.stop()
    }

    /// An Issue without the value (a node alert has no namespace) goes to `default_topic`,
    /// and the result says why.
    @Test func anIssueWithoutTheValueGoesToTheDefaultTopic() async throws {
        let mock = try await MockCluster.start()
        mock.createTopic("alerts-cluster")
        let producer = try await Producer.make(Self.config(mock, topic: "alerts-{{namespace}}", defaultTopic: "alerts-cluster"))
        let result = try await producer.deliver(Sample.issue(.firing, fingerprint: "node0001", namespace: nil))
        guard case .delivered(let reference?, let message) = result else {
            Issue.record("expected delivered, got \(result)")
            await producer.close(); await mock.stop(); return
        }
        #expect(reference.hasPrefix("alerts-cluster/"), "\(reference)")
        #expect(message.contains("default_topic"), "\(message)")
        #expect(message.contains("namespace"), "\(message)")
        let records = try await mock.records(topic: "alerts-cluster", count: 1)
        #expect(records.map(\.key) == ["node0001"])
        await producer.close()
        await mock.stop()
    }

    /// Without `default_topic` such an Issue is dead-lettered at once: no retry gives it a
    /// namespace.
    @Test func anIssueWithoutTheValueAndNoDefaultTopicIsPermanent() async throws {
        let mock = try await MockCluster.start()
        let producer = try await Producer.make(Self.config(mock, topic: "alerts-{{namespace}}"))
        let result = try await producer.deliver(Sample.issue(.firing, fingerprint: "node0002", namespace: nil))
        guard case .permanent(let message) = result else {
            Issue.record("expected permanent, got \(result)")
            await producer.close(); await mock.stop(); return
        }
        #expect(message.contains("alerts-{{namespace}}"), "\(message)")
        #expect(message.contains("namespace"), "\(message)")
        #expect(message.contains("default_topic"), "\(message)")
        await producer.close()
        await mock.stop()
    }

    /// A value with characters Kafka does not allow in a topic name has each replaced by
    /// `_`; severity is lower case, status as in the Issue.
    @Test func valuesAreMadeIntoLegalTopicNames() async throws {
        let mock = try await MockCluster.start()
        mock.createTopic("alerts-payments_eu_west-high-firing")
        let producer = try await Producer.make(Self.config(mock, topic: "alerts-{{labels.team}}-{{ severity }}-{{status}}"))
        let result = try await producer.deliver(Sample.issue(.firing, fingerprint: "team0001", labels: ["team": "payments/eu west"]))
        guard case .delivered(let reference?, _) = result else {
            Issue.record("expected delivered, got \(result)")
            await producer.close(); await mock.stop(); return
        }
        #expect(reference.hasPrefix("alerts-payments_eu_west-high-firing/"), "\(reference)")
        await producer.close()
        await mock.stop()
    }

    /// A value that makes the name longer than Kafka allows (249) is refused like a missing
    /// one: to `default_topic` if set, else permanent.
    @Test func aTooLongTopicIsPermanentWithoutDefault() async throws {
        let mock = try await MockCluster.start()
        let producer = try await Producer.make(Self.config(mock, topic: "alerts-{{labels.team}}"))
        let result = try await producer.deliver(Sample.issue(.firing, fingerprint: "long0001", labels: ["team": String(repeating: "t", count: 300)]))
        guard case .permanent(let message) = result else {
            Issue.record("expected permanent, got \(result)")
            await producer.close(); await mock.stop(); return
        }
        #expect(message.contains("249"), "\(message)")
        await producer.close()
        await mock.stop()
    }

    @Test func templatesAreAcceptedAtCreate() throws {
        _ = try KafkaConfig(["brokers": "k1:9092", "topic": "alerts-{{ namespace }}.{{cluster}}_{{source}}-{{severity}}-{{status}}-{{type}}-{{kind}}-{{labels.team}}-{{annotations.owner}}",
                             "default_topic": "alerts"])
    }

    static let badTemplates: [(JSONValue, String)] = [
        (["brokers": "k1:9092", "topic": "alerts-{{nmespace}}"], "unknown placeholder \"nmespace\""),
        (["brokers": "k1:9092", "topic": "alerts-{{labels.}}"], "unknown placeholder \"labels.\""),
        (["brokers": "k1:9092", "topic": "alerts-{{namespace"], "unclosed {{"),
        (["brokers": "k1:9092", "topic": "alerts/{{namespace}}"], "outside {{...}}"),
        (["brokers": "k1:9092", "topic": "alerts", "default_topic": "other"], "only used when \"topic\" has a {{placeholder}}"),
        (["brokers": "k1:9092", "topic": "a-{{namespace}}", "default_topic": "no good"], "key \"default_topic\": expected"),
        (["brokers": "k1:9092", "topic": "a-{{namespace}}", "default_topic": "b-{{namespace}}"], "key \"default_topic\": expected"),
        (["brokers": "k1:9092", "topic": .string(String(repeating: "x", count: 240) + "{{namespace}}{{cluster}}{{source}}{{status}}{{type}}{{kind}}{{severity}}{{labels.a}}{{labels.b}}{{labels.c}}")], "longer than Kafka's limit of 249"),
    ]

    @Test(arguments: badTemplates)
    func badTemplatesAreRefusedAtCreateByName(json: JSONValue, expected: String) {
        do {
            _ = try KafkaConfig(json)
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }
}
