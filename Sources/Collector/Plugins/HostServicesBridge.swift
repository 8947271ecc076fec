import CanoSDK
import Logging
import PluginABI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The `cano_host_services` table for one plugin instance. Its `host_ctx` points at a
/// Swift box with this instance's logger, key-value namespace and metric labels, so the
/// C callbacks (which cannot capture) find everything through it.
///
/// The table must outlive the plugin instance: `PluginInstance` keeps its bridge until
/// after destroy() has returned.
public final class HostServicesBridge: @unchecked Sendable {
    // @unchecked: `table` is written once in init and only read afterwards; the box it
    // points to is Sendable.

    /// Largest value kv_put accepts (the header's documented limit).
    public static let maxValueBytes = 64 * 1024
    /// Largest key kv_* accept.
    public static let maxKeyBytes = 1024

    /// The table handed to the plugin's create().
    public let table: UnsafeMutablePointer<cano_host_services>
    private let context: Unmanaged<Context>

    /// Builds the table for the destination (or enricher) instance `instance`.
    public init(instance: String, plugin: String, services: PluginServices) {
        var logger = services.logger
        logger[metadataKey: "destination"] = .string(instance)
        logger[metadataKey: "plugin"] = .string(plugin)
        context = Unmanaged.passRetained(Context(
            instance: instance, logger: logger, store: services.store, metrics: services.metrics, kube: services.kube))

        table = .allocate(capacity: 1)
        table.initialize(to: cano_host_services())
        table.pointee.struct_size = UInt32(MemoryLayout<cano_host_services>.size)
        table.pointee.abi_major = UInt16(CANO_ABI_MAJOR)
        table.pointee.abi_minor = UInt16(CANO_ABI_MINOR)
        table.pointee.host_ctx = context.toOpaque()
        table.pointee.log = { ctx, level, message, fields in
            Context.from(ctx)?.log(level: level, message: message.bytes, fields: fields.bytes)
        }
        table.pointee.kv_get = { ctx, key, out in
            guard let context = Context.from(ctx), let out else { return -1 }
            return context.kvGet(key: key.bytes, out: out)
        }
        table.pointee.kv_put = { ctx, key, value in
            Context.from(ctx)?.kvPut(key: key.bytes, value: value.bytes) ?? -1
        }
        table.pointee.kv_delete = { ctx, key in
            Context.from(ctx)?.kvDelete(key: key.bytes) ?? -1
        }
        table.pointee.counter_add = { ctx, name, delta in
            Context.from(ctx)?.counterAdd(name: name.bytes, delta: delta)
        }
        table.pointee.kube_get = { ctx, path, statusOut, bodyOut in
            guard let context = Context.from(ctx), let statusOut, let bodyOut else { return -1 }
            return context.kubeGet(path: path.bytes, status: statusOut, body: bodyOut)
        }
        table.pointee.free_buffer = { _, pointer in free(pointer) }
    }

    deinit {
        table.deinitialize(count: 1)
        table.deallocate()
        context.release()
    }

    /// The per-instance state behind `host_ctx`.
    final class Context: Sendable {
        let instance: String
        let logger: Logger
        let store: any KeyValueStore
        let metrics: Metrics
        let kube: (any KubeReader)?
        /// Counter names already reported as invalid, so a plugin bug logs once, not per call.
        private let reportedBadNames = Mutex<Set<String>>([])

        init(instance: String, logger: Logger, store: any KeyValueStore, metrics: Metrics, kube: (any KubeReader)?) {
            self.instance = instance
            self.logger = logger
            self.store = store
            self.metrics = metrics
            self.kube = kube
        }

        static func from(_ ctx: UnsafeMutableRawPointer?) -> Context? {
            ctx.map { Unmanaged<Context>.fromOpaque($0).takeUnretainedValue() }
        }

        func log(level: Int32, message: UnsafeRawBufferPointer, fields: UnsafeRawBufferPointer) {
            let swiftLevel: Logger.Level = switch UInt32(bitPattern: level) {
            case CANO_LOG_DEBUG.rawValue: .debug
            case CANO_LOG_WARNING.rawValue: .warning
            case CANO_LOG_ERROR.rawValue: .error
            default: .info
            }
            // A line below the log level is dropped before its fields are decoded: plugins log
            // each delivery at debug, and decoding those fields was 2% of the collector's CPU
            // at 100 alerts/s (docs/benchmarks.md).
            guard swiftLevel >= logger.logLevel else { return }
            let text = String(decoding: message.prefix(16 * 1024), as: UTF8.self)
            var metadata: Logger.Metadata = [:]
            if !fields.isEmpty, case .object(let object)? = try? IssueCoding.decode(JSONValue.self, from: fields) {
                for (key, value) in object where key != "destination" && key != "plugin" {
                    metadata[key] = Logger.MetadataValue(json: value)
                }
            }
            logger.log(level: swiftLevel, "\(text)", metadata: metadata)
        }

        func kvGet(key: UnsafeRawBufferPointer, out: UnsafeMutablePointer<cano_buffer>) -> Int32 {
            out.pointee = cano_buffer()
            guard let key = validKey(key) else { return -1 }
            do {
                guard let value = try store.value(namespace: instance, key: key) else { return 1 }
                out.pointee = Self.hostBuffer(value)
                return 0
            } catch {
                logger.warning("plugin kv_get failed", metadata: ["error": "\(error)"])
                return -1
            }
        }

        func kvPut(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Int32 {
            guard let key = validKey(key) else { return -1 }
            guard value.count <= HostServicesBridge.maxValueBytes else {
                logger.warning("plugin kv_put refused: value too large",
                               metadata: ["bytes": "\(value.count)", "limit": "\(HostServicesBridge.maxValueBytes)"])
                return -1
            }
            do {
                try store.setValue(Array(value), namespace: instance, key: key)
                return 0
            } catch {
                logger.warning("plugin kv_put failed", metadata: ["error": "\(error)"])
                return -1
            }
        }

        func kvDelete(key: UnsafeRawBufferPointer) -> Int32 {
            guard let key = validKey(key) else { return -1 }
            do {
                try store.removeValue(namespace: instance, key: key)
                return 0
            } catch {
                logger.warning("plugin kv_delete failed", metadata: ["error": "\(error)"])
                return -1
            }
        }

        func counterAdd(name raw: UnsafeRawBufferPointer, delta: UInt64) {
            let name = String(decoding: raw.prefix(128), as: UTF8.self)
            guard Self.isValidCounterName(raw) else {
                if reportedBadNames.withLock({ $0.insert(name).inserted }) {
                    logger.warning("plugin counter_add ignored: name must be [a-z0-9_]+ (at most 64 characters)",
                                   metadata: ["counter": "\(name.prefix(64))"])
                }
                return
            }
            metrics.increment("cano_plugin_\(name)_total", ["destination": instance], by: Double(delta))
        }

        func kubeGet(path raw: UnsafeRawBufferPointer, status: UnsafeMutablePointer<Int32>, body: UnsafeMutablePointer<cano_buffer>) -> Int32 {
            body.pointee = cano_buffer()
            status.pointee = 0
            guard let kube, let path = String(validating: raw, as: UTF8.self), path.hasPrefix("/") else { return -1 }
            guard let response = kube.get(path: path) else { return -1 }
            status.pointee = Int32(clamping: response.status)
            body.pointee = Self.hostBuffer(response.body)
            return 0
        }

        private func validKey(_ raw: UnsafeRawBufferPointer) -> String? {
            guard !raw.isEmpty, raw.count <= HostServicesBridge.maxKeyBytes, let key = String(validating: raw, as: UTF8.self) else {
                logger.warning("plugin key-value call refused: key must be 1 to \(HostServicesBridge.maxKeyBytes) bytes of UTF-8")
                return nil
            }
            return key
        }

        static func isValidCounterName(_ raw: UnsafeRawBufferPointer) -> Bool {
            !raw.isEmpty && raw.count <= 64 && raw.allSatisfy { c in
                (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_")
            }
        }

        /// A malloc'd copy the plugin frees with the table's free_buffer. Empty values are
        /// returned as a 1-byte allocation with len 0, so "found but empty" stays distinct
        /// from "absent" even for plugins that only look at ptr.
        static func hostBuffer(_ bytes: [UInt8]) -> cano_buffer {
            guard let memory = malloc(max(1, bytes.count)) else { return cano_buffer() }
            bytes.withUnsafeBytes { if let base = $0.baseAddress { memory.copyMemory(from: base, byteCount: bytes.count) } }
            return cano_buffer(ptr: memory.assumingMemoryBound(to: UInt8.self), len: bytes.count)
        }
    }
}

extension cano_bytes {
    /// The borrowed bytes; empty when ptr is NULL.
    var bytes: UnsafeRawBufferPointer {
        guard let ptr, len > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: ptr, count: len)
    }
}
