import Foundation
import CanoSDK
import NIOCore
import Synchronization

/// The fake API server's state: objects by resource, a change log for watches, open
/// watches, and the knobs tests turn (tokens, failures, forbidden resources, compaction).
/// Every mutation bumps one cluster-wide resourceVersion, as etcd does.
public final class FakeCluster: Sendable {
    /// One recorded request (tests assert on what the client asked for).
    public struct RecordedRequest: Sendable {
        public var method: String
        public var path: String
        public var query: [String: String]
        public var accept: String
        public var authorization: String?
        public var at: Date
    }

    /// A failure to answer instead of the real response.
    public struct InjectedFailure: Sendable {
        var method: String?
        var pathContains: String
        var status: Int
        var retryAfter: Int?
        var remaining: Int
    }

    struct Change: Sendable {
        var rv: Int
        var resource: String
        var type: String
        var object: JSONValue
    }

    struct Watcher: Sendable {
        var resource: String
        var namespace: String?
        var labelSelector: String?
        var fieldSelector: String?
        var metadataOnly: Bool
        var bookmarks: Bool
        var continuation: AsyncStream<ByteBuffer>.Continuation
    }

    struct State: Sendable {
        var rv = 1000
        /// resource key -> "namespace/name" -> object
        var objects: [String: [String: JSONValue]] = [:]
        var changes: [Change] = []
        /// Watches from a resourceVersion below this get 410 Expired.
        var oldestRV = 0
        var watchers: [Int: Watcher] = [:]
        var nextWatcherID = 0
        var snapshots: [String: (rv: Int, items: [JSONValue])] = [:]
        var tokens: Set<String> = []
        var forbidden: Set<String> = []
        var failures: [InjectedFailure] = []
        var requests: [RecordedRequest] = []
        var logs: [String: String] = [:]
        var watchTimeoutSeconds = 1800
        var refused: [String: Int] = [:]
        var shuttingDown = false
    }

    let state = Mutex(State())

    init(tokens: Set<String>) {
        state.withLock { $0.tokens = tokens }
    }

    // MARK: Test knobs

    /// Replaces the accepted bearer tokens (token rotation: old tokens become 401).
    public func setTokens(_ tokens: Set<String>) { state.withLock { $0.tokens = tokens } }

    /// Answers 403 Forbidden (the fixture Status) for every request on `resource` ("pods").
    public func forbid(_ resource: String) { _ = state.withLock { $0.forbidden.insert(resource) } }
    /// How many requests on `resource` were answered 403.
    public func refusedCount(_ resource: String) -> Int { state.withLock { $0.refused[resource] ?? 0 } }
    /// Stops answering 403 for `resource`.
    public func allow(_ resource: String) { _ = state.withLock { $0.forbidden.remove(resource) } }

    /// Answers the next `times` requests whose path contains `pathContains` with `status`.
    public func failNext(_ times: Int = 1, method: String? = nil, pathContains: String, status: Int, retryAfter: Int? = nil) {
        state.withLock {
            $0.failures.append(InjectedFailure(method: method, pathContains: pathContains, status: status, retryAfter: retryAfter, remaining: times))
        }
    }

    /// The longest a watch stays open when the client asks for longer.
    public func setWatchTimeout(seconds: Int) { state.withLock { $0.watchTimeoutSeconds = seconds } }

    /// Sets a pod's log text (pods/log).
    public func setLog(namespace: String, pod: String, _ text: String) { state.withLock { $0.logs["\(namespace)/\(pod)"] = text } }

    /// Every request so far.
    public var requests: [RecordedRequest] { state.withLock { $0.requests } }

    /// The current resourceVersion.
    public var resourceVersion: Int { state.withLock { $0.rv } }

    /// How many watches are open (per resource key when given).
    public func openWatches(_ resource: String? = nil) -> Int {
        state.withLock { s in s.watchers.values.filter { resource == nil || $0.resource == resource }.count }
    }

    /// Forgets the change log, as etcd compaction does: later watches from an older
    /// resourceVersion, and old continue tokens, get 410 Expired.
    public func compact() {
        state.withLock {
            $0.oldestRV = $0.rv
            $0.changes.removeAll()
            $0.snapshots.removeAll()
        }
    }

    /// Refuses new requests (503) and ends every watch: the server is going away.
    func shutDown() {
        state.withLock { $0.shuttingDown = true }
        closeWatches()
    }

    /// Ends every open watch, as an API server restart or a load balancer timeout does.
    public func closeWatches() {
        let conts = state.withLock { s -> [AsyncStream<ByteBuffer>.Continuation] in
            let c = s.watchers.values.map(\.continuation)
            s.watchers.removeAll()
            return c
        }
        for c in conts { c.finish() }
    }

    /// Sends an ERROR event with `status` to every open watch of `resource`, then closes them.
    public func sendWatchError(_ resource: String, status: JSONValue) {
        let line = Self.line(type: "ERROR", object: status)
        let conts = state.withLock { s -> [AsyncStream<ByteBuffer>.Continuation] in
            let ids = s.watchers.filter { $0.value.resource == resource }.map(\.key)
            return ids.compactMap { s.watchers.removeValue(forKey: $0)?.continuation }
        }
        for c in conts {
            c.yield(line)
            c.finish()
        }
    }

    /// Sends a BOOKMARK with the current resourceVersion to watches that asked for them.
    public func sendBookmarks() {
        state.withLock { s in
            let object: JSONValue = .object(["kind": .string("Bookmark"), "metadata": .object(["resourceVersion": .string(String(s.rv))])])
            for w in s.watchers.values where w.bookmarks { w.continuation.yield(Self.line(type: "BOOKMARK", object: object)) }
        }
    }

    // MARK: Objects

    /// Adds (or replaces) an object, as a controller would: bumps the resourceVersion and
    /// notifies watches (ADDED, or MODIFIED when it existed). Returns the stored object.
    @discardableResult
    public func apply(_ resource: String, _ object: JSONValue) -> JSONValue {
        state.withLock { s in Self.store(&s, resource, object, create: false).object }
    }

    /// Deletes an object and notifies watches (DELETED).
    public func delete(_ resource: String, namespace: String?, name: String) {
        state.withLock { s in
            let key = "\(namespace ?? "")/\(name)"
            guard var object = s.objects[resource]?.removeValue(forKey: key) else { return }
            s.rv += 1
            object = object.setting("metadata.resourceVersion", to: .string(String(s.rv)))
            Self.record(&s, Change(rv: s.rv, resource: resource, type: "DELETED", object: object))
        }
    }

    /// The stored object.
    public func get(_ resource: String, namespace: String?, name: String) -> JSONValue? {
        state.withLock { $0.objects[resource]?["\(namespace ?? "")/\(name)"] }
    }

    /// How many objects of `resource` exist.
    public func count(_ resource: String) -> Int { state.withLock { $0.objects[resource]?.count ?? 0 } }

    enum StoreResult { case stored(JSONValue), conflict(String), exists }

    /// Stores an object. `create` refuses an existing name; an object carrying a
    /// resourceVersion must match the stored one (optimistic concurrency).
    static func store(_ s: inout State, _ resource: String, _ object: JSONValue, create: Bool, checkVersion: Bool = false) -> (object: JSONValue, result: StoreResult) {
        let ns = object.at("metadata.namespace")?.stringValue
        let name = object.at("metadata.name")?.stringValue ?? ""
        let key = "\(ns ?? "")/\(name)"
        let existing = s.objects[resource]?[key]
        if create, existing != nil { return (object, .exists) }
        if checkVersion {
            let sent = object.at("metadata.resourceVersion")?.stringValue
            let current = existing?.at("metadata.resourceVersion")?.stringValue
            if existing == nil { return (object, .conflict("not found")) }
            if sent != current { return (object, .conflict(current ?? "")) }
        }
        s.rv += 1
        var stored = object.setting("metadata.resourceVersion", to: .string(String(s.rv)))
        if stored.at("metadata.uid") == nil { stored = stored.setting("metadata.uid", to: .string(UUID().uuidString.lowercased())) }
        if stored.at("metadata.creationTimestamp") == nil {
            stored = stored.setting("metadata.creationTimestamp", to: .string(RFC3339.format(Date())))
        }
        s.objects[resource, default: [:]][key] = stored
        record(&s, Change(rv: s.rv, resource: resource, type: existing == nil ? "ADDED" : "MODIFIED", object: stored))
        return (stored, .stored(stored))
    }

    static func record(_ s: inout State, _ change: Change) {
        s.changes.append(change)
        // Keep the log bounded, like etcd's compaction window.
        if s.changes.count > 200_000 {
            s.changes.removeFirst(100_000)
            s.oldestRV = s.changes.first?.rv ?? s.rv
        }
        for w in s.watchers.values where Self.matches(change, w) {
            w.continuation.yield(Self.line(type: change.type, object: w.metadataOnly ? Self.metadataOnly(change.object) : change.object))
        }
    }

    static func matches(_ change: Change, _ w: Watcher) -> Bool {
        guard change.resource == w.resource else { return false }
        if let ns = w.namespace, change.object.at("metadata.namespace")?.stringValue != ns { return false }
        return Selector(w.labelSelector).matchesLabels(change.object) && Selector(w.fieldSelector).matchesFields(change.object)
    }

    static func metadataOnly(_ object: JSONValue) -> JSONValue {
        .object([
            "kind": .string("PartialObjectMetadata"), "apiVersion": .string("meta.k8s.io/v1"),
            "metadata": object["metadata"] ?? .object([:]),
        ])
    }

    static func line(type: String, object: JSONValue) -> ByteBuffer {
        var bytes = (try? IssueCoding.encode(JSONValue.object(["type": .string(type), "object": object]))) ?? []
        bytes.append(UInt8(ascii: "\n"))
        return ByteBuffer(bytes: bytes)
    }
}
