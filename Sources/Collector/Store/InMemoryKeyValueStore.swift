import Synchronization

/// A `KeyValueStore` kept in memory: for tests and `plugins check`, where nothing must
/// survive the process. The collector itself uses the SQLite store.
public final class InMemoryKeyValueStore: KeyValueStore {
    private let values = Mutex<[String: [String: [UInt8]]]>([:])

    /// An empty store.
    public init() {}

    /// The value, or nil.
    public func value(namespace: String, key: String) throws -> [UInt8]? {
        values.withLock { $0[namespace]?[key] }
    }

    /// Stores or replaces the value.
    public func setValue(_ value: [UInt8], namespace: String, key: String) throws {
        values.withLock { $0[namespace, default: [:]][key] = value }
    }

    /// Removes the value if present.
    public func removeValue(namespace: String, key: String) throws {
        values.withLock { _ = $0[namespace]?.removeValue(forKey: key) }
    }
}
