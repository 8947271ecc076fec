import CanoSDK
import CRdKafka
import Foundation
import Testing
import TestSupport
@testable import KafkaDestination

/// The notifier against librdkafka's mock cluster: what lands on the topic, in which
/// order, and how librdkafka's errors become delivery results.
@Suite struct KafkaDeliveryTests {
    static func config(_ mock: MockCluster, topic: String = "alerts", _ extra: [String: JSONValue] = [:]) -> JSONValue {
        var config: [String: JSONValue] = ["brokers": .string(mock.bootstraps), "topic": .string(topic)]
        for (k, v) in extra { config[k] = v }
        return .object(config)
    }

    @Test func recordCarriesTheFingerprintAsKeyAndTheIssueJSONAsValue() async throws {
        let mock = try await MockCluster.start()
        mock.createTopic("alerts")
        let producer = try await Producer.make(Self.config(mock))
        let issue = Sample.issue()
        let result = try await producer.deliver(issue, idempotencyKey: "idem-1")
        guard case .delivered(let reference?, let message) = result else {
            Issue.record("expected delivered, got \(result)")
            await producer.close(); await mock.stop(); return
        }
        #expect(reference.hasPrefix("alerts/"), "\(reference)")
        #expect(message.contains("topic alerts"))

        let records = try await mock.records(topic: "alerts", count: 1)
        let record = try #require(records.first)
        #expect(record.key == issue.fingerprint)
        #expect(record.value == (try IssueCoding.encode(issue)), "the value is the Issue JSON as the host sent it")
        #expect(record.issue?.id == issue.id)
        #expect(reference == "alerts/\(record.partition)@\(record.offset)")
        #expect(record.headers[KafkaNotifier.Header.idempotencyKey] == "idem-1")
        #expect(record.headers[KafkaNotifier.Header.fingerprint] == issue.fingerprint)
        #expect(record.headers[KafkaNotifier.Header.status] == "firing")
        #expect(record.headers[KafkaNotifier.Header.source] == "prometheus")
        #expect(record.headers[KafkaNotifier.Header.contentType] == "application/json")
        // Spelled out rather than through KafkaNotifier.Header: these names are the contract
        // consumers filter on (docs/kafka.md §3), and the values are the Issue JSON's own.
        #expect(record.headers["cano-schema-version"] == String(CanoSDK.Issue.currentSchemaVersion))
        #expect(record.headers["cano-type"] == "alert")
        #expect(record.headers["cano-severity"] == "HIGH")
        await producer.close()
        await mock.stop()
    }

    /// One alert's firing and resolve share a key, so a partition and its order, while
    /// other alerts' records go wherever their keys hash.
    @Test func firingThenResolveOfOneAlertStayInOrderOnOnePartition() async throws {
        let mock = try await MockCluster.start()
        mock.createTopic("alerts")
        let producer = try await Producer.make(Self.config(mock))
        let fingerprints = ["aaaa0001", "bbbb0002", "cccc0003", "dddd0004", "eeee0005"]
        for fingerprint in fingerprints {
            #expect(try await producer.deliver(Sample.issue(.firing, fingerprint: fingerprint)).isDelivered)
        }
        for fingerprint in fingerprints.reversed() {
            #expect(try await producer.deliver(Sample.issue(.resolved, fingerprint: fingerprint)).isDelivered)
        }
        let records = try await mock.records(topic: "alerts", count: 10)
        #expect(records.count == 10)
        for fingerprint in fingerprints {
            let mine = records.filter { $0.key == fingerprint }
            #expect(mine.count == 2)
            #expect(Set(mine.map(\.partition)).count == 1, "\(fingerprint) landed on one partition")
            let ordered = mine.sorted { $0.offset < $1.offset }
            #expect(ordered.map { $0.headers[KafkaNotifier.Header.status] } == ["firing", "resolved"])
            #expect(ordered.map { $0.issue?.status } == [.firing, .resolved])
        }
        #expect(Set(records.map(\.partition)).count > 1, "different keys spread over partitions")
        await producer.close()
        await mock.stop()
    }

    /// Errors that no retry fixes are dead-lettered at once, with librdkafka's name and text.
    @Test(arguments: [
        (RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, "MSG_SIZE_TOO_LARGE"),
        (RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "TOPIC_AUTHORIZATION_FAILED"),
    ])
    func brokerRefusalsArePermanent(code: rd_kafka_resp_err_t, name: String) async throws {
        let mock = try await MockCluster.start()
        mock.createTopic("alerts")
        mock.failProduce(code)
        let producer = try await Producer.make(Self.config(mock))
        let result = try await producer.deliver(Sample.issue())
        guard case .permanent(let message) = result else {
            Issue.record("expected permanent, got \(result)")
            await producer.close(); await mock.stop(); return
        }
        #expect(message.contains(name), "\(message)")
        #expect(message.contains(KafkaError.text(code.rawValue)), "\(message)")
        await producer.close()
        await mock.stop()
    }

    /// With auto-create off the broker answers UNKNOWN_TOPIC_OR_PART; after
    /// `KafkaConfig.unknownTopicTimeout` that fails the record, permanently.
    @Test func unknownTopicIsPermanent() async throws {
        let mock = try await MockCluster.start()
        mock.setTopicError("no-such-topic", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        let producer = try await Producer.make(Self.config(mock, topic: "no-such-topic"))
        let result = try await producer.deliver(Sample.issue(), within: .seconds(25))
        guard case .permanent(let message) = result else {
            Issue.record("expected permanent, got \(result)")
            await producer.close(); await mock.stop(); return
        }
        #expect(message.contains("UNKNOWN_TOPIC_OR_PART"), "\(message)")
        #expect(message.contains("no-such-topic"))
        await producer.close()
        await mock.stop()
    }

    /// A transient broker error is retried inside librdkafka (idempotently) and the call
    /// still reports the one delivery.
    @Test func aTransientErrorIsRetriedByTheProducer() async throws {
        let mock = try await MockCluster.start()
        mock.createTopic("alerts")
        mock.failProduce(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, count: 2)
        let producer = try await Producer.make(Self.config(mock))
        let result = try await producer.deliver(Sample.issue())
        #expect(result.isDelivered, "\(result)")
        let records = try await mock.records(topic: "alerts", count: 2, timeout: .seconds(3))
        #expect(records.count == 1, "the idempotent producer's retries wrote the record once")
        await producer.close()
        await mock.stop()
    }

    /// A retriable error that outlasts `message_timeout` fails the record, and the host
    /// is told to retry.
    @Test func aRetriableErrorThatPersistsIsRetry() async throws {
        let mock = try await MockCluster.start()
        mock.createTopic("alerts")
        mock.failProduce(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, count: 500)
        let producer = try await Producer.make(Self.config(mock, ["message_timeout": "1s"]))
        let result = try await producer.deliver(Sample.issue())
        guard case .retry(_, let message) = result else {
            Issue.record("expected retry, got \(result)")
            await producer.close(); await mock.stop(); return
        }
        #expect(message.contains("_MSG_TIMED_OUT"), "\(message)")
        await producer.close()
        await mock.stop()
    }

    /// No report before the call's deadline (the broker is down) is RETRY, returned at the
    /// deadline, not at librdkafka's longer message timeout. The record stays queued: once
    /// the broker is back it lands, and the late report is logged, not mistaken for the
    /// next delivery's.
    @Test func theDeadlineBoundsTheCall() async throws {
        let mock = try await MockCluster.start()
        mock.createTopic("alerts")
        mock.setBroker(1, up: false)
        let producer = try await Producer.make(Self.config(mock, ["message_timeout": "60s"]))
        let started = ContinuousClock.now
        let result = try await producer.deliver(Sample.issue(.firing, fingerprint: "late0001"), within: .milliseconds(1500))
        let elapsed = ContinuousClock.now - started
        guard case .retry(_, let message) = result else {
            Issue.record("expected retry, got \(result)")
            await producer.close(); await mock.stop(); return
        }
        #expect(message.contains("before the deadline"), "\(message)")
        #expect(elapsed >= .milliseconds(1400), "it waited for the deadline: \(elapsed)")
        #expect(elapsed < .seconds(8), "and not much longer: \(elapsed)")

        mock.setBroker(1, up: true)
        let next = try await producer.deliver(Sample.issue(.firing, fingerprint: "next0002"), within: .seconds(30))
        guard case .delivered(let reference?, _) = next else {
            Issue.record("expected delivered, got \(next)")
            await producer.close(); await mock.stop(); return
        }
        let records = try await mock.records(topic: "alerts", count: 2)
        let nextRecord = try #require(records.first { $0.key == "next0002" })
        #expect(reference == "alerts/\(nextRecord.partition)@\(nextRecord.offset)", "the reference is the second record's own")
        #expect(records.contains { $0.key == "late0001" }, "the timed-out record was still sent")
        await producer.close()
        #expect(producer.logs.all.contains { $0.contains("earlier delivery that passed its deadline was delivered") }, "\(producer.logs.all)")
        await mock.stop()
    }

    /// The SASL password reaches librdkafka but no result or log line, even when the
    /// connection fails (the mock cluster speaks no SASL, so nothing gets through).
    @Test func theSASLPasswordNeverLeaks() async throws {
        let password = "kafka-S3cret-pa55word-0042"
        let mock = try await MockCluster.start()
        mock.createTopic("alerts")
        let producer = try await Producer.make(Self.config(mock, [
            "security_protocol": "sasl_plaintext", "sasl_mechanism": "PLAIN", "sasl_username": "cano",
            "sasl_password": .string(password), "message_timeout": "2s",
        ]))
        let result = try await producer.deliver(Sample.issue(), within: .seconds(10))
        guard case .retry(_, let message) = result else {
            Issue.record("expected retry, got \(result)")
            await producer.close(); await mock.stop(); return
        }
        #expect(!message.contains(password))
        await producer.close()
        await mock.stop()
        #expect(!producer.logs.all.isEmpty, "librdkafka's logs reach the host")
        #expect(!producer.logs.all.contains { $0.contains(password) })
    }
}

extension DeliveryResult {
    var isDelivered: Bool {
        if case .delivered = self { return true }
        return false
    }
}

/// A call whose deadline has already passed sends nothing: a record it could not confirm
/// would only become a duplicate of the host's retry.
@Suite struct KafkaExpiredDeadlineTests {
    @Test func anExpiredDeadlineProducesNothing() async throws {
        let mock = try await MockCluster.start()
        mock.createTopic("alerts")
        let producer = try await Producer.make(KafkaDeliveryTests.config(mock))
        let result = try await producer.deliver(Sample.issue(.firing, fingerprint: "expired1"), within: .zero)
        guard case .retry(_, let message) = result else {
            Issue.record("expected retry, got \(result)")
            await producer.close(); await mock.stop(); return
        }
        #expect(message.contains("deadline had passed"), "\(message)")
        // A live delivery afterwards is the only record on the topic.
        #expect(try await producer.deliver(Sample.issue(.firing, fingerprint: "live0001")).isDelivered)
        let records = try await mock.records(topic: "alerts", count: 2, timeout: .seconds(3))
        #expect(records.map(\.key) == ["live0001"])
        await producer.close()
        await mock.stop()
    }
}

/// A record larger than `message_max_bytes` is refused by librdkafka before it is sent.
@Suite struct KafkaRecordSizeTests {
    @Test func aRecordOverMessageMaxBytesIsPermanent() async throws {
        let mock = try await MockCluster.start()
        mock.createTopic("alerts")
        let producer = try await Producer.make(KafkaDeliveryTests.config(mock, ["message_max_bytes": 2000]))
        var issue = Sample.issue()
        issue.description = String(repeating: "x", count: 5000)
        let result = try await producer.deliver(issue)
        guard case .permanent(let message) = result else {
            Issue.record("expected permanent, got \(result)")
            await producer.close(); await mock.stop(); return
        }
        #expect(message.contains("MSG_SIZE_TOO_LARGE"), "\(message)")
        await producer.close()
        await mock.stop()
    }
}
