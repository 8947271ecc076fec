import PluginABI

/// The host's services as a plugin sees them: logging, a persistent key-value store scoped
/// to this instance, counters and read-only Kubernetes GETs. A Swift view over
/// `cano_host_services`; safe to use from any thread while the instance lives.
public struct HostServices: @unchecked Sendable {
    /// Log levels, as in `cano_log_level`.
    public enum LogLevel: Int32, Sendable {
        case debug = 0, info = 1, warning = 2, error = 3
    }

    private let table: cano_host_services

    /// Wraps the table the host passed to `create`. Fields newer than the host's table
    /// read as nil, so calls to them are no-ops.
    public init(_ pointer: UnsafePointer<cano_host_services>) {
        var copy = cano_host_services()
        let size = min(Int(pointer.pointee.struct_size), MemoryLayout<cano_host_services>.size)
        withUnsafeMutableBytes(of: &copy) { destination in
            destination.copyMemory(from: UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: size))
        }
        table = copy
    }

    /// True when this create() is `validate`'s dry run (`CANO_CREATE_VALIDATE_ONLY`, ABI
    /// v1.1): the instance is destroyed right after, so skip credential checks and other
    /// I/O. Always false with a v1.0 host (the field reads as zero).
    public var isValidateOnly: Bool { table.create_flags & 1 != 0 }

    /// Writes one structured log line through the host's logger.
    public func log(_ level: LogLevel, _ message: String, fields: [String: String] = [:]) {
        guard let log = table.log else { return }
        let fieldsJSON = fields.isEmpty ? [] : ((try? IssueCoding.encode(fields)) ?? [])
        message.utf8.withContiguousBytes { m, mLen in
            fieldsJSON.withUnsafeBufferPointer { f in
                log(table.host_ctx, level.rawValue, cano_bytes(ptr: m, len: mLen), cano_bytes(ptr: f.baseAddress, len: f.count))
            }
        }
    }

    /// The stored value for `key`, or nil when absent (or on a store error).
    public func get(_ key: String) -> [UInt8]? {
        guard let get = table.kv_get else { return nil }
        var out = cano_buffer()
        let rc = key.utf8.withContiguousBytes { k, kLen in get(table.host_ctx, cano_bytes(ptr: k, len: kLen), &out) }
        defer { table.free_buffer?(table.host_ctx, out.ptr) }
        guard rc == 0 else { return nil }
        return out.ptr.map { Array(UnsafeBufferPointer(start: $0, count: out.len)) } ?? []
    }

    /// Stores `value` under `key`; false when the host could not store it.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8]) -> Bool {
        guard let put = table.kv_put else { return false }
        return key.utf8.withContiguousBytes { k, kLen in
            value.withUnsafeBufferPointer { v in
                put(table.host_ctx, cano_bytes(ptr: k, len: kLen), cano_bytes(ptr: v.baseAddress, len: v.count)) == 0
            }
        }
    }

    /// Removes `key`; false on a store error.
    @discardableResult
    public func delete(_ key: String) -> Bool {
        guard let delete = table.kv_delete else { return false }
        return key.utf8.withContiguousBytes { k, kLen in delete(table.host_ctx, cano_bytes(ptr: k, len: kLen)) == 0 }
    }

    /// Adds `delta` to the counter `cano_plugin_<name>_total` for this instance.
    public func increment(_ name: String, by delta: UInt64 = 1) {
        guard let add = table.counter_add else { return }
        name.utf8.withContiguousBytes { n, nLen in add(table.host_ctx, cano_bytes(ptr: n, len: nLen), delta) }
    }

    /// A read-only GET of a Kubernetes API path with the host's credentials; nil when the
    /// host has no cluster access or refuses the path.
    public func kubeGet(_ path: String) -> HTTPResponse? {
        guard let kubeGet = table.kube_get else { return nil }
        var status: Int32 = 0
        var out = cano_buffer()
        let rc = path.utf8.withContiguousBytes { p, pLen in kubeGet(table.host_ctx, cano_bytes(ptr: p, len: pLen), &status, &out) }
        defer { table.free_buffer?(table.host_ctx, out.ptr) }
        guard rc == 0 else { return nil }
        let body = out.ptr.map { Array(UnsafeBufferPointer(start: $0, count: out.len)) } ?? []
        return HTTPResponse(status: Int(status), body: body)
    }
}

extension String.UTF8View {
    /// Calls `body` with a pointer to contiguous UTF-8 bytes (copying only if needed).
    func withContiguousBytes<R>(_ body: (UnsafePointer<UInt8>?, Int) throws -> R) rethrows -> R {
        if let result = try withContiguousStorageIfAvailable({ try body($0.baseAddress, $0.count) }) {
            return result
        }
        return try Array(self).withUnsafeBufferPointer { try body($0.baseAddress, $0.count) }
    }
}

