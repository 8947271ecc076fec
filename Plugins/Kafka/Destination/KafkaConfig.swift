import CanoSDK

/// The `kafka` destination's settings, parsed from its `config` block (snake_case keys).
///
/// ```yaml
/// config:
///   brokers: [kafka-0.kafka:9093, kafka-1.kafka:9093]   # or "host:port,host:port"
///   topic: alerts-{{namespace}}                # or a plain name; see TopicTemplate
///   default_topic: alerts-cluster              # for Issues the template cannot name a topic for
///   security_protocol: sasl_ssl                # plaintext (default), ssl, sasl_plaintext, sasl_ssl
///   sasl_mechanism: SCRAM-SHA-512              # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
///   sasl_username: cano
///   sasl_password_file: /etc/cano-collector/secrets/kafka/password
///   ssl_ca_file: /etc/cano-collector/kafka-ca.pem
///   compression: zstd
///   message_timeout: 10s
/// ```
///
/// Each key maps to one librdkafka property (``properties()``); `properties:` passes any
/// other librdkafka producer property through, except those ``refusal(property:value:idempotence:)``
/// names. Error messages name the key and never repeat a value (a password, or a typo of one).
public struct KafkaConfig: Sendable {
    /// Keys this destination understands; anything else is a typo and an error.
    static let knownKeys: Set<String> = [
        "brokers", "topic", "default_topic", "client_id", "acks", "idempotence", "compression", "message_timeout", "message_max_bytes",
        "flush_timeout", "security_protocol", "sasl_mechanism", "sasl_username", "sasl_password",
        "ssl_ca_file", "ssl_certificate_file", "ssl_key_file", "ssl_key_password", "ssl_verify", "properties",
    ]
    /// Config keys holding a path librdkafka opens itself: the host passes them through
    /// instead of reading the file into a secret (descriptor `path_keys`).
    public static let pathKeys = ["ssl_ca_file", "ssl_certificate_file", "ssl_key_file"]
    static let protocols = ["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"]
    static let mechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
    static let compressions = ["none", "gzip", "snappy", "lz4", "zstd"]
    /// librdkafka's own default for `message.timeout.ms` is 300 s, far longer than a
    /// delivery deadline (`delivery.timeout`, 15 s by default). 10 s makes a record that
    /// cannot be sent fail inside the call, so the host retries it, instead of lingering in
    /// the producer queue after the call gave up and landing later as a duplicate.
    public static let defaultMessageTimeout: Duration = .seconds(10)
    /// How long a record to a topic the cluster does not know waits before it fails with
    /// UNKNOWN_TOPIC_OR_PART (librdkafka's `topic.metadata.propagation.max.ms`).
    public static let unknownTopicTimeout: Duration = .seconds(5)
    /// How long destroy() waits for records still in flight before dropping them.
    public static let defaultFlushTimeout: Duration = .seconds(5)

    /// `bootstrap.servers`: "host:port" entries.
    public var brokers: [String]
    /// The topic each Issue goes to: a name, or a template resolved per Issue.
    public var topic: TopicTemplate
    /// Where an Issue goes when ``topic`` is a template that makes no topic for it (a
    /// missing value, a name too long); nil: such an Issue fails permanently.
    public var defaultTopic: String?
    /// `client.id`: names the collector in broker logs and quotas.
    public var clientID = "cano-collector"
    /// `acks`: "all" (default), "1" or "0".
    public var acks = "all"
    /// `enable.idempotence` (default true): no duplicates from the producer's own retries,
    /// and retries never reorder a partition.
    public var idempotence = true
    /// `compression.type`, when set.
    public var compression: String?
    /// `message.timeout.ms`: how long librdkafka tries one record before failing it.
    public var messageTimeout = KafkaConfig.defaultMessageTimeout
    /// `message.max.bytes`, when set.
    public var messageMaxBytes: Int?
    /// The bounded wait for in-flight records when the instance is destroyed.
    public var flushTimeout = KafkaConfig.defaultFlushTimeout
    /// `security.protocol`: plaintext, ssl, sasl_plaintext or sasl_ssl (nil: librdkafka's plaintext).
    public var securityProtocol: String?
    /// `sasl.mechanisms`: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
    public var saslMechanism: String?
    /// `sasl.username`.
    public var saslUsername: String?
    /// `sasl.password`: a secret, never shown (users write `sasl_password_file`).
    public var saslPassword: String?
    /// `ssl.ca.location`: a path librdkafka reads.
    public var sslCAFile: String?
    /// `ssl.certificate.location`, for mutual TLS.
    public var sslCertificateFile: String?
    /// `ssl.key.location`, for mutual TLS.
    public var sslKeyFile: String?
    /// `ssl.key.password`: a secret, never shown.
    public var sslKeyPassword: String?
    /// `enable.ssl.certificate.verification`, when set.
    public var sslVerify: Bool?
    /// Extra librdkafka properties, applied after the keys above.
    public var extra: [(String, String)] = []

    /// What no result or log line may contain.
    public var secrets: [String] { [saslPassword, sslKeyPassword].compactMap { $0 } }

    /// Parses and checks a `config` object.
    /// - Throws: ``PluginError`` naming the offending key, never echoing a secret.
    public init(_ json: JSONValue) throws(PluginError) {
        guard case .object(let object) = json else { throw PluginError("config must be an object") }
        if let unknown = object.keys.sorted().first(where: { !Self.knownKeys.contains($0) }) {
            throw PluginError("unknown config key \"\(BoundedEcho.cap(unknown, limit: 64))\" (known: \(Self.knownKeys.sorted().joined(separator: ", ")))")
        }

        switch object["brokers"] {
        case .string(let text)?:
            brokers = text.split(separator: ",").map { $0.trimmedOfWhitespace }.filter { !$0.isEmpty }
        case .array?:
            brokers = try ConfigValues.strings(object["brokers"] ?? .null, key: "brokers").map { $0.trimmedOfWhitespace }
        case nil, .null?:
            throw PluginError("missing required key \"brokers\" (host:port of one or more brokers)")
        default:
            throw PluginError("key \"brokers\": expected \"host:port,host:port\" or a list of host:port")
        }
        guard !brokers.isEmpty else { throw PluginError("key \"brokers\": expected at least one host:port") }
        for broker in brokers where !Self.isHostPort(broker) {
            throw PluginError("key \"brokers\": \"\(BoundedEcho.cap(broker, limit: 64))\" is not host:port")
        }

        guard let topicText = try Self.string(object, "topic") else { throw PluginError("missing required key \"topic\"") }
        topic = try TopicTemplate(topicText)
        defaultTopic = try Self.string(object, "default_topic")
        if let defaultTopic {
            // A literal, so that the fallback itself can never fail to resolve.
            guard Self.isTopicName(defaultTopic) else {
                throw PluginError("key \"default_topic\": expected a topic name of 1-249 characters of a-z, A-Z, 0-9, '.', '_' or '-' (no {{placeholders}})")
            }
            guard !topic.isLiteral else {
                throw PluginError("key \"default_topic\": only used when \"topic\" has a {{placeholder}}; with a plain topic every Issue goes there")
            }
        }
        if let id = try Self.string(object, "client_id") { clientID = id }
        switch object["acks"] {
        case nil, .null?: break
        case .string(let text)? where ["all", "-1", "1", "0"].contains(text.lowercased()): acks = text.lowercased() == "-1" ? "all" : text.lowercased()
        case .number(let n)? where n == 1 || n == 0 || n == -1: acks = n == -1 ? "all" : String(Int(n))
        default: throw PluginError("key \"acks\": expected all, 1 or 0")
        }
        if let flag = try ConfigValues.bool(object["idempotence"], key: "idempotence") { idempotence = flag }
        if idempotence && acks != "all" {
            throw PluginError("key \"acks\": an idempotent producer needs acks: all (or set idempotence: false)")
        }
        if let text = try Self.string(object, "compression") {
            guard Self.compressions.contains(text.lowercased()) else {
                throw PluginError("key \"compression\": expected one of \(Self.compressions.joined(separator: ", "))")
            }
            compression = text.lowercased()
        }
        messageTimeout = try ConfigValues.timeout(object["message_timeout"], key: "message_timeout", fallback: Self.defaultMessageTimeout)
        flushTimeout = try ConfigValues.timeout(object["flush_timeout"], key: "flush_timeout", fallback: Self.defaultFlushTimeout)
        switch object["message_max_bytes"] {
        case nil, .null?: break
        case .number(let n)? where n.rounded() == n && n >= 1000 && n <= 1_000_000_000: messageMaxBytes = Int(n)
        default: throw PluginError("key \"message_max_bytes\": expected a whole number of bytes between 1000 and 1000000000")
        }

        if let text = try Self.string(object, "security_protocol") {
            guard Self.protocols.contains(text.lowercased()) else {
                throw PluginError("key \"security_protocol\": expected one of \(Self.protocols.joined(separator: ", "))")
            }
            securityProtocol = text.lowercased()
        }
        if let text = try Self.string(object, "sasl_mechanism") {
            guard Self.mechanisms.contains(text.uppercased()) else {
                throw PluginError("key \"sasl_mechanism\": expected one of \(Self.mechanisms.joined(separator: ", ")) "
                                  + "(others through properties: {sasl.mechanisms: ...})")
            }
            saslMechanism = text.uppercased()
        }
        saslUsername = try Self.string(object, "sasl_username")
        saslPassword = try Self.string(object, "sasl_password")
        let usesSASL = securityProtocol?.hasPrefix("sasl_") == true
        if (saslUsername != nil) != (saslPassword != nil) {
            throw PluginError("keys \"sasl_username\" and \"sasl_password\" (or sasl_password_file) go together")
        }
        if saslUsername != nil && !usesSASL {
            throw PluginError("key \"sasl_username\": set security_protocol to sasl_ssl (or sasl_plaintext) to use SASL credentials")
        }
        if usesSASL && saslMechanism == nil && saslUsername != nil { saslMechanism = "PLAIN" }

        sslCAFile = try Self.string(object, "ssl_ca_file")
        sslCertificateFile = try Self.string(object, "ssl_certificate_file")
        sslKeyFile = try Self.string(object, "ssl_key_file")
        sslKeyPassword = try Self.string(object, "ssl_key_password")
        sslVerify = try ConfigValues.bool(object["ssl_verify"], key: "ssl_verify")
        let usesTLS = securityProtocol == "ssl" || securityProtocol == "sasl_ssl"
        if !usesTLS, let key = ["ssl_ca_file", "ssl_certificate_file", "ssl_key_file", "ssl_key_password", "ssl_verify"].first(where: { object[$0] != nil && object[$0] != .null }) {
            throw PluginError("key \"\(key)\": set security_protocol to ssl (or sasl_ssl) to use TLS settings")
        }
        if (sslCertificateFile != nil) != (sslKeyFile != nil) {
            throw PluginError("keys \"ssl_certificate_file\" and \"ssl_key_file\" go together (mutual TLS)")
        }

        switch object["properties"] {
        case nil, .null?: break
        case .object(let props)?:
            for name in props.keys.sorted() {
                let lower = name.lowercased()
                // A password here would escape the secret handling (redaction, *_file) that
                // sasl_password and ssl_key_password get.
                if lower.contains("password") || lower.contains("secret") || lower.hasSuffix(".pem") {
                    throw PluginError("key \"properties\": \"\(BoundedEcho.cap(name, limit: 64))\" holds a secret; use sasl_password or ssl_key_password (with _file)")
                }
                let value: String
                switch props[name] {
                case .string(let text)?: value = text
                case .bool(let flag)?: value = flag ? "true" : "false"
                case .number(let n)? where n.rounded() == n && abs(n) < 1e15: value = String(Int64(n))
                default: throw PluginError("key \"properties\": \"\(BoundedEcho.cap(name, limit: 64))\" must be a string, number or boolean")
                }
                // A property a dedicated key sets would silently override it (and skip its
                // checks: security.protocol could send the SASL password in clear).
                if let key = Self.dedicatedKeys[lower] {
                    throw PluginError("key \"properties.\(BoundedEcho.cap(name, limit: 64))\": refused, set it with the \"\(key)\" key")
                }
                if let reason = Self.refusal(property: lower, value: value, idempotence: idempotence) {
                    throw PluginError("key \"properties.\(BoundedEcho.cap(name, limit: 64))\": refused, \(reason)")
                }
                extra.append((name, value))
            }
        default: throw PluginError("key \"properties\": expected an object of librdkafka properties")
        }
    }

    /// The producer's librdkafka properties, in the order they are set, each with the config
    /// key that produced it (for error messages).
    /// librdkafka properties set from a dedicated config key, by property: `properties`
    /// may not set them.
    static let dedicatedKeys: [String: String] = [
        "bootstrap.servers": "brokers", "metadata.broker.list": "brokers", "client.id": "client_id",
        "compression.type": "compression", "compression.codec": "compression", "message.max.bytes": "message_max_bytes",
        "security.protocol": "security_protocol", "sasl.mechanisms": "sasl_mechanism", "sasl.mechanism": "sasl_mechanism",
        "sasl.username": "sasl_username", "ssl.ca.location": "ssl_ca_file", "ssl.certificate.location": "ssl_certificate_file",
        "ssl.key.location": "ssl_key_file", "enable.ssl.certificate.verification": "ssl_verify",
    ]

    public func properties() -> [(property: String, value: String, key: String)] {
        var out: [(String, String, String)] = [
            ("bootstrap.servers", brokers.joined(separator: ","), "brokers"),
            ("client.id", clientID, "client_id"),
            ("enable.idempotence", idempotence ? "true" : "false", "idempotence"),
            ("acks", acks, "acks"),
            ("message.timeout.ms", String(Self.milliseconds(messageTimeout)), "message_timeout"),
        ]
        // An unknown topic fails its records only after this long (librdkafka's default is
        // 30 s, longer than most delivery deadlines, which would turn a permanent mistake
        // into endless retries). `properties` may override it.
        out.append(("topic.metadata.propagation.max.ms", String(Self.milliseconds(Self.unknownTopicTimeout)), "properties"))
        // Each delivery waits for its own record, one call at a time: lingering to batch
        // only adds librdkafka's 5 ms default to every call (185 → 13,000 Issues/s on the
        // mock cluster). `properties` may set it back, up to ``maxLinger``.
        out.append(("linger.ms", "0", "properties"))
        if let compression { out.append(("compression.type", compression, "compression")) }
        if let messageMaxBytes { out.append(("message.max.bytes", String(messageMaxBytes), "message_max_bytes")) }
        if let securityProtocol { out.append(("security.protocol", securityProtocol, "security_protocol")) }
        if let saslMechanism { out.append(("sasl.mechanisms", saslMechanism, "sasl_mechanism")) }
        if let saslUsername { out.append(("sasl.username", saslUsername, "sasl_username")) }
        if let saslPassword { out.append(("sasl.password", saslPassword, "sasl_password")) }
        if let sslCAFile { out.append(("ssl.ca.location", sslCAFile, "ssl_ca_file")) }
        if let sslCertificateFile { out.append(("ssl.certificate.location", sslCertificateFile, "ssl_certificate_file")) }
        if let sslKeyFile { out.append(("ssl.key.location", sslKeyFile, "ssl_key_file")) }
        if let sslKeyPassword { out.append(("ssl.key.password", sslKeyPassword, "ssl_key_password")) }
        if let sslVerify { out.append(("enable.ssl.certificate.verification", sslVerify ? "true" : "false", "ssl_verify")) }
        for (name, value) in extra { out.append((name, value, "properties.\(name)")) }
        return out
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    private static func string(_ object: [String: JSONValue], _ key: String) throws(PluginError) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let text)? where !text.isEmpty: return text
        default: throw PluginError("key \"\(key)\": expected a non-empty string")
        }
    }

    /// "host:port" with a non-empty host and a port in 1...65535 (IPv6 in brackets).
    static func isHostPort(_ text: String) -> Bool {
        guard let colon = text.lastIndex(of: ":"), !text.contains(where: { $0.isWhitespace || $0 == "/" }) else { return false }
        let host = text[..<colon]
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return false }
        return true
    }

    /// Kafka's topic name rule: `[a-zA-Z0-9._-]{1,249}`, and neither `.` nor `..`.
    static func isTopicName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= TopicTemplate.maxLength && text != "." && text != ".."
            && text.allSatisfy(TopicTemplate.isTopicCharacter)
    }

    /// The longest `linger.ms` accepted through `properties`. Each delivery waits for its
    /// own record, one call at a time, so lingering batches nothing and only delays it.
    public static let maxLinger = 1000

    /// Why the librdkafka property `property` (lower case) set to `value` through
    /// `properties` would break what the destination promises (docs/kafka.md §2.2); nil
    /// when it may pass through. librdkafka itself refuses values it cannot parse, so a
    /// value this cannot read (`linger.ms: soon`) passes here and fails there.
    static func refusal(property: String, value: String, idempotence: Bool) -> String? {
        let lower = value.lowercased()
        // librdkafka's booleans: true/t/1 and false/f/0.
        let truthy = ["true", "t", "1"].contains(lower)
        // (A `where` after several patterns guards only the last, hence one pattern per case.)
        let tooManyInFlight = idempotence && (Int(value).map { $0 > 5 } ?? false)
        let lingersTooLong = Double(value).map { $0 > Double(maxLinger) } ?? false
        switch property {
        case "enable.idempotence":
            return "set the idempotence key instead (idempotence: false is the explicit opt-out, checked against acks)"
        case "acks", "request.required.acks":
            return "set the acks key instead (checked against idempotence)"
        case "message.timeout.ms", "delivery.timeout.ms":
            return "set message_timeout instead (at most 300s, never 0 = infinite: a record must fail inside the delivery deadline, not land later as a duplicate)"
        case "transactional.id":
            return "a transactional producer refuses records sent outside a transaction, and this destination uses none"
        case "delivery.report.only.error":
            return truthy ? "without a report for each stored record every delivery would wait out its deadline and be sent again" : nil
        case "max.in.flight.requests.per.connection", "max.in.flight":
            return tooManyInFlight ? "the idempotent producer keeps a partition's order only with at most 5 requests in flight" : nil
        case "partitioner":
            return lower == "random" ? "the random partitioner ignores the key, so one alert's firing and resolve could land on different partitions, out of order" : nil
        case "queuing.strategy":
            return lower == "lifo" ? "LIFO sends newer records first, out of order" : nil
        case "linger.ms", "queue.buffering.max.ms":
            return lingersTooLong ? "each delivery waits for its own record, so lingering only delays it; at most \(maxLinger) ms" : nil
        default:
            if property.hasPrefix("test.") {
                return "test.* settings (test.mock.num.brokers) send records to an in-process mock cluster instead of the brokers"
            }
            return nil
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing whitespace ("a:9092, b:9092" splits into clean entries).
    var trimmedOfWhitespace: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
