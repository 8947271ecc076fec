import CanoSDK
import Testing
@testable import KafkaDestination

/// Config parsing and librdkafka's own refusals, which name the key and never a secret.
@Suite struct KafkaConfigTests {
    let password = "kafka-S3cret-pa55word-0042"

    @Test func defaultsAreAnIdempotentProducerWithAcksAll() throws {
        let config = try KafkaConfig(["brokers": "k1:9092, k2:9092", "topic": "alerts"])
        #expect(config.brokers == ["k1:9092", "k2:9092"])
        let properties = Dictionary(config.properties().map { ($0.property, $0.value) }, uniquingKeysWith: { $1 })
        #expect(properties["bootstrap.servers"] == "k1:9092,k2:9092")
        #expect(properties["enable.idempotence"] == "true")
        #expect(properties["acks"] == "all")
        #expect(properties["message.timeout.ms"] == "10000")
        #expect(properties["topic.metadata.propagation.max.ms"] == "5000")
        #expect(properties["sasl.password"] == nil)
    }

    @Test func saslAndTLSKeysMapToLibrdkafkaProperties() throws {
        let config = try KafkaConfig([
            "brokers": ["k1:9093"], "topic": "alerts", "security_protocol": "SASL_SSL", "sasl_mechanism": "scram-sha-512",
            "sasl_username": "cano", "sasl_password": .string(password), "ssl_ca_file": "/etc/ca.pem", "ssl_verify": true,
            "compression": "zstd", "properties": ["linger.ms": 5],
        ])
        let properties = Dictionary(config.properties().map { ($0.property, $0.value) }, uniquingKeysWith: { $1 })
        #expect(properties["security.protocol"] == "sasl_ssl")
        #expect(properties["sasl.mechanisms"] == "SCRAM-SHA-512")
        #expect(properties["sasl.username"] == "cano")
        #expect(properties["sasl.password"] == password)
        #expect(properties["ssl.ca.location"] == "/etc/ca.pem")
        #expect(properties["enable.ssl.certificate.verification"] == "true")
        #expect(properties["compression.type"] == "zstd")
        #expect(properties["linger.ms"] == "5")
        #expect(config.secrets == [password])
        #expect(Kafka.pathKeys.contains("ssl_ca_file"))
    }

    static let badConfigs: [(JSONValue, String)] = [
        (["topic": "alerts"], "missing required key \"brokers\""),
        (["brokers": "k1", "topic": "alerts"], "is not host:port"),
        (["brokers": "k1:9092"], "missing required key \"topic\""),
        (["brokers": "k1:9092", "topic": "a b"], "key \"topic\""),
        (["brokers": "k1:9092", "topic": "t", "acks": 1], "idempotent producer needs acks: all"),
        (["brokers": "k1:9092", "topic": "t", "compression": "brotli"], "key \"compression\""),
        (["brokers": "k1:9092", "topic": "t", "sasl_username": "u", "sasl_password": "kafka-S3cret-pa55word-0042"], "set security_protocol"),
        (["brokers": "k1:9092", "topic": "t", "ssl_ca_file": "/ca.pem"], "key \"ssl_ca_file\""),
        (["brokers": "k1:9092", "topic": "t", "properties": ["sasl.password": "kafka-S3cret-pa55word-0042"]], "holds a secret"),
        (["brokers": "k1:9092", "topic": "t", "tpoic": "x"], "unknown config key \"tpoic\""),
    ]

    @Test(arguments: badConfigs)
    func badConfigsAreRefusedNamingTheKey(json: JSONValue, expected: String) {
        do {
            _ = try KafkaConfig(json)
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(!error.message.contains(password))
        }
    }

    /// A property librdkafka refuses is reported with its config key and librdkafka's reason.
    @Test func librdkafkaRefusalsNameTheProperty() throws {
        let config = try KafkaConfig(["brokers": "127.0.0.1:9", "topic": "t", "properties": ["linger.ms": "soon"]])
        do {
            _ = try KafkaNotifier(config: config) { _, _, _ in }
            Issue.record("librdkafka accepted linger.ms: soon")
        } catch {
            #expect(error.message.contains("key \"properties.linger.ms\""), "\(error.message)")
            #expect(error.message.contains("linger.ms"), "\(error.message)")
        }
    }

    /// rd_kafka_new's refusal (a CA file that does not exist) fails create, and even a
    /// refusal that would quote the key password does not.
    @Test func producerCreationErrorsAreSurfacedWithoutSecrets() throws {
        let config = try KafkaConfig([
            "brokers": "127.0.0.1:9", "topic": "t", "security_protocol": "ssl",
            "ssl_ca_file": "/nonexistent/kafka-ca.pem", "ssl_key_password": .string(password),
        ])
        do {
            _ = try KafkaNotifier(config: config) { _, _, _ in }
            Issue.record("librdkafka accepted a missing CA file")
        } catch {
            #expect(error.message.contains("ssl.ca.location") || error.message.contains("kafka-ca.pem"), "\(error.message)")
            #expect(!error.message.contains(password))
        }
    }
}
