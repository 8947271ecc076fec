import CanoSDK

/// The `kafka` destination as the host loads it: one librdkafka producer per configured
/// destination, each Issue one record on the configured topic (or the topic its `topic`
/// template names, e.g. `alerts-{{namespace}}`). Exported from the `CanoKafka` library by
/// `Plugins/Kafka/Entry`.
///
/// - Value: the Issue JSON; key: the fingerprint (firing and resolve of one alert stay in
///   one partition, in order); headers carry the idempotency key, schema version, type,
///   status, severity and source.
/// - `properties` that would break these guarantees are refused at create, by name.
/// - Idempotent producer with `acks=all` by default.
/// - Results: delivered once librdkafka's delivery report says so; retriable librdkafka
///   errors and a deadline without a report retry; an unknown topic, a record too large or
///   an authorization failure is permanent, with librdkafka's error name and text.
/// - `sasl_password` and `ssl_key_password` never appear in a result or log line.
///
/// See docs/kafka.md for the config reference.
public final class Kafka: DestinationPlugin {
    /// The type name in config: `type: kafka`.
    public static let name = "kafka"
    /// This plugin's version.
    public static let version = "1.1.0"
    /// TLS files librdkafka opens itself; see ``KafkaConfig/pathKeys``.
    public static var pathKeys: [String] { KafkaConfig.pathKeys }

    /// Nil for `validate`'s dry run, which delivers nothing.
    let notifier: KafkaNotifier?

    /// Validates the config and creates the producer. An idempotent producer asks the
    /// brokers for a producer id as soon as it exists, so `validate` (validate-only) only
    /// has librdkafka check every property, and starts no producer.
    public init(config: PluginConfig, host: HostServices) throws(PluginError) {
        let parsed = try KafkaConfig(config.json)
        let log: @Sendable (HostServices.LogLevel, String, [String: String]) -> Void = { level, message, fields in host.log(level, message, fields: fields) }
        if host.isValidateOnly {
            try KafkaProducer.check(config: parsed, events: ProducerEvents(secrets: parsed.secrets, log: log))
            notifier = nil
        } else {
            notifier = try KafkaNotifier(config: parsed, log: log)
        }
    }

    /// Sends the Issue and waits for its delivery report (blocks; runs on a host delivery thread).
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        notifier?.deliver(request) ?? .permanent(message: "this kafka instance was created by validate, which delivers nothing")
    }
}
