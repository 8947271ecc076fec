/// The plugin key-value store (host services table) in the collector database, in the
/// `plugin_kv` table; `namespace` is the destination name.
///
/// Each call is its own statement (autocommit): plugins call it from delivery threads and
/// a value set before `deliver` returns is durable when the outcome is recorded.
public struct SQLiteKeyValueStore: KeyValueStore {
    private let database: Database

    /// Uses an open collector database (see ``CollectorSchema/open(path:options:)``).
    public init(database: Database) {
        self.database = database
    }

    /// The value stored under `key`, or nil.
    public func value(namespace: String, key: String) throws -> [UInt8]? {
        try database.read("read plugin value") { c in
            var result: [UInt8]?
            try c.query("SELECT value FROM plugin_kv WHERE namespace = ? AND key = ?", [.text(namespace), .text(key)], operation: "read plugin value") { row in
                result = row.blob(0) ?? []
            }
            return result
        }
    }

    /// Stores `value` under `key`, replacing any earlier value.
    public func setValue(_ value: [UInt8], namespace: String, key: String) throws {
        try database.read("write plugin value") { c in
            try c.run(
                "INSERT INTO plugin_kv (namespace, key, value) VALUES (?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
                [.text(namespace), .text(key), .blob(value)], operation: "write plugin value")
        }
    }

    /// Removes `key` (no error if absent).
    public func removeValue(namespace: String, key: String) throws {
        try database.read("remove plugin value") { c in
            try c.run("DELETE FROM plugin_kv WHERE namespace = ? AND key = ?", [.text(namespace), .text(key)], operation: "remove plugin value")
        }
    }
}
