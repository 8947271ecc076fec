import Collector
import Foundation
import Testing

/// The SQLite wrapper, the schema migrations and the plugin key-value store.
@Suite final class DatabaseTests {
    /// One directory per test (Swift Testing makes an instance per test), removed after it.
    let directory: String

    init() throws {
        directory = try makeTemporaryDirectory()
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func path() throws -> String {
        // A nested, not yet existing data directory: opening creates it.
        directory + "/nested/data/cano-collector.db"
    }

    @Test func opensInWALModeCreatingTheDataDirectory() throws {
        let file = try path()
        let db = try CollectorSchema.open(path: file)
        defer { db.close() }
        #expect(FileManager.default.fileExists(atPath: file))
        let mode = try db.read("test") { try $0.scalar("PRAGMA journal_mode", operation: "journal mode") }
        #expect(mode == .text("wal"))
        let sync = try db.read("test") { try $0.scalar("PRAGMA synchronous", operation: "synchronous") }
        #expect(sync == .integer(2))  // FULL
    }

    @Test func migrationsRunOnceAndRecordTheirVersion() throws {
        let file = try path()
        let next = CollectorSchema.migrations.map(\.version).max()! + 1
        let extra = Migration(version: next, sql: "CREATE TABLE extra (x INTEGER)")
        try Database(path: file, migrations: CollectorSchema.migrations + [extra]).close()
        // Reopening does not run them again (CREATE TABLE would fail if it did).
        let db = try Database(path: file, migrations: CollectorSchema.migrations + [extra])
        defer { db.close() }
        let versions = try db.read("test") { c in
            var v: [Int64] = []
            try c.query("SELECT version FROM schema_migrations ORDER BY version", operation: "versions") { v.append($0.int(0)) }
            return v
        }
        #expect(versions == CollectorSchema.migrations.map { Int64($0.version) } + [Int64(next)])
    }

    @Test func refusesADatabaseFromANewerBinary() throws {
        let file = try path()
        try Database(path: file, migrations: CollectorSchema.migrations + [Migration(version: 9, sql: "SELECT 1")]).close()
        #expect {
            try CollectorSchema.open(path: file)
        } throws: { error in
            guard let e = error as? DatabaseError else { return false }
            return e.code == .migration && e.message.contains("schema version 9")
        }
    }

    @Test func failedMigrationRollsBackAndNamesItself() throws {
        let file = try path()
        let broken = Migration(version: 2, sql: "CREATE TABLE half (x INTEGER); INSERT INTO nowhere VALUES (1);")
        #expect {
            try Database(path: file, migrations: CollectorSchema.migrations + [broken])
        } throws: { error in
            guard let e = error as? DatabaseError else { return false }
            return e.code == .migration && e.operation == "migration 2" && e.message.contains("nowhere")
        }
        let db = try CollectorSchema.open(path: file)
        defer { db.close() }
        let half = try db.read("test") { try $0.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'half'", operation: "check") }
        #expect(half == .integer(0))
    }

    @Test func writeRollsBackWhenTheBodyThrows() throws {
        struct Boom: Error {}
        let db = try CollectorSchema.open(path: try path())
        defer { db.close() }
        #expect(throws: Boom.self) {
            try db.write("test") { c in
                try c.run("INSERT INTO plugin_kv (namespace, key, value) VALUES ('n', 'k', x'00')", operation: "insert")
                throw Boom()
            }
        }
        #expect(try SQLKeyValueStore(database: db).value(namespace: "n", key: "k") == nil)
    }

    @Test func errorsNameTheOperationAndClosedIsReported() throws {
        let db = try CollectorSchema.open(path: try path())
        #expect {
            try db.read("bad query") { try $0.run("SELECT * FROM missing_table", operation: "select from missing") }
        } throws: { error in
            guard let e = error as? DatabaseError else { return false }
            return e.code == .prepare && e.operation == "select from missing" && e.description.contains("missing_table")
        }
        db.close()
        #expect {
            try db.read("after close") { _ in 1 }
        } throws: { ($0 as? DatabaseError)?.code == .closed }
    }

    @Test func keyValueStoreIsScopedByNamespaceAndPersists() throws {
        let file = try path()
        let db = try CollectorSchema.open(path: file)
        let kv = SQLKeyValueStore(database: db)
        try kv.setValue(Array("thread-1".utf8), namespace: "slack-a", key: "fp1")
        try kv.setValue(Array("thread-2".utf8), namespace: "slack-b", key: "fp1")
        try kv.setValue(Array("thread-3".utf8), namespace: "slack-a", key: "fp1")
        try kv.setValue([], namespace: "slack-a", key: "empty")
        #expect(try kv.value(namespace: "slack-a", key: "fp1") == Array("thread-3".utf8))
        #expect(try kv.value(namespace: "slack-b", key: "fp1") == Array("thread-2".utf8))
        #expect(try kv.value(namespace: "slack-a", key: "empty") == [])
        #expect(try kv.value(namespace: "slack-a", key: "absent") == nil)
        try kv.removeValue(namespace: "slack-b", key: "fp1")
        db.close()

        let reopened = try CollectorSchema.open(path: file)
        defer { reopened.close() }
        let again = SQLKeyValueStore(database: reopened)
        #expect(try again.value(namespace: "slack-a", key: "fp1") == Array("thread-3".utf8))
        #expect(try again.value(namespace: "slack-b", key: "fp1") == nil)
    }

    @Test func idempotencyKeyIsStableAndDistinguishesEveryField() {
        let key = IdempotencyKey.make(destination: "slack", fingerprint: "abc", status: "firing", startsAtMillis: 1000)
        #expect(key == IdempotencyKey.make(destination: "slack", fingerprint: "abc", status: "firing", startsAtMillis: 1000))
        #expect(key.count == 64)
        // A fixed vector: the key must survive upgrades, or restarts would re-post.
        #expect(key == "7b92589d2c75edb1bb7e157c5b78c9745e232c57492a66afb4fc16849a6327f5")
        let others = [
            IdempotencyKey.make(destination: "slack2", fingerprint: "abc", status: "firing", startsAtMillis: 1000),
            IdempotencyKey.make(destination: "slack", fingerprint: "abd", status: "firing", startsAtMillis: 1000),
            IdempotencyKey.make(destination: "slack", fingerprint: "abc", status: "resolved", startsAtMillis: 1000),
            IdempotencyKey.make(destination: "slack", fingerprint: "abc", status: "firing", startsAtMillis: 1001),
            IdempotencyKey.make(destination: "slac", fingerprint: "kabc", status: "firing", startsAtMillis: 1000),
        ]
        #expect(Set(others + [key]).count == 6)
    }
}
