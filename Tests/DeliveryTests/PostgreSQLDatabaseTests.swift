import CanoSDK
@testable import Collector
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The PostgreSQL engine (Sources/Collector/Store/Postgres) against a real server
/// (``PostgresServer``): values, row counts, concurrent migrations, an unreachable server,
/// a restart between writes, LISTEN/NOTIFY, and the URL parser.
///
/// Every blocking call runs on an OS thread of its own (``BlockingThread``), never on Swift's
/// cooperative pool.
@Suite struct PostgreSQLDatabaseTests {
    static let logger = Logger(label: "test.postgres")

    /// A database engine on a fresh database of the shared server.
    static func freshDatabase(_ prefix: String, migrations: [Migration] = CollectorSchema.postgresMigrations) async throws -> (PostgreSQLDatabase, url: String) {
        let url = try await PostgresServer.shared.makeDatabase(prefix: prefix)
        return (try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret(url)), logger: logger, migrations: migrations), url)
    }

    // MARK: Values and statements

    @Test func everyValueRoundTrips() async throws {
        let (db, _) = try await Self.freshDatabase("values")
        defer { db.close() }
        let rows: [[SQLValue]] = try await BlockingThread.run {
            try db.write("create") { c in
                try c.run("CREATE TABLE v (id BIGINT, i BIGINT, r DOUBLE PRECISION, t TEXT, b BYTEA)", operation: "create")
            }
            let inserted: [[SQLValue]] = [
                [.integer(1), .integer(Int64.max), .real(1.5), .text("plain"), .blob([0, 1, 2, 255])],
                [.integer(2), .integer(Int64.min), .real(-0.25), .text("ünïcødé ✓ 🚀 日本"), .blob([])],
                [.integer(3), .null, .null, .null, .null],
                [.integer(4), .integer(0), .real(1e300), .text(""), .blob(Array(repeating: 0x2A, count: 100_000))],
            ]
            try db.write("insert") { c in
                for row in inserted { try c.run("INSERT INTO v VALUES (?, ?, ?, ?, ?)", row, operation: "insert") }
            }
            return try db.read("select") { c in
                var rows: [[SQLValue]] = []
                try c.query("SELECT id, i, r, t, b FROM v ORDER BY id", operation: "select") { row in
                    rows.append((0..<5).map { row[$0] })
                }
                return rows
            }
        }
        #expect(rows.count == 4)
        #expect(rows[0] == [.integer(1), .integer(Int64.max), .real(1.5), .text("plain"), .blob([0, 1, 2, 255])])
        #expect(rows[1] == [.integer(2), .integer(Int64.min), .real(-0.25), .text("ünïcødé ✓ 🚀 日本"), .blob([])])
        #expect(rows[2] == [.integer(3), .null, .null, .null, .null])
        #expect(rows[3][2] == .real(1e300) && rows[3][3] == .text("") && rows[3][4] == .blob(Array(repeating: 0x2A, count: 100_000)))
    }

    @Test func columnsDecodeByServerType() async throws {
        let (db, _) = try await Self.freshDatabase("types")
        defer { db.close() }
        let (values, accessors) = try await BlockingThread.run { () throws -> ([SQLValue], [String]) in
            try db.read("types") { c in
                var values: [SQLValue] = []
                var accessors: [String] = []
                try c.query(
                    """
                    SELECT 7::int2, 8::int4, 9::int8, 26::oid, true, false, 2.5::real, 1.25::numeric,
                           'v'::varchar, 'c'::char(3), 'n'::name, '{"a": 1}'::json, '{"b": 2}'::jsonb, NULL,
                           '?' || ?, E'it''s \\' ?' AS escaped, "?column?" FROM (SELECT 1 AS "?column?") q
                    """, [.text("x")], operation: "types"
                ) { row in
                    values = (0..<17).map { row[$0] }
                    accessors = [String(row.int(0)), row.text(8) ?? "nil", row.text(13) ?? "nil", String(row.int(13)),
                                 String(decoding: row.blob(8) ?? [], as: UTF8.self), row.text(6) ?? "nil"]
                }
                return (values, accessors)
            }
        }
        #expect(Array(values[0..<6]) == [.integer(7), .integer(8), .integer(9), .integer(26), .integer(1), .integer(0)])
        #expect(Array(values[6..<8]) == [.real(2.5), .real(1.25)])
        #expect(Array(values[8..<11]) == [.text("v"), .text("c  "), .text("n")])
        #expect(values[11] == .text(#"{"a": 1}"#))
        #expect(values[12] == .text(#"{"b": 2}"#))
        #expect(values[13] == .null)
        // A `?` in a literal is text; only the one outside it is a parameter.
        #expect(values[14] == .text("?x"))
        #expect(values[15] == .text("it's ' ?"))
        #expect(values[16] == .integer(1))
        #expect(accessors == ["7", "v", "nil", "0", "v", "2.5"])
    }

    @Test func runReturnsRowsChanged() async throws {
        let (db, _) = try await Self.freshDatabase("counts")
        defer { db.close() }
        let counts = try await BlockingThread.run {
            try db.write("counts") { c -> [Int] in
                var counts: [Int] = []
                counts.append(try c.run("CREATE TABLE n (x BIGINT, y TEXT)", operation: "create"))
                counts.append(try c.run("INSERT INTO n VALUES (?, ?)", [.integer(1), .text("a")], operation: "insert one"))
                counts.append(try c.run("INSERT INTO n VALUES (?, 'b'), (?, 'c'), (?, 'd')", [.integer(2), .integer(3), .integer(4)], operation: "insert three"))
                counts.append(try c.run("UPDATE n SET y = ? WHERE x > ?", [.text("z"), .integer(1)], operation: "update"))
                counts.append(try c.run("DELETE FROM n WHERE x IN (?, ?)", [.integer(1), .integer(2)], operation: "delete"))
                counts.append(try c.run("UPDATE n SET y = 'q' WHERE x = 99", operation: "update none"))
                counts.append(try c.count("SELECT count(*) FROM n", operation: "count"))
                return counts
            }
        }
        #expect(counts == [0, 1, 3, 3, 2, 0, 2])
    }

    @Test func writeRollsBackWhenTheBodyThrowsAndSQLErrorsCarryTheSQLState() async throws {
        struct Boom: Error {}
        let (db, _) = try await Self.freshDatabase("rollback")
        defer { db.close() }
        let (count, sqlError) = try await BlockingThread.run { () throws -> (Int, DatabaseError?) in
            try db.write("create") { try $0.run("CREATE TABLE r (x BIGINT PRIMARY KEY)", operation: "create") }
            do {
                try db.write("insert then fail") { c in
                    try c.run("INSERT INTO r VALUES (?)", [.integer(1)], operation: "insert")
                    throw Boom()
                }
                Issue.record("the write should have thrown")
            } catch is Boom {}
            var sqlError: DatabaseError?
            do {
                try db.write("duplicate") { c in
                    try c.run("INSERT INTO r VALUES (?)", [.integer(2)], operation: "insert")
                    try c.run("INSERT INTO r VALUES (?)", [.integer(2)], operation: "insert again")
                }
            } catch let error as DatabaseError {
                sqlError = error
            }
            return (try db.read("count") { try $0.count("SELECT count(*) FROM r", operation: "count") }, sqlError)
        }
        #expect(count == 0)
        #expect(sqlError?.code == .step)
        #expect(sqlError?.operation == "insert again")
        #expect(sqlError?.message.contains("23505") == true)
        #expect(sqlError?.message.contains("duplicate key") == true)
    }

    @Test func aCaughtStatementErrorStillFailsTheCommit() async throws {
        let (db, _) = try await Self.freshDatabase("swallowed")
        defer { db.close() }
        let outcome = try await BlockingThread.run { () throws -> String in
            try db.write("create") { try $0.run("CREATE TABLE s (x BIGINT PRIMARY KEY)", operation: "create") }
            do {
                try db.write("swallow") { c in
                    try c.run("INSERT INTO s VALUES (1)", operation: "insert")
                    _ = try? c.run("INSERT INTO s VALUES (1)", operation: "duplicate")
                }
                return "committed"
            } catch let error as DatabaseError {
                return "\(error.code): \(error.message)"
            }
        }
        #expect(outcome.hasPrefix("step: the transaction was rolled back"))
        #expect(outcome.contains("23505"))
    }

    // MARK: Migrations

    @Test func threeReplicasMigratingAtOnceApplyEachStepOnce() async throws {
        let url = try await PostgresServer.shared.makeDatabase(prefix: "migrate")
        let next = CollectorSchema.postgresMigrations.map(\.version).max()! + 1
        // An extra step with a side effect that would show a second application.
        let migrations = CollectorSchema.postgresMigrations + [Migration(version: next, sql: """
            -- one row per application; a second run would add another
            CREATE TABLE applied (x INT);
            INSERT INTO applied VALUES (1);
            """)]
        let databases = try (0..<3).map { _ in
            try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret(url)), logger: Self.logger, migrations: migrations)
        }
        defer { databases.forEach { $0.close() } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for db in databases {
                group.addTask { try await BlockingThread.run { try db.checkAvailable() } }
            }
            try await group.waitForAll()
        }
        let (versions, applied) = try await BlockingThread.run { () throws -> ([Int64], Int) in
            try databases[0].read("check") { c in
                var versions: [Int64] = []
                try c.query("SELECT version FROM schema_migrations ORDER BY version", operation: "versions") { versions.append($0.int(0)) }
                return (versions, try c.count("SELECT count(*) FROM applied", operation: "applied"))
            }
        }
        #expect(versions == migrations.map { Int64($0.version) })
        #expect(applied == 1)
        // The collector's tables are there.
        let tables = try await PostgresServer.shared.psql(url, "SELECT count(*) FROM pg_tables WHERE tablename IN ('deliveries', 'plugin_kv', 'source_state')")
        #expect(tables == "3")
    }

    @Test func refusesADatabaseFromANewerBinary() async throws {
        let url = try await PostgresServer.shared.makeDatabase(prefix: "newer")
        let newer = CollectorSchema.postgresMigrations + [Migration(version: 99, sql: "SELECT 1")]
        let error = await BlockingThread.run { () -> DatabaseError? in
            do throws(DatabaseError) {
                let first = try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret(url)), logger: Self.logger, migrations: newer)
                try first.checkAvailable()
                first.close()
                let old = try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret(url)), logger: Self.logger)
                defer { old.close() }
                try old.checkAvailable()
                return nil
            } catch {
                return error
            }
        }
        #expect(error?.code == .migration)
        #expect(error?.message.contains("schema version 99") == true)
        #expect(error?.message.contains("use a newer cano-collector") == true)
    }

    @Test func aFailedMigrationRollsBackAndNamesItself() async throws {
        let url = try await PostgresServer.shared.makeDatabase(prefix: "broken")
        let broken = CollectorSchema.postgresMigrations + [Migration(version: 50, sql: "CREATE TABLE half (x INT); INSERT INTO nowhere VALUES (1);")]
        let error = await BlockingThread.run { () -> DatabaseError? in
            do throws(DatabaseError) {
                let db = try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret(url)), logger: Self.logger, migrations: broken)
                defer { db.close() }
                try db.checkAvailable()
                return nil
            } catch {
                return error
            }
        }
        #expect(error?.code == .migration)
        #expect(error?.operation == "migration 50")
        #expect(error?.message.contains("nowhere") == true)
        let half = try await PostgresServer.shared.psql(url, "SELECT count(*) FROM pg_tables WHERE tablename = 'half'")
        #expect(half == "0")
    }

    // MARK: Unreachable server, restart, LISTEN

    @Test func anUnreachableServerFailsFastWithASecretFreeReason() async throws {
        let port = try freeLoopbackPort()  // bound, then released: nothing listens
        let password = "Sup3r-s3cret-pw"
        let url = "postgres://cano:\(password)@127.0.0.1:\(port)/canodb?sslmode=disable"
        // Creating the engine does not connect: the collector starts with the server down.
        let db = try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret(url)), logger: Self.logger)
        defer { db.close() }
        let results = await BlockingThread.run { () -> [(DatabaseError?, Duration)] in
            let clock = ContinuousClock()
            var results: [(DatabaseError?, Duration)] = []
            for call in 0..<3 {
                let start = clock.now
                do {
                    switch call {
                    case 0: try db.read("read") { try $0.run("SELECT 1", operation: "select") }
                    case 1: try db.write("write") { try $0.run("SELECT 1", operation: "select") }
                    default: try db.checkAvailable()
                    }
                    results.append((nil, clock.now - start))
                } catch let error as DatabaseError {
                    results.append((error, clock.now - start))
                } catch {
                    results.append((DatabaseError(.step, operation: "?", message: "\(error)"), clock.now - start))
                }
            }
            return results
        }
        for (error, elapsed) in results {
            let error = try #require(error)
            #expect(error.code == .unavailable)
            #expect(elapsed < .seconds(5))
            #expect(error.message.contains("cannot connect to PostgreSQL at 127.0.0.1:\(port) (database canodb)"))
            #expect(error.message.contains("connection refused"))
            for text in [error.message, error.description, error.operation, String(reflecting: error)] {
                #expect(!text.contains(password))
                #expect(!text.contains("postgres://"))
            }
        }
    }

    /// What a server restart does to open connections (57P01, then a closed socket),
    /// caused on purpose: the first run of each body kills its own backend, the body runs
    /// again on a new connection and succeeds; killing the LISTEN connection makes the
    /// listener reconnect and call its handler.
    @Test func aConnectionKilledMidBodyIsReplacedAndTheBodyRunsAgain() async throws {
        let (db, _) = try await Self.freshDatabase("killed")
        defer { db.close() }
        let wakeups = Wakeups()
        db.listen(channel: "cano_wake") { wakeups.add() }
        #expect(await wakeups.wait(atLeast: 1))
        let (runs, rows, readRuns) = try await BlockingThread.run { () throws -> (Int, Int, Int) in
            try db.write("create") { try $0.run("CREATE TABLE k (x BIGINT)", operation: "create") }
            var runs = 0
            try db.write("insert") { c in
                runs += 1
                try c.run("INSERT INTO k VALUES (?)", [.integer(Int64(runs))], operation: "insert")
                if runs == 1 {
                    // 57P01 "terminating connection due to administrator command", as at a restart.
                    try c.run("SELECT pg_terminate_backend(pg_backend_pid())", operation: "kill own backend")
                }
            }
            var readRuns = 0
            let rows = try db.read("count") { c in
                readRuns += 1
                if readRuns == 1 { try c.run("SELECT pg_terminate_backend(pg_backend_pid())", operation: "kill own backend") }
                return try c.count("SELECT count(*) FROM k", operation: "count")
            }
            return (runs, rows, readRuns)
        }
        #expect(runs == 2)
        #expect(rows == 1)  // the first run's insert was rolled back with its connection
        #expect(readRuns == 2)

        // Kill every other backend of this database: the LISTEN connection among them.
        let before = wakeups.count
        let killed = try await BlockingThread.run {
            try db.read("kill the others") { c in
                try c.count(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    operation: "kill")
            }
        }
        #expect(killed >= 1)
        #expect(await wakeups.wait(atLeast: before + 1))
        let afterReconnect = wakeups.count
        _ = try await BlockingThread.run {
            try db.write("notify") { try $0.run("SELECT pg_notify('cano_wake', '')", operation: "notify") }
        }
        #expect(await wakeups.wait(atLeast: afterReconnect + 1))
    }

    @Test func aWriteAfterAServerRestartSucceedsAndListenersHearOfIt() async throws {
        guard let server = await within(.seconds(60), { try await PostgresServer.dedicated() }) else {
            helperHung("PostgresServer.dedicated()")
            return
        }
        defer { stopLater { try? await server.destroy() } }
        let url = try await server.makeDatabase(prefix: "restart")
        let db = try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret(url)), logger: Self.logger)
        defer { db.close() }
        let wakeups = Wakeups()
        db.listen(channel: "cano_wake") { wakeups.add() }
        // The first call comes once the LISTEN connection is up.
        #expect(await wakeups.wait(atLeast: 1))

        try await BlockingThread.run {
            try db.write("create") { try $0.run("CREATE TABLE w (x BIGINT)", operation: "create") }
            try db.write("first") { try $0.run("INSERT INTO w VALUES (1)", operation: "insert") }
            try db.write("notify") { try $0.run("SELECT pg_notify('cano_wake', '')", operation: "notify") }
        }
        #expect(await wakeups.wait(atLeast: 2))

        let before = wakeups.count
        guard await within(.seconds(60), { try await server.restart() }) != nil else {
            helperHung("PostgresServer.restart()")
            return
        }
        let count = try await BlockingThread.run {
            // The pooled connection died with the old server: the write reconnects (or
            // re-runs on a new connection) instead of failing.
            try db.write("second") { try $0.run("INSERT INTO w VALUES (2)", operation: "insert") }
            return try db.read("count") { try $0.count("SELECT count(*) FROM w", operation: "count") }
        }
        #expect(count == 2)
        // The listener reconnected and called the handler for what it may have missed...
        #expect(await wakeups.wait(atLeast: before + 1))
        // ...and hears new notifications.
        let afterReconnect = wakeups.count
        _ = try await BlockingThread.run {
            try db.write("notify") { try $0.run("SELECT pg_notify('cano_wake', '')", operation: "notify") }
        }
        #expect(await wakeups.wait(atLeast: afterReconnect + 1))
    }

    /// A test-server call that did not return in time fails the test with its name (a hang
    /// once came from scripts/postgres.sh passing Foundation's process-monitoring socket to
    /// the server; the script now closes inherited descriptors).
    func helperHung(_ call: String) {
        Issue.record("\(call) did not return within 60 s")
    }

    /// `body`'s value, or nil when it threw or took longer than `limit`. A body that never
    /// returns is left behind (its task is not awaited), so the suite goes on.
    func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async -> T? {
        let result = Mutex<Result<T, any Error>?>(nil)
        Task {
            let value: Result<T, any Error>
            do { value = .success(try await body()) } catch { value = .failure(error) }
            result.withLock { $0 = value }
        }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            switch result.withLock({ $0 }) {
            case .success(let value)?: return value
            case .failure(let error)?:
                Issue.record(error)
                return nil
            case nil: try? await Task.sleep(for: .milliseconds(50))
            }
        }
        return nil
    }

    @Test func callsAfterCloseFailWithClosed() async throws {
        let (db, _) = try await Self.freshDatabase("closed")
        try await BlockingThread.run { try db.checkAvailable() }
        db.close()
        let error = await BlockingThread.run { () -> DatabaseError? in
            do throws(DatabaseError) { try db.checkAvailable(); return nil } catch { return error }
        }
        #expect(error?.code == .closed)
    }

    @Test func aWrongPasswordIsAConfigurationErrorWithoutThePassword() async throws {
        // The test server trusts loopback, so a role with a password and md5 auth is not
        // possible here; a missing database shows the same path (login refused, `.open`).
        let admin = try await PostgresServer.shared.adminURL
        let url = try PostgresServer.url(admin, database: "no_such_database_\(getpid())")
        let db = try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret(url)), logger: Self.logger)
        defer { db.close() }
        let error = await BlockingThread.run { () -> DatabaseError? in
            do throws(DatabaseError) { try db.checkAvailable(); return nil } catch { return error }
        }
        #expect(error?.code == .open)
        #expect(error?.message.contains("3D000") == true)
        #expect(error?.message.contains("postgres://") == false)
    }

    /// The test server has no TLS: `prefer` falls back to plain TCP, `require` refuses.
    @Test func sslModesAgainstAServerWithoutTLS() async throws {
        let url = try await PostgresServer.shared.makeDatabase(prefix: "tls")
        let separator = url.contains("?") ? "&" : "?"
        let results = await BlockingThread.run { () -> [DatabaseError?] in
            ["prefer", "allow", "disable", "require", "verify-full"].map { mode -> DatabaseError? in
                do throws(DatabaseError) {
                    let db = try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret("\(url)\(separator)sslmode=\(mode)")), logger: Self.logger)
                    defer { db.close() }
                    try db.checkAvailable()
                    return nil
                } catch {
                    return error
                }
            }
        }
        #expect(results[0] == nil && results[1] == nil && results[2] == nil)
        for refused in results[3...] {
            #expect(refused?.code == .open)
            #expect(refused?.message.contains("does not offer TLS") == true, "\(String(describing: refused))")
        }
    }

    @Test func aMissingCAFileIsAConfigurationErrorNamingTheFile() throws {
        var config = PostgresStorageConfig(url: Secret("postgres://cano:pw-secret@db.example:5432/cano?sslmode=verify-full"))
        config.caFile = "/nonexistent/ca.pem"
        #expect {
            try PostgreSQLDatabase(config: config, logger: Self.logger)
        } throws: { error in
            guard let e = error as? DatabaseError else { return false }
            return e.code == .open && e.message.contains("/nonexistent/ca.pem") && e.message.contains("does not exist")
                && !e.message.contains("pw-secret") && !e.message.contains("postgres://")
        }
    }

    // MARK: URLs

    @Test(arguments: [
        ("postgres://cano:secret@db:5432/collector?sslmode=require",
         "cano", "secret", "db", 5432, "collector", PostgresURL.SSLMode.require, "cano-collector"),
        ("postgresql://cano@db/collector", "cano", nil, "db", 5432, "collector", .prefer, "cano-collector"),
        ("postgres://cano:p%40ss%2Fw%3Ard%25@db.example.com:6543", "cano", "p@ss/w:rd%", "db.example.com", 6543, "cano", .prefer, "cano-collector"),
        ("postgres://u%20x:pw@[::1]:5433/d?sslmode=verify-full&application_name=replica%201",
         "u x", "pw", "::1", 5433, "d", .verifyFull, "replica 1"),
        ("postgres://u:@127.0.0.1/d?sslmode=disable", "u", "", "127.0.0.1", 5432, "d", .disable, "cano-collector"),
        ("POSTGRES://u:pw@h/d?sslmode=verify-ca&connect_timeout=3", "u", "pw", "h", 5432, "d", .verifyCA, "cano-collector"),
        ("postgres://u:pw@h/d?sslmode=allow", "u", "pw", "h", 5432, "d", .allow, "cano-collector"),
    ] as [(String, String, String?, String, Int, String, PostgresURL.SSLMode, String)])
    func parsesGoodURLs(_ text: String, user: String, password: String?, host: String, port: Int, database: String, sslMode: PostgresURL.SSLMode, application: String) throws {
        let url = try PostgresURL(parsing: text)
        #expect(url.user == user)
        #expect(url.password == password)
        #expect(url.host == host)
        #expect(url.port == port)
        #expect(url.database == database)
        #expect(url.sslMode == sslMode)
        #expect(url.applicationName == application)
        if let password, !password.isEmpty {
            #expect(!url.description.contains(password))
            #expect(!String(reflecting: url).contains(password))
            var dumped = ""
            dump(url, to: &dumped)
            #expect(!dumped.contains(password))
            #expect(url.description.contains("<redacted>"))
        }
    }

    @Test(arguments: [
        ("mysql://u:hunter22@h/d", "postgres:// or postgresql://"),
        ("u:hunter22@h/d", "must start with postgres://"),
        ("postgres://h/d", "names no user"),
        ("postgres://:hunter22@h/d", "names no user"),
        ("postgres://u:hunter22@/d", "names no host"),
        ("postgres://u:hunter22@h:99999/d", "port must be a number"),
        ("postgres://u:hunter22@h:abc/d", "port must be a number"),
        ("postgres://u:hunter22@[::1/d", "no closing ']'"),
        ("postgres://u:hunter22@h1,h2/d", "several hosts"),
        ("postgres://u:hunter%2@h/d", "password has an invalid percent-escape"),
        ("postgres://u:hunter22@h/d?sslmode=sometimes", "sslmode 'sometimes' is not one of disable, allow, prefer, require, verify-ca, verify-full"),
        ("postgres://u:hunter22@h/d?sslmde=require", "unknown URL parameter 'sslmde'"),
        ("postgres://u:hunter22@h/d?connect_timeout=0", "connect_timeout"),
        // An unencoded '/' or '?' in the password: the parse goes wrong; nothing of it is echoed.
        ("postgres://u:hun/ter22@h/d", "percent-encode them"),
        ("postgres://u:hunter?22@h/d", "percent-encode them"),
        ("postgres://u:pw@h/d?hunter22=1@x", "unknown URL parameter (value not shown)"),
        ("postgres://u:hunter22@h%20x/d", "host name has characters"),
    ])
    func rejectsBadURLsWithoutThePassword(_ text: String, expected: String) {
        do {
            let url = try PostgresURL(parsing: text)
            Issue.record("parsed \(url) but should have failed with \(expected)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
            #expect(!error.description.contains("hunter"))
            #expect(!error.description.contains(text))
        }
    }

    // MARK: SQL text

    @Test func placeholdersBecomeNumberedOutsideLiteralsAndComments() {
        let cases: [(String, String, Int)] = [
            ("SELECT ?", "SELECT $1", 1),
            ("INSERT INTO t VALUES (?, ?, ?)", "INSERT INTO t VALUES ($1, $2, $3)", 3),
            ("SELECT '?' || ?", "SELECT '?' || $1", 1),
            ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1", 1),
            ("SELECT E'\\' ?', ?", "SELECT E'\\' ?', $1", 1),
            ("SELECT \"?x\" FROM t WHERE a = ?", "SELECT \"?x\" FROM t WHERE a = $1", 1),
            ("SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2", 2),
            ("SELECT /* ? /* ? */ ? */ ?", "SELECT /* ? /* ? */ ? */ $1", 1),
            ("SELECT $$ ? $$, $tag$ ? $tag$, ?", "SELECT $$ ? $$, $tag$ ? $tag$, $1", 1),
            ("SELECT 1", "SELECT 1", 0),
            ("SELECT 'ü?', ?", "SELECT 'ü?', $1", 1),
        ]
        for (sql, expected, count) in cases {
            let translated = PostgresSQLText.numberedPlaceholders(sql)
            #expect(translated.sql == expected)
            #expect(translated.count == count)
        }
    }

    @Test func scriptsSplitIntoStatements() {
        let script = """
            -- leading comment; with a semicolon
            CREATE TABLE a (x TEXT DEFAULT ';');
            /* block; comment */
            CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
            INSERT INTO a VALUES ('x;y')  ;
            -- trailing comment only
            """
        let statements = PostgresSQLText.statements(script)
        #expect(statements.count == 3)
        #expect(statements[0].hasSuffix("CREATE TABLE a (x TEXT DEFAULT ';')"))
        #expect(statements[1].hasSuffix("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql"))
        #expect(statements[2] == "INSERT INTO a VALUES ('x;y')")
    }
}

/// Counts LISTEN handler calls; waits (polling, on the test's task) for a count.
final class Wakeups: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }

    /// True once at least `n` calls happened, false after 15 seconds.
    func wait(atLeast n: Int) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if count >= n { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return count >= n
    }
}
