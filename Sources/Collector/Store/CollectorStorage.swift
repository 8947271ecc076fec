import Logging

/// Opens the store a configuration names: PostgreSQL when `storage.postgres` is set (shared
/// by every replica), else the SQLite file in `data_dir`.
public enum CollectorStorage {
    /// Opens and migrates the store.
    /// - Throws: ``DatabaseError``: for SQLite, any failure to open or migrate the file; for
    ///   PostgreSQL only configuration problems (a bad URL, an unreadable CA file). An
    ///   unreachable server is not an error here: the collector starts, `/readyz` says 503
    ///   and the store connects when the server answers.
    public static func open(_ config: StorageConfig, dataDirectory: String, logger: Logger) throws(DatabaseError) -> any SQLDatabase {
        if let postgres = config.postgres {
            return try PostgreSQLDatabase(config: postgres, logger: logger)
        }
        return try CollectorSchema.open(path: CollectorSchema.path(inDataDirectory: dataDirectory))
    }
}
