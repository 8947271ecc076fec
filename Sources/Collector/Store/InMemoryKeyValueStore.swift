import Synchronization

/// A `KeyValueStore` kept in memory: for tests and `plugins check`, where nothing must
/// survive the process. The collector itself uses the SQLite store.
public final class InMemoryKeyValueStore: KeyValueStore {
    private let values = Mutex<[String: [String: [UInt8]]]>([:])

    public init() {}

    public func value(namespace: String, key: String) throws -> [UInt8]? {
        values.withLock { $0[namespace]?[key] }
    }

    public func setValue(_ value: [UInt8], namespace: String, key: String) throws {
        values.withLock { $0[namespace, default: [:]][key] = value }
    }

    public func removeValue(namespace: String, key: String) throws {
        values.withLock { _ = $0[namespace]?.removeValue(forKey: key) }
    }
}
