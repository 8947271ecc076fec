import CRdKafka

/// librdkafka error codes as delivery results: which are worth retrying, and how to name
/// them in a message.
public enum KafkaError {
    /// Codes that will fail again however often the record is sent: the topic does not
    /// exist (and the broker does not create it), the record is too large, the principal
    /// may not write, the broker refuses the request as malformed or against policy.
    /// Everything else (timeouts, transport errors, leader elections, not enough in-sync
    /// replicas, a full queue) is retried, because failing safe loses nothing.
    public static let permanentCodes: Set<Int32> = [
        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION,
        RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE,
        RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION, RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS, RD_KAFKA_RESP_ERR_INVALID_RECORD,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED,
        RD_KAFKA_RESP_ERR_POLICY_VIOLATION, RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT, RD_KAFKA_RESP_ERR__INVALID_ARG,
    ].map(\.rawValue).reduce(into: Set<Int32>()) { $0.insert($1) }

    /// True when sending the same record again cannot succeed.
    public static func isPermanent(_ code: Int32) -> Bool { permanentCodes.contains(code) }

    /// librdkafka's symbolic name ("MSG_SIZE_TOO_LARGE", "_MSG_TIMED_OUT").
    public static func name(_ code: Int32) -> String {
        String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: code)))
    }

    /// librdkafka's description ("Broker: Message size too large").
    public static func text(_ code: Int32) -> String {
        String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(rawValue: code)))
    }

    /// "NAME (text)", as results show it.
    public static func describe(_ code: Int32) -> String { "\(name(code)) (\(text(code)))" }
}
