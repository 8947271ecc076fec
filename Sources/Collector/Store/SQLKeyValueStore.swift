/// A table of small persistent values in the collector database, whichever engine
/// (``SQLDatabase``): the plugins' key-value store (host services, namespaced by
/// destination) or the signal sources' state.
///
/// Each call is its own statement (autocommit): plugins call it from delivery threads and
/// a value set before `deliver` returns is durable when the outcome is recorded.
public struct SQLKeyValueStore: KeyValueStore {
    /// Which table holds the values.
    public enum Table: String, Sendable {
        /// `plugin_kv`: the plugins' store; the namespace is the destination name.
        case plugins = "plugin_kv"
        /// `source_state`: the signal sources' state (the Kubernetes detectors').
        case sources = "source_state"
    }

    private let database: any SQLDatabase
    private let table: Table

    /// Uses an open collector database (see ``CollectorStorage/open(_:dataDirectory:logger:)``).
    public init(database: any SQLDatabase, table: Table = .plugins) {
        self.database = database
        self.table = table
    }

    /// The value stored under `key`, or nil.
    public func value(namespace: String, key: String) throws -> [UInt8]? {
        try database.read("read \(table.rawValue) value") { c in
            var result: [UInt8]?
            try c.query("SELECT value FROM \(table.rawValue) WHERE namespace = ? AND key = ?", [.text(namespace), .text(key)],
                        operation: "read \(table.rawValue) value") { row in
                result = row.blob(0) ?? []
            }
            return result
        }
    }

    /// Stores `value` under `key`, replacing any earlier value.
    public func setValue(_ value: [UInt8], namespace: String, key: String) throws {
        try database.read("write \(table.rawValue) value") { c in
            try c.run(
                "INSERT INTO \(table.rawValue) (namespace, key, value) VALUES (?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
                [.text(namespace), .text(key), .blob(value)], operation: "write \(table.rawValue) value")
        }
    }

    /// Removes `key` (no error if absent).
    public func removeValue(namespace: String, key: String) throws {
        try database.read("remove \(table.rawValue) value") { c in
            try c.run("DELETE FROM \(table.rawValue) WHERE namespace = ? AND key = ?", [.text(namespace), .text(key)],
                      operation: "remove \(table.rawValue) value")
        }
    }
}
