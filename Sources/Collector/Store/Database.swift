import CSQLite
import Foundation

/// A failed database operation. `operation` names what we were doing ("open", "insert
/// delivery"...), `message` is SQLite's explanation; neither carries row data.
public struct DatabaseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: String, Sendable {
        /// The file could not be opened or created.
        case open
        /// A statement failed to compile (a bug, or a database from a newer binary).
        case prepare
        /// A statement failed while running (I/O error, full disk, constraint...).
        case step
        /// The database stayed locked by another connection past the busy timeout.
        case busy
        /// The schema is newer than this binary understands, or a migration failed.
        case migration
        /// The database was closed.
        case closed
        /// The database server cannot be reached (PostgreSQL down, connection refused or
        /// reset). Transient: the caller retries later; the intake answers 503.
        case unavailable
    }
    /// What kind of failure.
    public var code: Code
    /// What the caller was doing.
    public var operation: String
    /// SQLite's explanation (or ours), without row data.
    public var message: String
    /// SQLite's extended result code, when there is one.
    public var sqliteCode: Int32

    /// Creates an error for `operation`.
    public init(_ code: Code, operation: String, message: String, sqliteCode: Int32 = 0) {
        self.code = code
        self.operation = operation
        self.message = message
        self.sqliteCode = sqliteCode
    }

    /// One line naming the operation and the cause.
    public var description: String { "database \(operation) failed (\(code.rawValue)): \(message)" }

    /// `error` as a DatabaseError: itself when it is one, else a `.step` failure of
    /// `operation` (a body's own error thrown inside ``SQLDatabase/read(_:_:)``).
    static func wrapping(_ error: any Error, operation: String) -> DatabaseError {
        error as? DatabaseError ?? DatabaseError(.step, operation: operation, message: "\(error)")
    }
}

/// A value bound to or read from a statement.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// One SQLite connection, used by one thread at a time (``Database`` holds the lock).
///
/// Statements are compiled once and cached by their SQL text, so callers write plain SQL
/// with `?` parameters and pay the compile cost once per process.
public final class DatabaseConnection: SQLConnection {
    fileprivate let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]

    fileprivate init(handle: OpaquePointer) {
        self.handle = handle
    }

    fileprivate func finalize() {
        for (_, statement) in statements { sqlite3_finalize(statement) }
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs SQL without results, possibly several statements (schema scripts, pragmas).
    public func execute(_ sql: String, operation: String) throws(DatabaseError) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(error)
            throw DatabaseError(Self.code(for: rc), operation: operation, message: message, sqliteCode: rc)
        }
    }

    /// Runs one statement that returns no rows; returns the number of rows changed.
    @discardableResult
    public func run(_ sql: String, _ values: [SQLValue], operation: String) throws(DatabaseError) -> Int {
        let statement = try prepared(sql, operation: operation)
        defer { reset(statement) }
        try bind(values, to: statement, operation: operation)
        var rc = sqlite3_step(statement)
        while rc == SQLITE_ROW { rc = sqlite3_step(statement) }
        guard rc == SQLITE_DONE else { throw failure(rc, operation) }
        return Int(sqlite3_changes(handle))
    }

    /// Runs a query and calls `row` for each result row, in order.
    public func query(_ sql: String, _ values: [SQLValue], operation: String, _ row: (any SQLRow) throws(DatabaseError) -> Void) throws(DatabaseError) {
        let statement = try prepared(sql, operation: operation)
        defer { reset(statement) }
        try bind(values, to: statement, operation: operation)
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw failure(rc, operation) }
            try row(DatabaseRow(statement: statement))
        }
    }

    /// The rowid of the last INSERT on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` inside a savepoint: if it throws, only its own changes are undone and
    /// the surrounding transaction goes on (a refused batch inside a group commit).
    public func savepoint<T>(_ name: String, _ body: () throws -> T) throws -> T {
        try execute("SAVEPOINT \(name)", operation: "savepoint")
        do {
            let value = try body()
            try execute("RELEASE \(name)", operation: "release savepoint")
            return value
        } catch {
            try? execute("ROLLBACK TO \(name); RELEASE \(name)", operation: "rollback savepoint")
            throw error
        }
    }

    private var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

    private func prepared(_ sql: String, operation: String) throws(DatabaseError) -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            throw DatabaseError(.prepare, operation: operation, message: lastMessage, sqliteCode: rc)
        }
        statements[sql] = statement
        return statement
    }

    private func reset(_ statement: OpaquePointer) {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    private func bind(_ values: [SQLValue], to statement: OpaquePointer, operation: String) throws(DatabaseError) {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, index)
            case .integer(let v): rc = sqlite3_bind_int64(statement, index, v)
            case .real(let v): rc = sqlite3_bind_double(statement, index, v)
            case .text(let v):
                rc = v.utf8CString.withUnsafeBufferPointer { csqlite_bind_text(statement, index, $0.baseAddress, Int32($0.count - 1)) }
            case .blob(let v):
                rc = v.withUnsafeBytes { bytes in
                    // A zero-length blob still needs a non-null pointer, or SQLite stores NULL.
                    csqlite_bind_blob(statement, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count))
                }
            }
            guard rc == SQLITE_OK else { throw failure(rc, operation) }
        }
    }

    private func failure(_ rc: Int32, _ operation: String) -> DatabaseError {
        DatabaseError(Self.code(for: rc), operation: operation, message: lastMessage, sqliteCode: rc)
    }

    private static func code(for rc: Int32) -> DatabaseError.Code {
        let primary = rc & 0xff
        return primary == SQLITE_BUSY || primary == SQLITE_LOCKED ? .busy : .step
    }
}

/// The current row of a query, valid only inside the row callback.
public struct DatabaseRow: SQLRow {
    fileprivate let statement: OpaquePointer

    fileprivate init(statement: OpaquePointer) {
        self.statement = statement
    }

    /// The column's value with SQLite's own type.
    public subscript(_ column: Int) -> SQLValue {
        let index = Int32(column)
        switch sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, index))
        case SQLITE_TEXT: return .text(text(column) ?? "")
        case SQLITE_BLOB: return .blob(blob(column) ?? [])
        default: return .null
        }
    }

    /// The column as an integer (0 for NULL).
    public func int(_ column: Int) -> Int64 { sqlite3_column_int64(statement, Int32(column)) }

    /// The column as text, or nil for NULL.
    public func text(_ column: Int) -> String? {
        guard let p = sqlite3_column_text(statement, Int32(column)) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, Int32(column)))
        return String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self)
    }

    /// The column as bytes, or nil for NULL.
    public func blob(_ column: Int) -> [UInt8]? {
        guard sqlite3_column_type(statement, Int32(column)) != SQLITE_NULL else { return nil }
        let count = Int(sqlite3_column_bytes(statement, Int32(column)))
        guard count > 0, let p = sqlite3_column_blob(statement, Int32(column)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: count))
    }
}

/// One schema step; applied once, in `version` order, inside a transaction.
public struct Migration: Sendable {
    /// Applied in increasing order; recorded in `schema_migrations`.
    public var version: Int
    /// One or more statements, run in one transaction.
    public var sql: String
    /// A step of the schema.
    public init(version: Int, sql: String) {
        self.version = version
        self.sql = sql
    }
}

/// A small, careful SQLite database: one connection in WAL mode, serialised by a lock.
///
/// SQLite calls block, so use it only from threads you own (the outbox writer, delivery
/// threads, CLI commands), never from Swift's cooperative pool.
///
/// One connection (not a pool) on purpose: the collector has exactly one writer at a time
/// anyway (SQLite allows one), group commit batches the intake, and one connection means
/// a transaction sees every earlier commit of this process without cross-connection races.
public final class Database: SQLDatabase, @unchecked Sendable {
    /// How hard a commit tries to reach the disk.
    public enum Synchronous: String, Sendable {
        /// fsync the WAL on every commit: an acknowledged commit survives power loss.
        case full = "FULL"
        /// fsync only at checkpoints: a commit survives a process crash (kill -9) but the
        /// last commits may be lost on power loss or a kernel crash.
        case normal = "NORMAL"
    }

    /// Connection settings.
    public struct Options: Sendable {
        /// Default FULL: the intake acknowledges Alertmanager only after commit, and an
        /// acknowledged alert is never resent, so the commit must survive power loss too.
        /// Group commit amortises the fsync over a whole batch (see docs/delivery.md, "Durability").
        public var synchronous: Synchronous = .full
        /// How long a statement waits for another connection's lock (the CLI) before failing.
        public var busyTimeout: Duration = .seconds(5)
        /// The settings; defaults as documented on each property.
        public init(synchronous: Synchronous = .full, busyTimeout: Duration = .seconds(5)) {
            self.synchronous = synchronous
            self.busyTimeout = busyTimeout
        }
    }

    /// The database file.
    public let path: String
    /// Always ``StorageEngine/sqlite``.
    public var engine: StorageEngine { .sqlite }
    private let lock = NSLock()
    private var connection: DatabaseConnection?
    /// Set when a relaxed write could not put `synchronous=FULL` back (SQLite refuses while a
    /// failed transaction is still open): the next durable write restores it first, or fails.
    private var restoreFull = false
    /// The database's synchronous setting (``Options/synchronous``).
    private let synchronous: Synchronous

    /// Opens (creating it and its directory if needed) the database at `path`, switches it
    /// to WAL mode and applies `migrations` newer than the stored schema version.
    public init(path: String, options: Options = Options(), migrations: [Migration]) throws(DatabaseError) {
        self.path = path
        synchronous = options.synchronous
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw DatabaseError(.open, operation: "create data directory \(directory)", message: "\(error)")
            }
        }
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let handle { sqlite3_close_v2(handle) }
            throw DatabaseError(.open, operation: "open \(path)", message: message, sqliteCode: rc)
        }
        let connection = DatabaseConnection(handle: handle)
        do throws(DatabaseError) {
            sqlite3_busy_timeout(handle, Int32(options.busyTimeout.components.seconds * 1000 + options.busyTimeout.components.attoseconds / 1_000_000_000_000_000))
            let mode = try connection.scalar("PRAGMA journal_mode=WAL", operation: "enable WAL")
            guard case .text(let m) = mode, m.lowercased() == "wal" else {
                throw DatabaseError(.open, operation: "enable WAL", message: "journal mode stayed \(String(describing: mode))")
            }
            try connection.execute("PRAGMA synchronous=\(options.synchronous.rawValue)", operation: "set synchronous")
            try Self.migrate(connection, migrations)
        } catch {
            connection.finalize()
            throw error
        }
        self.connection = connection
    }

    deinit { close() }

    /// Closes the connection. Later calls fail with ``DatabaseError/Code/closed``.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        connection?.finalize()
        connection = nil
    }

    /// Runs `body` with the connection, outside any transaction (reads, single statements).
    @discardableResult
    public func read<T>(_ operation: String, _ body: (any SQLConnection) throws -> T) throws(DatabaseError) -> T {
        lock.lock()
        defer { lock.unlock() }
        guard let connection else { throw DatabaseError(.closed, operation: operation, message: "the database is closed") }
        do {
            return try body(connection)
        } catch {
            throw DatabaseError.wrapping(error, operation: operation)
        }
    }

    /// Runs `body` in one write transaction (BEGIN IMMEDIATE: it takes the write lock up
    /// front so it never fails half-way on a lock upgrade). Commits if `body` returns,
    /// rolls back if it throws; the thrown error is passed on unchanged.
    ///
    /// `survivesProcessCrashOnly`: this commit need not survive power loss, only a crash of
    /// the process, so it skips the fsync (`synchronous=NORMAL` for this transaction) even
    /// on a FULL database. For bookkeeping whose loss on power failure is harmless (the
    /// in-flight mark of a plugin call: the plugin did not crash the machine). The next
    /// FULL commit makes it durable with everything before it.
    @discardableResult
    public func write<T>(_ operation: String, survivesProcessCrashOnly: Bool, _ body: (any SQLConnection) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        guard let connection else { throw DatabaseError(.closed, operation: operation, message: "the database is closed") }
        let relax = survivesProcessCrashOnly && synchronous == .full
        if relax {
            try connection.execute("PRAGMA synchronous=NORMAL", operation: "\(operation): relax synchronous")
        } else if restoreFull {
            // A durable commit must never run relaxed: restore FULL or refuse the write.
            try connection.execute("PRAGMA synchronous=FULL", operation: "\(operation): restore synchronous")
            restoreFull = false
        }
        defer {
            if relax {
                do {
                    try connection.execute("PRAGMA synchronous=FULL", operation: "\(operation): restore synchronous")
                    restoreFull = false
                } catch {
                    restoreFull = true
                }
            }
        }
        try connection.execute("BEGIN IMMEDIATE", operation: "\(operation): begin")
        let value: T
        do {
            value = try body(connection)
        } catch {
            try? connection.execute("ROLLBACK", operation: "\(operation): rollback")
            throw error
        }
        do {
            try connection.execute("COMMIT", operation: "\(operation): commit")
        } catch {
            try? connection.execute("ROLLBACK", operation: "\(operation): rollback")
            throw error
        }
        return value
    }

    private static func migrate(_ connection: DatabaseConnection, _ migrations: [Migration]) throws(DatabaseError) {
        try connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
            operation: "create schema_migrations")
        let current: Int64
        if case .integer(let v) = try connection.scalar("SELECT max(version) FROM schema_migrations", operation: "read schema version") {
            current = v
        } else {
            current = 0
        }
        let known = migrations.map(\.version).max() ?? 0
        guard current <= known else {
            throw DatabaseError(.migration, operation: "migrate", message: "the database has schema version \(current), newer than this binary knows (\(known)); use a newer cano-collector")
        }
        for migration in migrations.sorted(by: { $0.version < $1.version }) where migration.version > current {
            do throws(DatabaseError) {
                try connection.execute("BEGIN IMMEDIATE", operation: "migration \(migration.version): begin")
                try connection.execute(migration.sql, operation: "migration \(migration.version)")
                try connection.run(
                    "INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)",
                    [.integer(Int64(migration.version)), .integer(Int64(Date().timeIntervalSince1970 * 1000))],
                    operation: "record migration \(migration.version)")
                try connection.execute("COMMIT", operation: "migration \(migration.version): commit")
            } catch {
                try? connection.execute("ROLLBACK", operation: "migration \(migration.version): rollback")
                throw DatabaseError(.migration, operation: "migration \(migration.version)", message: error.message, sqliteCode: error.sqliteCode)
            }
        }
    }
}
