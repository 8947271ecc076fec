import CanoSDK
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// The PostgreSQL engine behind the storage seam (`storage.postgres`): every replica of the
/// collector shares one database.
///
/// - **Blocking, on the caller's thread.** Like ``Database``, every call blocks the calling
///   OS thread (the outbox writer, delivery threads, the feeder, CLI commands) until the
///   server answers. postgres-nio does the I/O on its event loops
///   (`MultiThreadedEventLoopGroup.singleton`); the caller waits on an `EventLoopFuture`
///   (`wait()`), so Swift's cooperative pool is never involved, let alone blocked. Never
///   call it from an async context.
/// - **Lazy.** Creating it only checks the configuration. Connections are opened on first
///   use; while the server cannot be reached, calls throw ``DatabaseError/Code/unavailable``
///   (`/readyz` turns 503) and the next call tries again.
/// - **A small pool**: up to `pool_size` connections, each used by one thread at a time;
///   threads wait in arrival order for a free one. A broken connection is discarded and
///   replaced by the next call that needs one.
/// - **Retries.** When the connection breaks (reset, server restart), or the server aborts
///   the transaction to resolve a conflict (SQLSTATE 40001, 40P01) or ends the session
///   (57P01...), the whole `read`/`write` body runs again on a fresh connection, up to
///   ``maxAttempts`` times within about a second (the protocol allows bodies to be re-run).
/// - **Migrations** (``CollectorSchema/postgresMigrations``) run on the first connection,
///   under a session-level advisory lock so replicas starting together apply each step once.
public final class PostgreSQLDatabase: SQLDatabase, @unchecked Sendable {
    /// Always ``StorageEngine/postgres``.
    public var engine: StorageEngine { .postgres }

    /// Attempts at a `read`/`write` body (the first and up to 3 re-runs).
    static let maxAttempts = 4
    /// Re-runs start only within this time from the first attempt, so a caller learns of an
    /// outage within about a second (plus one connect timeout when packets are dropped).
    static let retryBudget: Duration = .seconds(1)
    /// Pause before re-run n (1-based): 50 ms, 150 ms, 400 ms.
    static let backoff: [Duration] = [.milliseconds(50), .milliseconds(150), .milliseconds(400)]
    /// How long a thread waits for a free pooled connection before giving up.
    static let checkoutTimeout: Duration = .seconds(30)
    /// A statement without an answer after this long is treated as a lost connection (the
    /// connection is closed): guards against a server that vanished without a reset.
    static let statementTimeout: TimeAmount = .seconds(120)
    /// `pg_advisory_lock` key serialising migrations across replicas ("cano_mig" in ASCII).
    static let migrationLockKey: Int64 = 7_161_126_307_117_230_439

    let target: PostgresFailure.Target
    let configuration: PostgresConnection.Configuration
    let logger: Logger
    /// postgres-nio's logger: ours, at `warning` at least (its debug output is per query).
    let driverLogger: Logger
    let placeholders = PlaceholderCache()
    private let poolSize: Int
    private let migrations: [Migration]

    // The pool, guarded by `condition`.
    private let condition = NSCondition()
    private var idle: [PostgresSession] = []
    /// Sessions open or being opened (idle, checked out, connecting).
    private var open = 0
    /// Threads waiting for a session, in arrival order (their tickets).
    private var queue: [UInt64] = []
    private var nextTicket: UInt64 = 0
    private var closed = false
    private var listeners: [PostgresListener] = []

    /// Held while migrating, so this process's other connections wait for the schema.
    private let migrationLock = NSLock()
    private var migrated = false
    private static let connectionIDs = Atomic<Int>(0)

    /// Prepares the engine for `config`; connects nothing yet.
    /// - Throws: ``DatabaseError/Code/open`` for configuration problems only: an unusable
    ///   URL (the message names what is wrong, never the password) or an unreadable CA file
    ///   (named). An unreachable server is not an error here.
    public convenience init(config: PostgresStorageConfig, logger: Logger) throws(DatabaseError) {
        try self.init(config: config, logger: logger, migrations: CollectorSchema.postgresMigrations)
    }

    /// As ``init(config:logger:)``, with the schema steps to apply (tests add steps).
    public init(config: PostgresStorageConfig, logger: Logger, migrations: [Migration]) throws(DatabaseError) {
        let operation = "open PostgreSQL storage"
        let url: PostgresURL
        do {
            url = try PostgresURL(parsing: config.url.value)
        } catch {
            throw DatabaseError(.open, operation: operation, message: "storage.postgres.url: \(error.description)")
        }
        let tls = try PostgresTLS.make(sslMode: url.sslMode, caFile: config.caFile, operation: operation)
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: tls)
        configuration.options.connectTimeout = .nanoseconds(Int64(url.connectTimeout.components.seconds) * 1_000_000_000)
        configuration.options.additionalStartupParameters = [("application_name", url.applicationName)]
        self.configuration = configuration
        target = PostgresFailure.Target(
            endpoint: url.endpoint, database: url.database, caFile: config.caFile, sslMode: url.sslMode,
            secrets: [config.url.value, url.password ?? ""].filter { $0.count >= 3 })
        self.logger = logger
        var driverLogger = logger
        if driverLogger.logLevel < .warning { driverLogger.logLevel = .warning }
        self.driverLogger = driverLogger
        poolSize = max(1, config.poolSize)
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    deinit { close() }

    // MARK: SQLDatabase

    /// Runs `body` outside an explicit transaction (each statement commits by itself). The
    /// body may run again on a new connection if the connection breaks (see the type's
    /// notes).
    /// - Throws: ``DatabaseError``: `.unavailable` while the server cannot be reached,
    ///   `.step` for SQL errors (SQLSTATE and the server's message), `.closed` after
    ///   ``close()``; the body's own non-database errors as `.step`.
    @discardableResult
    public func read<T>(_ operation: String, _ body: (any SQLConnection) throws -> T) throws(DatabaseError) -> T {
        do {
            return try perform(operation, transaction: false, body)
        } catch {
            throw DatabaseError.wrapping(error, operation: operation)
        }
    }

    /// Runs `body` between BEGIN and COMMIT on one connection; rolls back and passes the
    /// body's error on unchanged if it throws. When the connection breaks before COMMIT is
    /// acknowledged, or the server reports a serialization failure or deadlock, the body
    /// runs again on a new connection (up to ``maxAttempts`` in all, within about a second).
    /// `survivesProcessCrashOnly` is ignored: every PostgreSQL commit is durable.
    /// - Throws: the body's error, or ``DatabaseError`` (`.unavailable` when the server
    ///   stays unreachable).
    @discardableResult
    public func write<T>(_ operation: String, survivesProcessCrashOnly: Bool, _ body: (any SQLConnection) throws -> T) throws -> T {
        try perform(operation, transaction: true, body)
    }

    /// Closes every connection (idle ones now, busy ones when their call ends) and stops
    /// the LISTEN connections. Later calls fail with ``DatabaseError/Code/closed``.
    public func close() {
        condition.lock()
        if closed {
            condition.unlock()
            return
        }
        closed = true
        let sessions = idle
        idle.removeAll()
        open -= sessions.count
        let stopping = listeners
        listeners.removeAll()
        condition.broadcast()
        condition.unlock()
        for session in sessions { Self.dispose(session.connection) }
        for listener in stopping { listener.stop() }
    }

    // MARK: Readiness and notifications

    /// Connects (and migrates) if needed and runs `SELECT 1`: for readiness probes.
    /// Blocks for at most about a second plus one connect timeout.
    /// - Throws: ``DatabaseError``: `.unavailable` while the server cannot be reached,
    ///   `.open` when it refuses the login or TLS, `.migration` for a schema from a newer
    ///   binary.
    public func checkAvailable() throws(DatabaseError) {
        try read("check PostgreSQL availability") { c in
            try c.run("SELECT 1", operation: "check PostgreSQL availability")
        }
    }

    /// Calls `handler` on each `NOTIFY` on `channel`, and once after each (re)connect of
    /// the listening connection, since notifications sent while it was down are lost.
    ///
    /// Uses a dedicated connection (not one of the pool), on its own thread, reconnecting
    /// with backoff (0.1 s doubling to 5 s) until ``close()``. `handler` runs on a
    /// postgres-nio event loop thread or the listener's thread: it must return quickly
    /// (signal a condition, not do the work).
    public func listen(channel: String, handler: @escaping @Sendable () -> Void) {
        let listener = PostgresListener(database: self, channel: channel, handler: handler)
        condition.lock()
        guard !closed else {
            condition.unlock()
            return
        }
        listeners.append(listener)
        condition.unlock()
        listener.start()
    }

    // MARK: Connections

    /// Opens a connection outside the pool (the pool's and the listener's).
    /// - Throws: ``DatabaseError`` from ``PostgresFailure/connecting(_:target:operation:)``.
    func connect(operation: String) throws(DatabaseError) -> PostgresConnection {
        let id = Self.connectionIDs.add(1, ordering: .relaxed).newValue
        do {
            return try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: id, logger: driverLogger
            ).wait()
        } catch {
            throw PostgresFailure.connecting(error, target: target, operation: operation).error
        }
    }

    /// Closes `connection` without waiting, keeping it alive until the channel is closed
    /// (postgres-nio asserts, in debug builds, that a connection is closed before it is freed).
    static func dispose(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    private func closedError(_ operation: String) -> DatabaseError {
        DatabaseError(.closed, operation: operation, message: "the database is closed")
    }

    /// A session for this thread alone: an idle one, or a new one while fewer than
    /// `pool_size` are open, else the first to be released (threads are served in order).
    private func checkout(_ operation: String) throws(DatabaseError) -> PostgresSession {
        let deadline = Date().addingTimeInterval(Double(Self.checkoutTimeout.components.seconds))
        condition.lock()
        nextTicket += 1
        let ticket = nextTicket
        queue.append(ticket)
        func leave() {
            queue.removeAll { $0 == ticket }
            condition.broadcast()
            condition.unlock()
        }
        while true {
            if closed {
                leave()
                throw closedError(operation)
            }
            if queue.first == ticket {
                while let session = idle.popLast() {
                    if session.connection.isClosed {
                        // Closed while idle (server restart, idle timeout): replace it.
                        open -= 1
                        Self.dispose(session.connection)
                        continue
                    }
                    leave()
                    return session
                }
                if open < poolSize {
                    open += 1
                    leave()
                    do throws(DatabaseError) {
                        let connection = try connect(operation: operation)
                        let session = PostgresSession(connection: connection)
                        do throws(DatabaseError) {
                            try migrateIfNeeded(session, operation: operation)
                        } catch {
                            Self.dispose(connection)
                            throw error
                        }
                        return session
                    } catch {
                        condition.lock()
                        open -= 1
                        condition.broadcast()
                        condition.unlock()
                        throw error
                    }
                }
            }
            if !condition.wait(until: deadline) {
                leave()
                throw DatabaseError(.unavailable, operation: operation,
                                    message: "all \(poolSize) PostgreSQL connections stayed busy for \(Self.checkoutTimeout.components.seconds)s (storage.postgres.pool_size)")
            }
        }
    }

    /// Returns `session` to the pool, or closes it when it broke or the database closed.
    private func release(_ session: PostgresSession) {
        condition.lock()
        let keep = !closed && !session.broken && !session.connection.isClosed
        if keep {
            idle.append(session)
        } else {
            open -= 1
        }
        condition.broadcast()
        condition.unlock()
        if !keep { Self.dispose(session.connection) }
    }

    // MARK: Running bodies

    private enum Outcome<T> {
        case done(T)
        /// Worth running again: the connection broke, or the server aborted for a conflict.
        case retry(any Error)
        case failed(any Error)
    }

    private func perform<T>(_ operation: String, transaction: Bool, _ body: (any SQLConnection) throws -> T) throws -> T {
        let start = ContinuousClock.now
        var attempt = 0
        while true {
            attempt += 1
            let mayRetry = attempt < Self.maxAttempts && ContinuousClock.now - start < Self.retryBudget
            let session: PostgresSession
            do {
                session = try checkout(operation)
            } catch {
                if error.code == .unavailable && mayRetry && !isClosed {
                    pause(before: attempt)
                    continue
                }
                throw error
            }
            let connection = PostgresSQLConnection(database: self, session: session)
            let outcome = runOnce(operation, transaction: transaction, connection, body)
            // The body must not keep using the connection once we take it back.
            connection.retire()
            release(session)
            switch outcome {
            case .done(let value):
                return value
            case .failed(let error):
                throw error
            case .retry(let error):
                guard mayRetry, !isClosed else { throw error }
                logger.debug("re-running a PostgreSQL \(transaction ? "write" : "read")", metadata: [
                    "operation": "\(operation)", "attempt": "\(attempt + 1)", "reason": "\(connection.retryReason?.message ?? "")",
                ])
                pause(before: attempt)
            }
        }
    }

    private func pause(before attempt: Int) {
        Thread.sleep(forTimeInterval: Self.seconds(Self.backoff[min(attempt, Self.backoff.count) - 1]))
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private func runOnce<T>(
        _ operation: String, transaction: Bool, _ c: PostgresSQLConnection, _ body: (any SQLConnection) throws -> T
    ) -> Outcome<T> {
        /// After a failure: re-run if the connection broke or the server aborted for a
        /// conflict, else give the error up. The body's own error is what the caller sees
        /// (it may have wrapped ours).
        func afterFailure(_ error: any Error) -> Outcome<T> {
            c.retryReason != nil ? .retry(error) : .failed(error)
        }
        if transaction {
            do {
                try c.execute("BEGIN", [], operation: "\(operation): begin", translate: false)
            } catch {
                return afterFailure(error)
            }
        }
        let value: T
        do {
            value = try body(c)
        } catch {
            if transaction && !c.session.broken {
                _ = try? c.execute("ROLLBACK", [], operation: "\(operation): rollback", translate: false)
            }
            return afterFailure(error)
        }
        guard transaction else { return .done(value) }
        do {
            let tag = try c.execute("COMMIT", [], operation: "\(operation): commit", translate: false).metadata.command
            if tag == "ROLLBACK" {
                // A statement failed, the body caught the error and returned: PostgreSQL
                // had aborted the transaction, so COMMIT rolled it back.
                let failure = DatabaseError(
                    .step, operation: operation,
                    message: "the transaction was rolled back: a statement in it failed and its error was not passed on (\(c.lastError?.message ?? "unknown"))")
                return afterFailure(failure)
            }
        } catch {
            // Lost before the COMMIT was acknowledged: it may or may not have committed;
            // the protocol lets us run the body again.
            return afterFailure(error)
        }
        return .done(value)
    }

    // MARK: Migrations

    /// Applies the steps newer than the database's schema, once per process, under a
    /// session-level advisory lock shared with every replica.
    private func migrateIfNeeded(_ session: PostgresSession, operation: String) throws(DatabaseError) {
        migrationLock.lock()
        defer { migrationLock.unlock() }
        if migrated { return }
        let c = PostgresSQLConnection(database: self, session: session)
        defer { c.retire() }
        try c.run("SELECT pg_advisory_lock(?)", [.integer(Self.migrationLockKey)], operation: "migrate: take the migration lock")
        defer {
            if !session.broken {
                _ = try? c.run("SELECT pg_advisory_unlock(?)", [.integer(Self.migrationLockKey)], operation: "migrate: release the migration lock")
            }
        }
        try c.run(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
            operation: "create schema_migrations")
        let current = Int(try c.count("SELECT max(version) FROM schema_migrations", operation: "read schema version"))
        let known = migrations.last?.version ?? 0
        guard current <= known else {
            throw DatabaseError(
                .migration, operation: "migrate",
                message: "the database has schema version \(current), newer than this binary knows (\(known)); use a newer cano-collector")
        }
        for migration in migrations where migration.version > current {
            do throws(DatabaseError) {
                try c.execute("BEGIN", [], operation: "migration \(migration.version): begin", translate: false)
                // postgres-nio speaks the extended protocol only: one statement per message.
                for statement in PostgresSQLText.statements(migration.sql) {
                    try c.execute(statement, [], operation: "migration \(migration.version)", translate: false)
                }
                try c.run(
                    "INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)",
                    [.integer(Int64(migration.version)), .integer(unixMillis())],
                    operation: "record migration \(migration.version)")
                try c.execute("COMMIT", [], operation: "migration \(migration.version): commit", translate: false)
            } catch {
                // A lost connection stays `.unavailable` (the caller retries); anything
                // else is a broken migration.
                if session.broken { throw error }
                _ = try? c.execute("ROLLBACK", [], operation: "migration \(migration.version): rollback", translate: false)
                throw DatabaseError(.migration, operation: "migration \(migration.version)", message: error.message)
            }
        }
        if known > current {
            logger.info("PostgreSQL schema migrated", metadata: [
                "from_version": "\(current)", "to_version": "\(known)", "server": "\(target.name)",
            ])
        }
        migrated = true
    }
}

/// One pooled connection and what the engine learned about it.
final class PostgresSession: @unchecked Sendable {
    let connection: PostgresConnection
    /// A statement saw the connection die: it is discarded on release.
    var broken = false

    init(connection: PostgresConnection) {
        self.connection = connection
    }
}

/// The ``SQLConnection`` a `read`/`write` body gets: one pooled session, for one attempt.
final class PostgresSQLConnection: SQLConnection {
    let session: PostgresSession
    private unowned let database: PostgreSQLDatabase
    /// Set once the attempt is over; later use fails with `.closed`.
    private var retired = false
    /// Why this attempt is worth re-running (connection lost, 40001/40P01), if it is.
    private(set) var retryReason: DatabaseError?
    /// The last statement error, for "the transaction was rolled back" messages.
    private(set) var lastError: DatabaseError?

    init(database: PostgreSQLDatabase, session: PostgresSession) {
        self.database = database
        self.session = session
    }

    func retire() { retired = true }

    /// Runs one statement; returns the number of rows it changed (from the command tag:
    /// `UPDATE 3`, `INSERT 0 1`, `DELETE 2`; 0 for other commands).
    @discardableResult
    func run(_ sql: String, _ values: [SQLValue], operation: String) throws(DatabaseError) -> Int {
        let metadata = try execute(sql, values, operation: operation).metadata
        if let rows = metadata.rows { return rows }
        // Tags postgres-nio does not split (MERGE n): the count is the last word, if any.
        return metadata.command.split(separator: " ").last.flatMap { Int($0) } ?? 0
    }

    /// Runs a query and calls `row` for each result row, in order. The rows are read
    /// completely before the first call (the callback may run further statements).
    func query(_ sql: String, _ values: [SQLValue], operation: String, _ row: (any SQLRow) throws(DatabaseError) -> Void) throws(DatabaseError) {
        let result = try execute(sql, values, operation: operation)
        for postgresRow in result.rows {
            try row(PostgresSQLRow(postgresRow))
        }
    }

    /// Sends one statement (extended protocol) and waits for all of its rows.
    /// `translate`: rewrite `?` placeholders as `$n` (our statements); false for SQL that
    /// is sent as written (transaction control, migration steps).
    @discardableResult
    func execute(_ sql: String, _ values: [SQLValue], operation: String, translate: Bool = true) throws(DatabaseError) -> PostgresQueryResult {
        guard !retired else {
            throw DatabaseError(.closed, operation: operation, message: "the connection was used after its read or write returned")
        }
        if session.broken, let reason = retryReason ?? lastError {
            // The connection died earlier in this body: fail fast with the same cause.
            throw DatabaseError(reason.code, operation: operation, message: reason.message)
        }
        let text: String
        if translate {
            let translated = database.placeholders.translate(sql)
            guard translated.count == values.count else {
                throw DatabaseError(.step, operation: operation,
                                    message: "the statement has \(translated.count) placeholders but \(values.count) values were given")
            }
            text = translated.sql
        } else {
            text = sql
        }
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .null: binds.appendNull()
            case .integer(let v): binds.append(v)
            case .real(let v): binds.append(v)
            case .text(let v): binds.append(v)
            case .blob(let v): binds.append(ByteBuffer(bytes: v))
            }
        }
        let connection = session.connection
        let answer = StatementAnswer(connection.eventLoop.makePromise(of: PostgresQueryResult.self))
        connection.query(PostgresQuery(unsafeSQL: text, binds: binds), logger: database.driverLogger).whenComplete { answer.settle($0) }
        // postgres-nio has no statement timeout, and a query sent as the server restarts can
        // stay unanswered on a connection that is already closed (seen: the outbox writer
        // waited on one, with the intake stalled behind it, until this watchdog's 120 s).
        // Once a second: a closed connection fails the statement at once (as lost, so it is
        // re-run on a fresh one); past the timeout, the connection is closed (the server
        // vanished without a reset).
        let target = database.target
        let started = NIODeadline.now()
        let watchdog = connection.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { task in
            let reason: String
            if connection.isClosed {
                reason = "the connection closed before PostgreSQL at \(target.name) answered"
            } else if NIODeadline.now() - started >= PostgreSQLDatabase.statementTimeout {
                reason = "no answer from PostgreSQL at \(target.name) within \(PostgreSQLDatabase.statementTimeout.nanoseconds / 1_000_000_000)s"
            } else {
                return
            }
            task.cancel()
            answer.settle(.failure(PostgresFailure(
                error: DatabaseError(.unavailable, operation: operation, message: reason), effect: .connectionLost)))
            PostgreSQLDatabase.dispose(connection)
        }
        defer { watchdog.cancel() }
        do {
            return try answer.result.wait()
        } catch {
            let failure = PostgresFailure.statement(error, target: database.target, operation: operation)
            lastError = failure.error
            switch failure.effect {
            case .connectionLost:
                session.broken = true
                retryReason = failure.error
            case .conflict:
                retryReason = failure.error
            case .statement, .configuration:
                break
            }
            throw failure.error
        }
    }
}

/// A result row, decoded by the column's server type: integers (int2/4/8, oid) and bool
/// as `.integer`, float4/8 and numeric as `.real`, bytea as `.blob`, text types and JSON
/// as `.text`; other types as text when they are UTF-8, else as bytes.
struct PostgresSQLRow: SQLRow {
    let values: [SQLValue]

    init(_ row: PostgresRow) {
        values = row.map(Self.decode)
    }

    subscript(_ column: Int) -> SQLValue {
        values.indices.contains(column) ? values[column] : .null
    }

    func int(_ column: Int) -> Int64 {
        switch self[column] {
        case .integer(let v): v
        case .real(let v): v.isFinite ? Int64(v) : 0
        case .text(let v): Int64(v) ?? 0
        case .null, .blob: 0
        }
    }

    func text(_ column: Int) -> String? {
        switch self[column] {
        case .null: nil
        case .integer(let v): String(v)
        case .real(let v): String(v)
        case .text(let v): v
        case .blob(let v): String(decoding: v, as: UTF8.self)
        }
    }

    func blob(_ column: Int) -> [UInt8]? {
        switch self[column] {
        case .null: nil
        case .blob(let v): v
        case .text(let v): Array(v.utf8)
        case .integer(let v): Array(String(v).utf8)
        case .real(let v): Array(String(v).utf8)
        }
    }

    static func decode(_ cell: PostgresCell) -> SQLValue {
        guard var bytes = cell.bytes else { return .null }
        if cell.format == .text { return decodeText(String(decoding: bytes.readableBytesView, as: UTF8.self), cell.dataType) }
        switch cell.dataType {
        case .int2: return bytes.readInteger(as: Int16.self).map { .integer(Int64($0)) } ?? .null
        case .int4: return bytes.readInteger(as: Int32.self).map { .integer(Int64($0)) } ?? .null
        case .int8: return bytes.readInteger(as: Int64.self).map { .integer($0) } ?? .null
        case .oid: return bytes.readInteger(as: UInt32.self).map { .integer(Int64($0)) } ?? .null
        case .bool: return bytes.readInteger(as: UInt8.self).map { .integer($0 == 0 ? 0 : 1) } ?? .null
        case .float4, .float8: return (try? cell.decode(Double.self)).map { .real($0) } ?? .null
        case .numeric:
            // NaN and infinities have no Decimal: they come back as NULL rather than wrong.
            return (try? cell.decode(Decimal.self)).map { .real(NSDecimalNumber(decimal: $0).doubleValue) } ?? .null
        case .bytea: return .blob(Array(bytes.readableBytesView))
        case .jsonb:
            // Binary jsonb is a version byte (1) and the JSON text.
            _ = bytes.readInteger(as: UInt8.self)
            return .text(String(decoding: bytes.readableBytesView, as: UTF8.self))
        case .uuid: return (try? cell.decode(String.self)).map { .text($0.lowercased()) } ?? .null
        case .text, .varchar, .bpchar, .name, .json, .char:
            return .text(String(decoding: bytes.readableBytesView, as: UTF8.self))
        default:
            let raw = Array(bytes.readableBytesView)
            return String(validating: raw, as: UTF8.self).map { .text($0) } ?? .blob(raw)
        }
    }

    /// Cells in text format (postgres-nio asks for binary; kept for types it does not).
    private static func decodeText(_ text: String, _ type: PostgresDataType) -> SQLValue {
        switch type {
        case .int2, .int4, .int8, .oid: return Int64(text).map { .integer($0) } ?? .text(text)
        case .bool: return .integer(text == "t" || text == "true" ? 1 : 0)
        case .float4, .float8, .numeric: return Double(text).map { .real($0) } ?? .text(text)
        case .bytea:
            guard text.hasPrefix("\\x") else { return .blob(Array(text.utf8)) }
            var out: [UInt8] = []
            var digits = text.utf8.dropFirst(2).makeIterator()
            while let h = digits.next(), let l = digits.next() {
                guard let byte = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) else { return .blob(Array(text.utf8)) }
                out.append(byte)
            }
            return .blob(out)
        default: return .text(text)
        }
    }
}

/// A statement's outcome, settled once: by postgres-nio's answer or by the watchdog,
/// whichever comes first (a NIO promise must not be completed twice).
private final class StatementAnswer: Sendable {
    private let promise: EventLoopPromise<PostgresQueryResult>
    private let settled = Atomic<Bool>(false)

    init(_ promise: EventLoopPromise<PostgresQueryResult>) { self.promise = promise }

    var result: EventLoopFuture<PostgresQueryResult> { promise.futureResult }

    func settle(_ outcome: Result<PostgresQueryResult, any Error>) {
        guard !settled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        promise.completeWith(outcome)
    }
}
