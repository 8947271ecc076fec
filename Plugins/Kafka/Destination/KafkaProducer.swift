#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import CRdKafka
import Synchronization

/// What librdkafka's callbacks report back to one producer. They reach it through the
/// `rd_kafka_t`'s opaque pointer, so this object must outlive the handle (``KafkaProducer``
/// holds it until after `rd_kafka_destroy`).
final class ProducerEvents: Sendable {
    /// One record's delivery report.
    struct Report: Sendable, Equatable {
        var code: Int32
        var partition: Int32
        var offset: Int64
    }

    private struct State {
        /// The record deliver() is waiting for; reports of others (from a delivery that gave
        /// up at its deadline) are only logged.
        var awaited: UInt = 0
        var report: Report?
        /// The last client-level error (`error_cb`): why nothing got through, if nothing did.
        var lastError: String?
    }
    private let state = Mutex(State())
    let log: @Sendable (HostServices.LogLevel, String, [String: String]) -> Void
    let secrets: [[UInt8]]

    init(secrets: [String], log: @escaping @Sendable (HostServices.LogLevel, String, [String: String]) -> Void) {
        self.secrets = SecretSafe.prepared(secrets)
        self.log = log
    }

    func redact(_ text: String) -> String { SecretSafe.redact(text, prepared: secrets) }

    func await(_ id: UInt) { state.withLock { $0.awaited = id; $0.report = nil } }

    /// The awaited record's report, once it has arrived.
    func report(for id: UInt) -> Report? { state.withLock { $0.awaited == id ? $0.report : nil } }

    var lastError: String? { state.withLock { $0.lastError } }

    func clearLastError() { state.withLock { $0.lastError = nil } }

    fileprivate func delivered(_ id: UInt, _ report: Report) {
        let late = state.withLock { state -> Bool in
            guard state.awaited == id else { return true }
            state.report = report
            return false
        }
        if late {
            // A delivery that timed out reported RETRY; its record may still land, so the
            // topic may see it twice (the consumer dedups on the idempotency-key header).
            let outcome = report.code == 0 ? "was delivered after all" : "failed: \(KafkaError.name(report.code))"
            log(.info, "a record from an earlier delivery that passed its deadline \(outcome)", ["partition": String(report.partition)])
        }
    }

    fileprivate func clientError(_ code: Int32, _ reason: String) {
        let text = "\(KafkaError.name(code)): \(redact(reason))"
        state.withLock { $0.lastError = text }
    }
}

/// librdkafka's callbacks: C function pointers, so they capture nothing and find their
/// ``ProducerEvents`` through the opaque pointer. Delivery and error callbacks run inside
/// `rd_kafka_poll`/`rd_kafka_flush`, on the thread that polls; the log callback may run on
/// librdkafka's own threads (host logging is thread-safe).
private let deliveryReportCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = { _, message, opaque in
    guard let message, let opaque else { return }
    let events = Unmanaged<ProducerEvents>.fromOpaque(opaque).takeUnretainedValue()
    let id = UInt(bitPattern: message.pointee._private)
    events.delivered(id, .init(code: message.pointee.err.rawValue, partition: message.pointee.partition, offset: message.pointee.offset))
}

private let errorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = { _, code, reason, opaque in
    guard let opaque else { return }
    Unmanaged<ProducerEvents>.fromOpaque(opaque).takeUnretainedValue().clientError(code, reason.map { String(cString: $0) } ?? "")
}

private let logCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = { rk, level, facility, text in
    // Without this librdkafka prints to the collector's stderr, outside its JSON log.
    guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
    let events = Unmanaged<ProducerEvents>.fromOpaque(opaque).takeUnretainedValue()
    let mapped: HostServices.LogLevel = switch level {
    case ...3: .error
    case 4: .warning
    case 5, 6: .info
    default: .debug
    }
    let message = events.redact("librdkafka: " + (text.map { String(cString: $0) } ?? ""))
    events.log(mapped, message, ["facility": facility.map { String(cString: $0) } ?? ""])
}

/// A C string buffer's text, up to its NUL.
func text(of buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// One librdkafka producer handle: created from a ``KafkaConfig``, sends one record at a
/// time and waits on the calling thread for that record's delivery report.
final class KafkaProducer {
    /// What became of one record.
    enum Outcome: Equatable {
        case delivered(partition: Int32, offset: Int64)
        /// librdkafka refused or failed the record; `fatal` when the producer itself is now
        /// unusable (an idempotence fatal error) and must be replaced.
        case failed(code: Int32, fatal: Bool)
        /// No report before the deadline; the record may still be delivered later.
        case noReport
    }

    let handle: OpaquePointer
    let events: ProducerEvents
    /// How long destroying the handle waits for records in flight (`flush_timeout`; zero
    /// after a fatal error, when nothing more can be delivered).
    var flushTimeout: Duration
    private var nextID: UInt = 0

    /// Checks every property with librdkafka (`rd_kafka_conf_set`) without creating a
    /// producer: `validate`'s dry run, which must start no broker thread or connection.
    /// SASL mechanisms and TLS files are checked only by ``init(config:events:)``.
    static func check(config: KafkaConfig, events: ProducerEvents) throws(PluginError) {
        guard let conf = rd_kafka_conf_new() else { throw PluginError("librdkafka could not allocate a config", retryable: true) }
        defer { rd_kafka_conf_destroy(conf) }
        var errstr = [CChar](repeating: 0, count: 512)
        for (property, value, key) in config.properties() where rd_kafka_conf_set(conf, property, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
            throw PluginError("key \"\(key)\": librdkafka refused \(property): \(events.redact(text(of: errstr)))")
        }
    }

    /// Creates the handle. librdkafka checks most properties here and the rest (SASL
    /// mechanism, TLS files) in `rd_kafka_new`; both kinds of refusal name the config key
    /// or librdkafka's text, with secrets redacted.
    init(config: KafkaConfig, events: ProducerEvents) throws(PluginError) {
        self.events = events
        flushTimeout = config.flushTimeout
        guard let conf = rd_kafka_conf_new() else { throw PluginError("librdkafka could not allocate a config", retryable: true) }
        var errstr = [CChar](repeating: 0, count: 512)
        for (property, value, key) in config.properties() {
            let result = rd_kafka_conf_set(conf, property, value, &errstr, errstr.count)
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                // librdkafka may quote the value ("Invalid value \"...\""): never a secret.
                throw PluginError("key \"\(key)\": librdkafka refused \(property): \(events.redact(text(of: errstr)))")
            }
        }
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(events).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
        rd_kafka_conf_set_error_cb(conf, errorCallback)
        rd_kafka_conf_set_log_cb(conf, logCallback)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            // rd_kafka_new takes the config only when it succeeds.
            rd_kafka_conf_destroy(conf)
            throw PluginError("librdkafka refused the producer config: \(events.redact(text(of: errstr)))")
        }
        handle = rk
    }

    /// Flushes what is still in flight, bounded by `flush_timeout`, then destroys the handle.
    deinit {
        let flushed = rd_kafka_flush(handle, Int32(clamping: KafkaConfig.milliseconds(flushTimeout)))
        if flushed != RD_KAFKA_RESP_ERR_NO_ERROR {
            events.log(.warning, "\(rd_kafka_outq_len(handle)) record(s) still unsent after flush_timeout; dropping them", [:])
        }
        rd_kafka_destroy(handle)
    }

    /// Produces one record to `topic` and polls on the calling thread until its delivery
    /// report arrives or `deadline` passes. librdkafka keeps a handle per topic name, so a
    /// template's topics cost one lookup each after the first record.
    func send(topic: String, key: [UInt8], value: [UInt8], headers: [(String, String)], deadline: Date) -> Outcome {
        nextID &+= 1
        if nextID == 0 { nextID = 1 }  // 0 would be a NULL opaque, indistinguishable from none
        let id = nextID
        events.await(id)
        events.clearLastError()

        let list = rd_kafka_headers_new(headers.count)
        for (name, value) in headers {
            _ = rd_kafka_header_add(list, name, -1, value, value.utf8.count)
        }
        let produced = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                crdkafka_produce(handle, topic, k.baseAddress, k.count, v.baseAddress, v.count, list, UnsafeMutableRawPointer(bitPattern: id))
            }
        }
        guard produced == RD_KAFKA_RESP_ERR_NO_ERROR else {
            // Only a successful produce takes the headers.
            rd_kafka_headers_destroy(list)
            return .failed(code: produced.rawValue, fatal: isFatal)
        }

        while true {
            if let report = events.report(for: id) {
                return report.code == 0
                    ? .delivered(partition: report.partition, offset: report.offset)
                    : .failed(code: report.code, fatal: isFatal)
            }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { break }
            // Returns as soon as a callback was served; the cap keeps the deadline check live.
            rd_kafka_poll(handle, Int32(max(1, min(remaining * 1000, 200))))
        }
        return .noReport
    }

    /// True once librdkafka raised a fatal error: the handle can send nothing more.
    var isFatal: Bool {
        var buffer = [CChar](repeating: 0, count: 256)
        return rd_kafka_fatal_error(handle, &buffer, buffer.count) != RD_KAFKA_RESP_ERR_NO_ERROR
    }

    /// The fatal error's name and text, when there is one.
    var fatalError: String? {
        var buffer = [CChar](repeating: 0, count: 512)
        let code = rd_kafka_fatal_error(handle, &buffer, buffer.count)
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return "\(KafkaError.name(code.rawValue)): \(events.redact(text(of: buffer)))"
    }
}
