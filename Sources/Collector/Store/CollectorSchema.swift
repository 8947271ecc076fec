import Foundation

/// The collector's database schema, in migration steps, one list per engine. Append new
/// steps; never edit an applied one (databases in the field have run it). Both lists end at
/// the same tables and columns, so ``DeliveryStore``'s statements run on either.
public enum CollectorSchema {
    /// Every SQLite migration, oldest first.
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
        Migration(version: 3, sql: """
            -- Shared state (PostgreSQL) claims deliveries per replica; SQLite has one process
            -- and never sets them, but keeps the same columns so statements are shared.
            ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
            ALTER TABLE deliveries ADD COLUMN claim_until_ms INTEGER;
            -- The signal sources' state (the Kubernetes detectors' open problems), so a
            -- restart or a new leader resolves what was reported before.
            CREATE TABLE source_state (
                namespace TEXT NOT NULL,
                key TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (namespace, key)
            ) WITHOUT ROWID;
            """),
        Migration(version: 4, sql: """
            -- Noise control (Sources/Collector/Dispatch): an aggregation group per destination
            -- and group key, with what it last notified, so a restart or another replica
            -- neither resends nor forgets a held Issue.
            CREATE TABLE notify_groups (
                destination TEXT NOT NULL,
                group_key TEXT NOT NULL,                -- route id + grouping values (or the Issue's fingerprint)
                route TEXT NOT NULL,                    -- route id: whose policy applies
                kind TEXT NOT NULL,                     -- single | alertmanager | route | storm
                fingerprint TEXT NOT NULL,              -- the notification's fingerprint
                labels BLOB NOT NULL,                   -- JSON object: the group's labels
                created_ms INTEGER NOT NULL,            -- the notification's startsAt (its thread)
                next_flush_ms INTEGER,                  -- when to look at it again; NULL: nothing pending
                last_flush_ms INTEGER NOT NULL DEFAULT 0,
                last_notified_ms INTEGER NOT NULL DEFAULT 0,
                notifications INTEGER NOT NULL DEFAULT 0,
                storm_ended INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (destination, group_key)
            );
            CREATE INDEX notify_groups_due ON notify_groups (next_flush_ms) WHERE next_flush_ms IS NOT NULL;
            CREATE TABLE notify_members (
                destination TEXT NOT NULL,
                group_key TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                status TEXT NOT NULL,                   -- the member's latest status
                starts_at_ms INTEGER NOT NULL,
                seen_ms INTEGER NOT NULL,               -- first seen (joins are listed newest first)
                payload BLOB NOT NULL,                  -- the latest Issue JSON
                notified TEXT,                          -- the status last notified; NULL: never
                PRIMARY KEY (destination, group_key, fingerprint)
            );
            -- Silences (Alertmanager's model): matchers and a window; expired ones are kept
            -- for the retention period, then pruned.
            CREATE TABLE silences (
                id TEXT PRIMARY KEY,
                matchers TEXT NOT NULL,                 -- JSON array of matcher strings
                starts_at_ms INTEGER NOT NULL,
                ends_at_ms INTEGER NOT NULL,
                created_by TEXT NOT NULL,
                comment TEXT NOT NULL,
                updated_ms INTEGER NOT NULL
            );
            CREATE INDEX silences_ends ON silences (ends_at_ms);
            """),
        Migration(version: 5, sql: """
            -- The console's history (Sources/Collector/Console): the recent Issues as they left
            -- the pipeline, with what routing did with each (IssueJournal). Written in the
            -- intake's transaction only when the console is on; pruned to `ui.history` rows.
            CREATE TABLE issue_journal (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                received_ms INTEGER NOT NULL,
                fingerprint TEXT NOT NULL,
                status TEXT NOT NULL,                   -- firing | resolved
                severity TEXT NOT NULL,
                source TEXT NOT NULL,
                namespace TEXT,
                title TEXT NOT NULL,
                starts_at_ms INTEGER NOT NULL,
                payload BLOB NOT NULL,                  -- the Issue JSON, enrichments included
                routing BLOB NOT NULL                   -- JSON array: destination, route, outcome
            );
            CREATE INDEX issue_journal_fingerprint ON issue_journal (fingerprint);
            """),
    ]

    /// Every PostgreSQL migration, oldest first. Version 1 is the SQLite schema at its
    /// version 3, in PostgreSQL's types.
    public static let postgresMigrations: [Migration] = [
        Migration(version: 1, sql: """
            CREATE TABLE deliveries (
                -- Ids are taken inside the intake's advisory lock, so their order is the
                -- commit order across replicas (per-fingerprint order relies on it).
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                destination TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                status TEXT NOT NULL,
                starts_at_ms BIGINT NOT NULL,
                idempotency_key TEXT NOT NULL,
                payload BYTEA,
                state TEXT NOT NULL,
                attempts BIGINT NOT NULL DEFAULT 0,
                next_attempt_ms BIGINT NOT NULL,
                queued_ms BIGINT NOT NULL,
                updated_ms BIGINT NOT NULL,
                last_message TEXT,
                reference BYTEA,
                in_flight_ms BIGINT,
                crashes BIGINT NOT NULL DEFAULT 0,
                dead_cause TEXT,
                claimed_by TEXT,              -- the replica working on it (DeliveryStore.claim)
                claim_until_ms BIGINT         -- its lease; after it lapses another replica takes over
            );
            CREATE INDEX deliveries_dedup ON deliveries (destination, fingerprint, starts_at_ms, status);
            CREATE INDEX deliveries_queue ON deliveries (destination, state);
            -- The order check (older pending rows of the same fingerprint).
            CREATE INDEX deliveries_pending ON deliveries (destination, fingerprint, id) WHERE state = 'pending';
            -- The claim scan reads unclaimed rows only, oldest first, however large the
            -- backlog other replicas (or this one) hold.
            CREATE INDEX deliveries_unclaimed ON deliveries (id) WHERE state = 'pending' AND claimed_by IS NULL;
            -- Renewals (by holder) and the lapsed-claim scan (by lease end).
            CREATE INDEX deliveries_claimed ON deliveries (claimed_by) WHERE state = 'pending';
            CREATE INDEX deliveries_claim_until ON deliveries (claim_until_ms) WHERE state = 'pending' AND claimed_by IS NOT NULL;
            CREATE TABLE plugin_kv (
                namespace TEXT NOT NULL,
                key TEXT NOT NULL,
                value BYTEA NOT NULL,
                PRIMARY KEY (namespace, key)
            );
            CREATE TABLE source_state (
                namespace TEXT NOT NULL,
                key TEXT NOT NULL,
                value BYTEA NOT NULL,
                PRIMARY KEY (namespace, key)
            );
            """),
        Migration(version: 2, sql: """
            CREATE TABLE notify_groups (
                destination TEXT NOT NULL,
                group_key TEXT NOT NULL,
                route TEXT NOT NULL,
                kind TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                labels BYTEA NOT NULL,
                created_ms BIGINT NOT NULL,
                next_flush_ms BIGINT,
                last_flush_ms BIGINT NOT NULL DEFAULT 0,
                last_notified_ms BIGINT NOT NULL DEFAULT 0,
                notifications BIGINT NOT NULL DEFAULT 0,
                storm_ended BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (destination, group_key)
            );
            CREATE INDEX notify_groups_due ON notify_groups (next_flush_ms) WHERE next_flush_ms IS NOT NULL;
            CREATE TABLE notify_members (
                destination TEXT NOT NULL,
                group_key TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                status TEXT NOT NULL,
                starts_at_ms BIGINT NOT NULL,
                seen_ms BIGINT NOT NULL,
                payload BYTEA NOT NULL,
                notified TEXT,
                PRIMARY KEY (destination, group_key, fingerprint)
            );
            CREATE TABLE silences (
                id TEXT PRIMARY KEY,
                matchers TEXT NOT NULL,
                starts_at_ms BIGINT NOT NULL,
                ends_at_ms BIGINT NOT NULL,
                created_by TEXT NOT NULL,
                comment TEXT NOT NULL,
                updated_ms BIGINT NOT NULL
            );
            CREATE INDEX silences_ends ON silences (ends_at_ms);
            """),
        Migration(version: 3, sql: """
            CREATE TABLE issue_journal (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                received_ms BIGINT NOT NULL,
                fingerprint TEXT NOT NULL,
                status TEXT NOT NULL,
                severity TEXT NOT NULL,
                source TEXT NOT NULL,
                namespace TEXT,
                title TEXT NOT NULL,
                starts_at_ms BIGINT NOT NULL,
                payload BYTEA NOT NULL,
                routing BYTEA NOT NULL
            );
            CREATE INDEX issue_journal_fingerprint ON issue_journal (fingerprint);
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
