#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One message of the protocol between the collector and a `plugin-host` child process
/// (`isolation: process`).
///
/// On the wire a frame is `u32 body length (big-endian)`, then the body:
/// `u8 kind, u32 id (big-endian), u16 field count`, then each field as `u32 length` and
/// its bytes. Binary rather than JSON because the payloads (Issue JSON, config JSON,
/// key-value values) are opaque bytes that would otherwise need escaping or base64.
/// Integers travel as 8-byte big-endian fields. See docs/plugin-abi.md, "Process isolation".
public struct PluginFrame: Sendable, Equatable {
    /// What a frame means; the direction is fixed per kind.
    public enum Kind: UInt8, Sendable {
        /// child → parent, first frame: the plugin loaded. Fields: name, version.
        case hello = 1
        /// child → parent: the plugin could not be loaded; the child exits. Field: reason.
        case fatal = 2
        /// parent → child: call create(). Fields: config JSON, create flags (`PluginCreateFlags`).
        case create = 3
        /// parent → child: call deliver(). Fields: issue JSON, attempt, deadline (Unix ms),
        /// idempotency key, reference, has-reference (0/1).
        case deliver = 4
        /// parent → child: call destroy(), answer, then exit.
        case destroy = 5
        /// child → parent, answers create/deliver/destroy with the same id. Fields: status,
        /// retry-after ms (-1 none), message, reference, has-reference (0/1).
        case result = 6
        /// child → parent: one log line. Fields: level (swift-log name), message, metadata JSON object.
        case log = 7
        /// child → parent: counter_add. Fields: name, delta.
        case counter = 8
        /// child → parent: a host service that needs the parent (key-value store, kube GET).
        /// Fields: operation (`kv_get`, `kv_put`, `kv_delete`, `kube_get`), argument 1, argument 2.
        case hostCall = 9
        /// parent → child, answers a hostCall with the same id. Fields: code (0 ok, 1 not
        /// found, -1 error), body, HTTP status (kube_get).
        case hostReply = 10
    }

    /// Largest body accepted: Issues are capped far below this (the intake's 4 MiB body
    /// limit); anything larger is a corrupt stream, not data.
    public static let maxBodyBytes = 64 << 20

    /// What the frame means.
    public var kind: Kind
    /// Pairs a request with its answer (calls and host calls count separately).
    public var id: UInt32
    /// The payload, positional per kind.
    public var fields: [[UInt8]]

    /// A frame of `kind` with `fields`.
    public init(_ kind: Kind, id: UInt32 = 0, _ fields: [[UInt8]] = []) {
        self.kind = kind
        self.id = id
        self.fields = fields
    }

    /// Field `index` as bytes; empty when absent (older peers send fewer fields).
    public func bytes(_ index: Int) -> [UInt8] {
        index < fields.count ? fields[index] : []
    }

    /// Field `index` as UTF-8 text.
    public func string(_ index: Int) -> String {
        String(decoding: bytes(index), as: UTF8.self)
    }

    /// Field `index` as a big-endian integer; 0 when absent or malformed.
    public func int(_ index: Int) -> Int64 {
        let b = bytes(index)
        guard b.count == 8 else { return 0 }
        return Int64(bitPattern: b.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    /// An integer as a field.
    public static func field(_ value: Int64) -> [UInt8] {
        let v = UInt64(bitPattern: value)
        return (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) }
    }

    /// Text as a field.
    public static func field(_ value: String) -> [UInt8] { Array(value.utf8) }

    /// The frame as bytes, length prefix included.
    public func encoded() -> [UInt8] {
        var body: [UInt8] = [kind.rawValue]
        body.reserveCapacity(11 + fields.reduce(0) { $0 + 4 + $1.count })
        Self.append32(id, to: &body)
        body.append(UInt8(truncatingIfNeeded: fields.count >> 8))
        body.append(UInt8(truncatingIfNeeded: fields.count))
        for field in fields {
            Self.append32(UInt32(truncatingIfNeeded: field.count), to: &body)
            body.append(contentsOf: field)
        }
        var out: [UInt8] = []
        out.reserveCapacity(4 + body.count)
        Self.append32(UInt32(truncatingIfNeeded: body.count), to: &out)
        out.append(contentsOf: body)
        return out
    }

    /// Decodes one body (without its length prefix); nil when it is malformed.
    public static func decode(body: [UInt8]) -> PluginFrame? {
        guard body.count >= 7, let kind = Kind(rawValue: body[0]) else { return nil }
        let id = read32(body, at: 1)
        let count = Int(body[5]) << 8 | Int(body[6])
        var fields: [[UInt8]] = []
        fields.reserveCapacity(count)
        var offset = 7
        for _ in 0..<count {
            guard offset + 4 <= body.count else { return nil }
            let length = Int(read32(body, at: offset))
            offset += 4
            guard length <= body.count - offset else { return nil }
            fields.append(Array(body[offset..<offset + length]))
            offset += length
        }
        guard offset == body.count else { return nil }
        return PluginFrame(kind, id: id, fields)
    }

    private static func append32(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 24))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    private static func read32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}

/// Blocking frame I/O on a file descriptor (a socket or pipe end). Used only from
/// dedicated threads: every call may block.
public enum PluginFrameIO {
    /// Why reading stopped.
    public enum ReadError: Error, Sendable, Equatable {
        /// The peer closed its end (it exited, or closed the stream).
        case endOfStream
        /// The bytes are not a frame: the peer is broken or wrote something else there.
        case malformed(String)
        /// read(2) failed.
        case system(Int32)
    }

    /// Reads one whole frame.
    public static func read(from fd: Int32) throws(ReadError) -> PluginFrame {
        let header = try readExactly(4, from: fd)
        let length = Int(UInt32(header[0]) << 24 | UInt32(header[1]) << 16 | UInt32(header[2]) << 8 | UInt32(header[3]))
        guard length <= PluginFrame.maxBodyBytes else { throw .malformed("frame of \(length) bytes exceeds the limit") }
        let body = try readExactly(length, from: fd)
        guard let frame = PluginFrame.decode(body: body) else { throw .malformed("undecodable frame (kind \(body.first ?? 0))") }
        return frame
    }

    /// Writes one frame in full; false when the peer is gone. Callers serialise writers,
    /// so frames from several threads never interleave. Uses send(MSG_NOSIGNAL) on sockets,
    /// so a dead peer is an error, not a SIGPIPE that would end the process.
    @discardableResult
    public static func write(_ frame: PluginFrame, to fd: Int32) -> Bool {
        let bytes = frame.encoded()
        return bytes.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == ENOTSOCK {
                        // A pipe (a test, or a future transport): plain write, SIGPIPE is
                        // ignored by the plugin host.
                        let w = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                        if w < 0 { if errno == EINTR { continue }; return false }
                        offset += w
                        continue
                    }
                    return false
                }
                offset += n
            }
            return true
        }
    }

    private static func readExactly(_ count: Int, from fd: Int32) throws(ReadError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + offset, count - offset) }
            if n == 0 { throw .endOfStream }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(errno)
            }
            offset += n
        }
        return buffer
    }
}
