/// The storage seam: everything that must survive a restart or be shared by replicas
/// (deliveries, dedup records, plugin references, the plugins' key-value store, the
/// Kubernetes detectors' state) is read and written through these three protocols, so the
/// same statements run on either engine:
///
/// - ``Database``: SQLite, the embedded default (one replica, a file in `data_dir`);
/// - ``PostgreSQLDatabase``: PostgreSQL (`storage.postgres`), shared by every replica.
///
/// Statements use `?` placeholders and the subset of SQL both engines share (`RETURNING`,
/// `ON CONFLICT`, `||`); the few places that differ ask ``SQLDatabase/engine``.
/// Calls block: use them only from threads the collector owns (the outbox writer, delivery
/// threads, the feeder, CLI commands), never from Swift's cooperative pool.
public protocol SQLDatabase: AnyObject, Sendable {
    /// Which engine runs the statements (for the few dialect differences).
    var engine: StorageEngine { get }

    /// Runs `body` outside an explicit transaction (reads, single statements).
    /// - Throws: ``DatabaseError``; `.unavailable` when the server cannot be reached.
    @discardableResult
    func read<T>(_ operation: String, _ body: (any SQLConnection) throws -> T) throws(DatabaseError) -> T

    /// Runs `body` in one write transaction: committed if it returns, rolled back if it
    /// throws (the error is passed on unchanged). An engine may run `body` again on a new
    /// connection when the connection broke before the commit was acknowledged, so `body`
    /// must only touch the database.
    ///
    /// `survivesProcessCrashOnly`: the commit need only survive a crash of this process,
    /// not a power loss (SQLite skips the fsync; PostgreSQL ignores it).
    @discardableResult
    func write<T>(_ operation: String, survivesProcessCrashOnly: Bool, _ body: (any SQLConnection) throws -> T) throws -> T

    /// Closes every connection; later calls fail with ``DatabaseError/Code/closed``.
    func close()
}

extension SQLDatabase {
    /// ``write(_:survivesProcessCrashOnly:_:)`` with a full-durability commit.
    @discardableResult
    public func write<T>(_ operation: String, _ body: (any SQLConnection) throws -> T) throws -> T {
        try write(operation, survivesProcessCrashOnly: false, body)
    }
}

/// The engine behind a ``SQLDatabase``.
public enum StorageEngine: String, Sendable {
    /// SQLite: one process owns the file; nothing is shared.
    case sqlite
    /// PostgreSQL: replicas share the database and claim work (``DeliveryStore/claim(owner:destinations:leaseMillis:limit:now:)``).
    case postgres

    /// True when other processes work on the same data at the same time (claims, leases
    /// and cross-replica wake-ups are needed).
    public var isShared: Bool { self == .postgres }
}

/// One connection, used by one thread at a time, inside ``SQLDatabase/read(_:_:)`` or
/// ``SQLDatabase/write(_:survivesProcessCrashOnly:_:)``.
public protocol SQLConnection: AnyObject {
    /// Runs one statement that returns no rows; returns the number of rows changed.
    @discardableResult
    func run(_ sql: String, _ values: [SQLValue], operation: String) throws(DatabaseError) -> Int

    /// Runs a query and calls `row` for each result row, in order.
    func query(_ sql: String, _ values: [SQLValue], operation: String, _ row: (any SQLRow) throws(DatabaseError) -> Void) throws(DatabaseError)
}

extension SQLConnection {
    /// ``run(_:_:operation:)`` without parameters.
    @discardableResult
    public func run(_ sql: String, operation: String) throws(DatabaseError) -> Int {
        try run(sql, [], operation: operation)
    }

    /// ``query(_:_:operation:_:)`` without parameters.
    public func query(_ sql: String, operation: String, _ row: (any SQLRow) throws(DatabaseError) -> Void) throws(DatabaseError) {
        try query(sql, [], operation: operation, row)
    }

    /// The first column of the first row, or nil when there is no row.
    public func scalar(_ sql: String, _ values: [SQLValue] = [], operation: String) throws(DatabaseError) -> SQLValue? {
        var result: SQLValue?
        try query(sql, values, operation: operation) { row in
            if result == nil { result = row[0] }
        }
        return result
    }

    /// The first column of the first row as an integer (0 when there is no row or NULL).
    public func count(_ sql: String, _ values: [SQLValue] = [], operation: String) throws(DatabaseError) -> Int {
        if case .integer(let n) = try scalar(sql, values, operation: operation) { return Int(n) }
        return 0
    }
}

/// The current row of a query, valid only inside the row callback.
public protocol SQLRow {
    /// The column's value with the engine's own type (integers as `.integer`, bytes as `.blob`).
    subscript(_ column: Int) -> SQLValue { get }
    /// The column as an integer (0 for NULL).
    func int(_ column: Int) -> Int64
    /// The column as text, or nil for NULL.
    func text(_ column: Int) -> String?
    /// The column as bytes, or nil for NULL.
    func blob(_ column: Int) -> [UInt8]?
}
