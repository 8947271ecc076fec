import Foundation

/// The collector's database schema, in migration steps. Append new steps; never edit an
/// applied one (databases in the field have run it).
public enum CollectorSchema {
    /// Every migration, oldest first.
    public static let migrations: [Migration] = [
        Migration(version: 1, sql: """
            -- One row per (Issue, destination). The row is the queue entry while pending, the
            -- dedup record once delivered (payload dropped, row kept until pruned), and the
            -- dead letter when it failed for good.
            CREATE TABLE deliveries (
                id INTEGER PRIMARY KEY AUTOINCREMENT,   -- AUTOINCREMENT: ids never reused, the engine loads by id
                destination TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                status TEXT NOT NULL,                   -- firing | resolved
                starts_at_ms INTEGER NOT NULL,
                idempotency_key TEXT NOT NULL,
                payload BLOB,                           -- the Issue JSON; NULL once delivered
                state TEXT NOT NULL,                    -- pending | delivered | dead
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_ms INTEGER NOT NULL,
                queued_ms INTEGER NOT NULL,
                updated_ms INTEGER NOT NULL,            -- for delivered rows: last time a duplicate was seen
                last_message TEXT,
                reference BLOB                          -- what the destination returned on delivery
            );
            -- Dedup lookups, and the reference of an occurrence (destination, fingerprint, startsAt).
            CREATE INDEX deliveries_dedup ON deliveries (destination, fingerprint, starts_at_ms, status);
            -- Queue depth per destination.
            CREATE INDEX deliveries_queue ON deliveries (destination, state);

            -- The plugin key-value store (host services table), namespaced by destination.
            CREATE TABLE plugin_kv (
                namespace TEXT NOT NULL,
                key TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (namespace, key)
            ) WITHOUT ROWID;
            """),
        Migration(version: 2, sql: """
            -- Crash containment: a plugin call is recorded durably before it starts
            -- (in_flight_ms), so after an unclean exit the next start knows which delivery was
            -- in a call, counts it (crashes) and quarantines a poison Issue.
            ALTER TABLE deliveries ADD COLUMN in_flight_ms INTEGER;
            ALTER TABLE deliveries ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;
            -- Why a dead letter is dead (DeadLetterCause): a resend revives some causes, not all.
            ALTER TABLE deliveries ADD COLUMN dead_cause TEXT;
            """),
    ]

    /// Opens the collector database at `path` (creating the data directory), migrated to
    /// the current schema.
    public static func open(path: String, options: Database.Options = Database.Options()) throws(DatabaseError) -> Database {
        try Database(path: path, options: options, migrations: migrations)
    }

    /// The database file inside a data directory, as ``CollectorConfig/databasePath`` has it.
    public static func path(inDataDirectory directory: String) -> String {
        var config = CollectorConfig()
        config.dataDirectory = directory
        return config.databasePath
    }
}

/// Wall-clock milliseconds since the Unix epoch: what the database stores, so queued
/// deliveries keep their timing across restarts.
@inline(__always)
func unixMillis(_ date: Date = Date()) -> Int64 {
    Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
}
