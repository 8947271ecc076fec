import CanoSDK
import PluginABI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What one deliver()/enrich() call returned, copied out of the plugin's buffers (which
/// are already freed when this value exists).
public struct PluginCallResult: Sendable, Equatable {
    /// The raw `cano_status`; anything but 1, 2 or 3 is a plugin bug.
    public var status: Int32
    /// Milliseconds, or nil for "no hint" (any negative value).
    public var retryAfterMillis: Int64?
    /// The plugin's message (first 4 KiB), empty if it gave none.
    public var message: String
    /// deliver(): the reference to store for the fingerprint.
    public var reference: [UInt8]?
    /// enrich(): the JSON array of enrichments.
    public var payload: [UInt8]?

    /// True when `status` is one of the three valid values.
    public var isValidStatus: Bool {
        status == Int32(CANO_STATUS_OK.rawValue) || status == Int32(CANO_STATUS_RETRY.rawValue)
            || status == Int32(CANO_STATUS_PERMANENT.rawValue)
    }

    /// The outcome the delivery engine acts on. An invalid status fails safe as a retry,
    /// so the engine keeps the Issue and eventually dead-letters it: nothing is lost.
    public var outcome: DeliveryOutcome {
        switch status {
        case Int32(CANO_STATUS_OK.rawValue):
            return DeliveryOutcome(.delivered, message: message.isEmpty ? "delivered" : message, reference: reference)
        case Int32(CANO_STATUS_RETRY.rawValue):
            return DeliveryOutcome(.retry, message: message.isEmpty ? "plugin asked to retry" : message,
                                   retryAfter: retryAfterMillis.map { .milliseconds($0) })
        case Int32(CANO_STATUS_PERMANENT.rawValue):
            return DeliveryOutcome(.permanent, message: message.isEmpty ? "plugin reported a permanent failure" : message)
        default:
            let detail = message.isEmpty ? "" : " (its message: \(message))"
            return DeliveryOutcome(.retry, message: "plugin returned an invalid status \(status)\(detail); treated as retry")
        }
    }
}

/// Flags for one create() call (`cano_host_services.create_flags`, ABI v1.1).
public struct PluginCreateFlags: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `CANO_CREATE_VALIDATE_ONLY` (bit 0; the C macro has a cast Swift cannot import):
    /// `validate`'s dry run. The instance is destroyed at once, so the plugin skips its
    /// credential check and any other I/O.
    public static let validateOnly = PluginCreateFlags(rawValue: 1 << 0)
}

/// One created plugin instance: the opaque `void *instance`, its host-services table and
/// the locking the ABI promises.
///
/// Calls are serialised per instance unless the plugin sets CANO_FLAG_REENTRANT. One
/// read-write lock covers both cases: serialised calls take it for writing, reentrant
/// calls for reading, and destroy() always for writing, so destroy() never overlaps a call.
public final class PluginInstance: @unchecked Sendable {
    // @unchecked: `instance` and `destroyed` are only touched under `lock`.

    /// The library this instance belongs to.
    public let plugin: LoadedPlugin
    /// The configured destination (or enricher) name.
    public let name: String
    private let bridge: HostServicesBridge
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>
    private var instance: UnsafeMutableRawPointer?
    private var destroyed = false

    /// Largest message copied from a plugin; longer ones are cut (a plugin bug, not data).
    static let maxMessageBytes = 4096

    /// Calls the plugin's create() with `configJSON` and `flags`.
    public init(plugin: LoadedPlugin, name: String, configJSON: [UInt8], services: PluginServices,
                flags: PluginCreateFlags = []) throws(DestinationSetupError) {
        self.plugin = plugin
        self.name = name
        bridge = HostServicesBridge(instance: name, plugin: plugin.name, services: services)
        lock = .allocate(capacity: 1)
        pthread_rwlock_init(lock, nil)

        let d = plugin.descriptor
        bridge.table.pointee.create_flags = flags.rawValue
        var result = Self.emptyResult()
        var created: UnsafeMutableRawPointer?
        configJSON.withUnsafeBufferPointer { config in
            d.create?(cano_bytes(ptr: config.baseAddress, len: config.count), bridge.table, &created, &result)
        }
        let copied = Self.take(&result, free: d.free_buffer)
        guard copied.status == Int32(CANO_STATUS_OK.rawValue) else {
            if let created { d.destroy?(created) }  // a plugin that set both gets its instance back
            destroyed = true
            let reason = copied.isValidStatus
                ? "create() failed: \(copied.message.isEmpty ? "no message" : copied.message)"
                : "create() returned an invalid status \(copied.status)\(copied.message.isEmpty ? "" : " (\(copied.message))")"
            throw DestinationSetupError(.createFailed, destination: name, type: plugin.name, reason: reason,
                                        retryable: copied.status == Int32(CANO_STATUS_RETRY.rawValue))
        }
        instance = created
    }

    deinit {
        destroy()
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    /// Which callback a call goes to.
    public enum Operation: Sendable {
        case deliver, enrich
    }

    /// Calls deliver() or enrich(). Blocks until the plugin returns: call it only from a
    /// dedicated thread.
    public func call(_ operation: Operation, issueJSON: [UInt8], context: DeliveryContext) -> PluginCallResult {
        if plugin.isReentrant { pthread_rwlock_rdlock(lock) } else { pthread_rwlock_wrlock(lock) }
        defer { pthread_rwlock_unlock(lock) }
        guard !destroyed else {
            return PluginCallResult(status: Int32(CANO_STATUS_RETRY.rawValue), message: "destination \(name) is shut down")
        }
        let d = plugin.descriptor
        guard let function = operation == .deliver ? d.deliver : d.enrich else {
            return PluginCallResult(status: Int32(CANO_STATUS_PERMANENT.rawValue), message: "plugin \(plugin.name) has no \(operation) callback")
        }
        var result = Self.emptyResult()
        let key = Array(context.idempotencyKey.utf8)
        let reference = context.reference ?? []
        issueJSON.withUnsafeBufferPointer { issue in
            key.withUnsafeBufferPointer { key in
                reference.withUnsafeBufferPointer { reference in
                    var c = cano_call_context()
                    c.struct_size = UInt32(MemoryLayout<cano_call_context>.size)
                    c.attempt = UInt32(clamping: context.attempt)
                    c.deadline_unix_ms = context.deadlineUnixMillis
                    c.idempotency_key = cano_bytes(ptr: key.baseAddress, len: key.count)
                    c.reference = cano_bytes(ptr: reference.isEmpty ? nil : reference.baseAddress, len: reference.count)
                    function(instance, cano_bytes(ptr: issue.baseAddress, len: issue.count), &c, &result)
                }
            }
        }
        return Self.take(&result, free: d.free_buffer)
    }

    /// Calls render() (ABI v1.3): the request body deliver() would send, in `payload`, and
    /// where it would go, in `message`. Nil when the plugin has no render(). Blocks: call
    /// it only from a dedicated thread.
    public func render(issueJSON: [UInt8]) -> PluginCallResult? {
        guard let function = plugin.descriptor.render else { return nil }
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        guard !destroyed else { return nil }
        var result = Self.emptyResult()
        issueJSON.withUnsafeBufferPointer { issue in
            function(instance, cano_bytes(ptr: issue.baseAddress, len: issue.count), &result)
        }
        return Self.take(&result, free: plugin.descriptor.free_buffer)
    }

    /// Calls the plugin's destroy() once; later calls return "shut down". Idempotent.
    ///
    /// Waits at most `timeout` for calls in progress to return (destroy() must never overlap
    /// a call). A plugin stuck in a call past it is abandoned without destroy(): the process
    /// is shutting down anyway, and waiting would hang it until the kubelet's SIGKILL.
    /// - Returns: false when the instance was abandoned that way.
    @discardableResult
    public func destroy(timeout: Duration = .seconds(1)) -> Bool {
        guard Self.writeLock(lock, timeout: timeout) else { return false }
        defer { pthread_rwlock_unlock(lock) }
        guard !destroyed else { return true }
        destroyed = true
        if let instance { plugin.descriptor.destroy?(instance) }
        instance = nil
        return true
    }

    /// `pthread_rwlock_timedwrlock` with a relative timeout (it takes a CLOCK_REALTIME deadline).
    private static func writeLock(_ lock: UnsafeMutablePointer<pthread_rwlock_t>, timeout: Duration) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let (seconds, attoseconds) = timeout.components
        var nanos = Int(now.tv_nsec) + Int(attoseconds / 1_000_000_000)
        var deadline = timespec(tv_sec: now.tv_sec + Int(seconds) + nanos / 1_000_000_000, tv_nsec: 0)
        nanos %= 1_000_000_000
        deadline.tv_nsec = nanos
        return pthread_rwlock_timedwrlock(lock, &deadline) == 0
    }

    private static func emptyResult() -> cano_result {
        var result = cano_result()
        result.struct_size = UInt32(MemoryLayout<cano_result>.size)
        result.retry_after_ms = Int64(CANO_RETRY_AFTER_NONE)
        return result
    }

    /// Copies a result out and frees every buffer in it with the plugin's free_buffer.
    private static func take(_ result: inout cano_result, free: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?) -> PluginCallResult {
        func copy(_ buffer: cano_buffer, limit: Int = .max) -> [UInt8]? {
            guard let ptr = buffer.ptr, buffer.len > 0 else { return nil }
            return Array(UnsafeBufferPointer(start: ptr, count: min(buffer.len, limit)))
        }
        let message = copy(result.message, limit: maxMessageBytes).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let taken = PluginCallResult(
            status: result.status,
            retryAfterMillis: result.retry_after_ms >= 0 ? result.retry_after_ms : nil,
            message: message,
            reference: copy(result.reference),
            payload: copy(result.payload))
        // Each distinct buffer once: a plugin that returns one pointer in two fields must
        // not make the host free it twice.
        var freed = Set<UnsafeMutablePointer<UInt8>>()
        for pointer in [result.message.ptr, result.reference.ptr, result.payload.ptr] {
            guard let pointer, freed.insert(pointer).inserted else { continue }
            free?(UnsafeMutableRawPointer(pointer))
        }
        result.message = cano_buffer()
        result.reference = cano_buffer()
        result.payload = cano_buffer()
        return taken
    }
}
