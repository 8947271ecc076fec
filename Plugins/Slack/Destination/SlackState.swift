#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// The small persistent store the Slack core needs: byte values under string keys, kept
/// across restarts. The plugin adapts the host's key-value store (``HostStateStore``);
/// tests pass an in-memory one. Implementations must be thread-safe.
public protocol SlackStateStore: Sendable {
    /// The value under `key`, or nil when absent.
    func get(_ key: String) -> [UInt8]?
    /// Stores `value`; false when the store refused. The core then logs a warning and goes
    /// on: the delivery reference the host keeps still links the thread.
    func put(_ key: String, _ value: [UInt8]) -> Bool
    /// Removes `key`.
    func delete(_ key: String)
}

/// ``SlackStateStore`` over the host's per-instance key-value store.
public struct HostStateStore: SlackStateStore {
    let host: HostServices
    /// Wraps the services the host passed to create().
    public init(host: HostServices) { self.host = host }
    public func get(_ key: String) -> [UInt8]? { host.get(key) }
    public func put(_ key: String, _ value: [UInt8]) -> Bool { host.put(key, value) }
    public func delete(_ key: String) { host.delete(key) }
}

/// Where a fingerprint's first message lives: the thread every later message joins.
public struct ThreadHandle: Sendable, Equatable, Codable {
    /// The channel ID (as Slack returned it, never a name).
    public var channel: String
    /// The root message's `ts`.
    public var ts: String

    public init(channel: String, ts: String) {
        self.channel = channel
        self.ts = ts
    }

    /// "C0123ABC:1700000000.000100": the delivery reference handed to the host.
    public var reference: String { "\(channel):\(ts)" }

    /// Parses a ``reference``; nil for anything else.
    public init?(reference: String) {
        let parts = reference.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        self.init(channel: String(parts[0]), ts: String(parts[1]))
    }
}

/// What the store keeps per fingerprint.
struct ThreadRecord: Codable, Equatable {
    var channel: String
    var ts: String
    /// True once the root was turned green: a new firing then opens a new message.
    var resolved: Bool
    /// Groups only: the storm's closing summary was delivered, so a later change of the
    /// same storm group does not announce the end (and upload the list) again.
    var stormEnded: Bool? = nil
    var handle: ThreadHandle { ThreadHandle(channel: channel, ts: ts) }
}

/// How far a multi-call delivery got, keyed by the idempotency key, so a retry after a
/// partial failure resumes instead of posting the root message twice.
struct DeliveryProgress: Codable, Equatable {
    var mode: DeliveryMode
    /// Steps already done, in plan order.
    var done: Int
    /// The thread, once known.
    var channel: String?
    var ts: String?
    /// Notices shown in the root (a routed channel that was not found). Kept with the
    /// progress so a retry renders, and so splits, the message exactly as the first try did.
    var notices: [String]?
    /// Groups only: the thread already had the storm's closing summary when this delivery
    /// started (decided once, so every retry renders the same plan).
    var stormClosed: Bool? = nil
    var handle: ThreadHandle? {
        guard let channel, let ts else { return nil }
        return ThreadHandle(channel: channel, ts: ts)
    }
}

/// What one delivery does, decided on its first attempt and kept for its retries.
enum DeliveryMode: String, Codable {
    /// Firing, no open thread: post a new root message.
    case new
    /// Firing again while a thread is open: reply in it.
    case reply
    /// Resolved with a known root: update it green and reply.
    case resolve
    /// Resolved without a known root: post a new green root.
    case newResolved
    /// A later notification of a grouped Issue whose root is known: edit the root to the
    /// group's current state and add one note to its thread.
    case groupUpdate
}

/// Typed access to the records in a ``SlackStateStore``.
struct ThreadStore: Sendable {
    let store: any SlackStateStore

    static func threadKey(_ fingerprint: String) -> String { "thread:" + fingerprint }
    static func progressKey(_ idempotencyKey: String) -> String { "progress:" + idempotencyKey }

    /// Where `issue`'s thread is recorded. A group's is kept per episode (fingerprint and
    /// `startsAt`): a group that ended and fires again is a new group with the same
    /// fingerprint, and must get a new message even if its end was never delivered.
    static func threadKey(for issue: Issue) -> String {
        guard issue.type == .group else { return threadKey(issue.fingerprint) }
        return "group:\(issue.fingerprint)@\(Int64((issue.startsAt.timeIntervalSince1970 * 1000).rounded(.down)))"
    }

    func thread(_ fingerprint: String) -> ThreadRecord? { read(Self.threadKey(fingerprint)) }
    func setThread(_ record: ThreadRecord, fingerprint: String) -> Bool { write(record, Self.threadKey(fingerprint)) }
    func thread(for issue: Issue) -> ThreadRecord? { read(Self.threadKey(for: issue)) }
    func setThread(_ record: ThreadRecord, for issue: Issue) -> Bool { write(record, Self.threadKey(for: issue)) }

    func progress(_ key: String) -> DeliveryProgress? { read(Self.progressKey(key)) }
    func setProgress(_ progress: DeliveryProgress, key: String) -> Bool { write(progress, Self.progressKey(key)) }
    func clearProgress(_ key: String) { store.delete(Self.progressKey(key)) }

    private func read<T: Decodable>(_ key: String) -> T? {
        guard let bytes = store.get(key) else { return nil }
        return try? IssueCoding.decode(T.self, from: bytes)
    }

    private func write(_ value: some Encodable, _ key: String) -> Bool {
        guard let bytes = try? IssueCoding.encode(value) else { return false }
        return store.put(key, bytes)
    }
}
