import CanoSDK
import Foundation

/// Where a delivery is in its life.
public enum DeliveryState: String, Sendable, CaseIterable {
    /// Queued: waiting for its first attempt or its next retry (or in flight).
    case pending
    /// Done; the row stays (without the Issue) as the dedup record until pruned.
    case delivered
    /// Failed for good (permanent failure, max attempts or max age): a dead letter.
    case dead
}

/// One row of the `deliveries` table as the CLI and the dead-letter API show it.
public struct DeliveryRecord: Sendable, Equatable {
    /// The row id (what `deliveries retry` takes).
    public var id: Int64
    /// The destination name.
    public var destination: String
    /// The Issue's fingerprint.
    public var fingerprint: String
    /// `firing` or `resolved`.
    public var status: String
    /// The Issue's start, Unix milliseconds.
    public var startsAtMillis: Int64
    /// Pending, delivered or dead.
    public var state: DeliveryState
    /// Attempts made so far.
    public var attempts: Int
    /// When the next attempt is due (pending rows), Unix milliseconds.
    public var nextAttemptMillis: Int64
    /// When it was queued (or re-queued from the dead letters), Unix milliseconds.
    public var queuedMillis: Int64
    /// Last change; for delivered rows the last time the alert was seen again.
    public var updatedMillis: Int64
    /// The last outcome's message (secret-free, as destinations report it).
    public var lastMessage: String?

    /// `updatedMillis` as RFC 3339 text, for tables.
    public var updatedText: String { RFC3339.format(Date(timeIntervalSince1970: Double(updatedMillis) / 1000)) }
}

/// A pending delivery as the engine schedules it (no payload: that is read per attempt).
struct PendingDelivery: Sendable, Equatable {
    var id: Int64
    var destination: String
    var fingerprint: String
    var startsAtMillis: Int64
    var idempotencyKey: String
    var attempts: Int
    var nextAttemptMillis: Int64
    var queuedMillis: Int64
}

/// A new queue entry, as the outbox records it.
struct NewDelivery: Sendable {
    var destination: String
    var fingerprint: String
    var status: String
    var startsAtMillis: Int64
    var idempotencyKey: String
    var payload: [UInt8]
}

/// Every SQL statement over the `deliveries` table, in one place: the outbox, the engine
/// and the `deliveries` CLI command all go through it.
public struct DeliveryStore: Sendable {
    /// The database holding the table.
    public let database: Database

    /// Wraps an open collector database (see ``CollectorSchema/open(path:options:)``).
    public init(database: Database) {
        self.database = database
    }

    // MARK: Intake (inside the outbox's transaction)

    static func pendingCount(_ c: DatabaseConnection, destination: String) throws(DatabaseError) -> Int {
        let value = try c.scalar(
            "SELECT count(*) FROM deliveries WHERE destination = ? AND state = 'pending'",
            [.text(destination)], operation: "count queue of \(destination)")
        if case .integer(let n) = value { return Int(n) }
        return 0
    }

    /// The existing row for the same alert (fingerprint, status, start) at a destination.
    static func existing(_ c: DatabaseConnection, _ d: NewDelivery) throws(DatabaseError) -> (id: Int64, state: DeliveryState)? {
        var found: (Int64, DeliveryState)?
        try c.query(
            "SELECT id, state FROM deliveries WHERE destination = ? AND fingerprint = ? AND starts_at_ms = ? AND status = ? LIMIT 1",
            [.text(d.destination), .text(d.fingerprint), .integer(d.startsAtMillis), .text(d.status)],
            operation: "dedup lookup"
        ) { row in
            found = (row.int(0), DeliveryState(rawValue: row.text(1) ?? "") ?? .pending)
        }
        return found
    }

    /// Marks a delivered row as seen again, so pruning keeps it while Alertmanager resends.
    static func touch(_ c: DatabaseConnection, id: Int64, now: Int64) throws(DatabaseError) {
        try c.run("UPDATE deliveries SET updated_ms = ? WHERE id = ? AND state = 'delivered'", [.integer(now), .integer(id)], operation: "touch delivered row")
    }

    static func insert(_ c: DatabaseConnection, _ d: NewDelivery, now: Int64) throws(DatabaseError) {
        try c.run(
            """
            INSERT INTO deliveries (destination, fingerprint, status, starts_at_ms, idempotency_key, payload, state,
                                    attempts, next_attempt_ms, queued_ms, updated_ms)
            VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
            """,
            [.text(d.destination), .text(d.fingerprint), .text(d.status), .integer(d.startsAtMillis), .text(d.idempotencyKey),
             .blob(d.payload), .integer(now), .integer(now), .integer(now)],
            operation: "insert delivery")
    }

    // MARK: Engine

    /// Pending deliveries with an id above `afterID`, oldest first.
    func pending(afterID: Int64) throws(DatabaseError) -> [PendingDelivery] {
        try database.read("load pending deliveries") { c in
            var result: [PendingDelivery] = []
            try c.query(
                """
                SELECT id, destination, fingerprint, starts_at_ms, idempotency_key, attempts, next_attempt_ms, queued_ms
                FROM deliveries WHERE id > ? AND state = 'pending' ORDER BY id
                """,
                [.integer(afterID)], operation: "load pending deliveries"
            ) { row in
                result.append(PendingDelivery(
                    id: row.int(0), destination: row.text(1) ?? "", fingerprint: row.text(2) ?? "", startsAtMillis: row.int(3),
                    idempotencyKey: row.text(4) ?? "", attempts: Int(row.int(5)), nextAttemptMillis: row.int(6), queuedMillis: row.int(7)))
            }
            return result
        }
    }

    /// The Issue JSON of a pending delivery and the reference its destination returned for
    /// the first delivery of the same occurrence (fingerprint and start), if any.
    func payloadAndReference(_ d: PendingDelivery) throws(DatabaseError) -> (payload: [UInt8], reference: [UInt8]?)? {
        try database.read("read delivery payload") { c in
            var payload: [UInt8]?
            try c.query("SELECT payload FROM deliveries WHERE id = ? AND state = 'pending'", [.integer(d.id)], operation: "read delivery payload") { row in
                payload = row.blob(0)
            }
            guard let payload else { return nil }
            var reference: [UInt8]?
            try c.query(
                """
                SELECT reference FROM deliveries
                WHERE destination = ? AND fingerprint = ? AND starts_at_ms = ? AND reference IS NOT NULL
                ORDER BY id LIMIT 1
                """,
                [.text(d.destination), .text(d.fingerprint), .integer(d.startsAtMillis)], operation: "read delivery reference"
            ) { row in
                reference = row.blob(0)
            }
            return (payload, reference)
        }
    }

    func recordDelivered(id: Int64, attempts: Int, reference: [UInt8]?, message: String, now: Int64) throws {
        try database.write("record delivered") { c in
            try c.run(
                "UPDATE deliveries SET state = 'delivered', payload = NULL, attempts = ?, reference = ?, last_message = ?, updated_ms = ? WHERE id = ?",
                [.integer(Int64(attempts)), reference.map { .blob($0) } ?? .null, .text(message), .integer(now), .integer(id)],
                operation: "record delivered")
        }
    }

    func recordRetry(id: Int64, attempts: Int, nextAttemptMillis: Int64, message: String, now: Int64) throws {
        try database.write("record retry") { c in
            try c.run(
                "UPDATE deliveries SET attempts = ?, next_attempt_ms = ?, last_message = ?, updated_ms = ? WHERE id = ?",
                [.integer(Int64(attempts)), .integer(nextAttemptMillis), .text(message), .integer(now), .integer(id)],
                operation: "record retry")
        }
    }

    func recordDead(id: Int64, attempts: Int, message: String, now: Int64) throws {
        try database.write("record dead letter") { c in
            try c.run(
                "UPDATE deliveries SET state = 'dead', attempts = ?, last_message = ?, updated_ms = ? WHERE id = ?",
                [.integer(Int64(attempts)), .text(message), .integer(now), .integer(id)],
                operation: "record dead letter")
        }
    }

    /// Deletes delivered rows not seen since `before` (Unix ms); returns how many.
    func pruneDelivered(before: Int64) throws -> Int {
        try database.write("prune delivered") { c in
            try c.run("DELETE FROM deliveries WHERE state = 'delivered' AND updated_ms < ?", [.integer(before)], operation: "prune delivered")
        }
    }

    // MARK: Operators (API and CLI)

    /// Deliveries, newest first, optionally only in one state and for one destination.
    public func records(state: DeliveryState? = nil, destination: String? = nil, limit: Int = 1000) throws(DatabaseError) -> [DeliveryRecord] {
        var clauses: [String] = []
        var values: [SQLValue] = []
        if let state {
            clauses.append("state = ?")
            values.append(.text(state.rawValue))
        }
        if let destination {
            clauses.append("destination = ?")
            values.append(.text(destination))
        }
        values.append(.integer(Int64(limit)))
        let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        let sql = """
            SELECT id, destination, fingerprint, status, starts_at_ms, state, attempts, next_attempt_ms, queued_ms, updated_ms, last_message
            FROM deliveries \(whereClause) ORDER BY id DESC LIMIT ?
            """
        return try database.read("list deliveries") { c in
            var result: [DeliveryRecord] = []
            try c.query(sql, values, operation: "list deliveries") { row in
                result.append(DeliveryRecord(
                    id: row.int(0), destination: row.text(1) ?? "", fingerprint: row.text(2) ?? "", status: row.text(3) ?? "",
                    startsAtMillis: row.int(4), state: DeliveryState(rawValue: row.text(5) ?? "") ?? .pending,
                    attempts: Int(row.int(6)), nextAttemptMillis: row.int(7), queuedMillis: row.int(8), updatedMillis: row.int(9),
                    lastMessage: row.text(10)))
            }
            return result
        }
    }

    /// Pending deliveries per destination.
    public func pendingCounts() throws(DatabaseError) -> [String: Int] {
        try database.read("count pending") { c in
            var result: [String: Int] = [:]
            try c.query("SELECT destination, count(*) FROM deliveries WHERE state = 'pending' GROUP BY destination", operation: "count pending") { row in
                result[row.text(0) ?? ""] = Int(row.int(1))
            }
            return result
        }
    }

    /// Queues dead letters again, as new deliveries with a fresh attempt budget and age
    /// (new ids, so a running engine picks them up like new work). `ids == nil` retries every
    /// dead letter. Returns the dead-letter ids that were requeued; ids that are not dead
    /// letters are ignored.
    public func retryDeadLetters(ids: [Int64]?) throws -> [Int64] {
        let now = unixMillis()
        return try database.write("retry dead letters") { c in
            var targets: [Int64] = []
            if let ids {
                for id in ids {
                    let state = try c.scalar("SELECT state FROM deliveries WHERE id = ?", [.integer(id)], operation: "find dead letter")
                    if state == .text(DeliveryState.dead.rawValue) { targets.append(id) }
                }
            } else {
                try c.query("SELECT id FROM deliveries WHERE state = 'dead' ORDER BY id", operation: "find dead letters") { row in
                    targets.append(row.int(0))
                }
            }
            for id in targets {
                try c.run(
                    """
                    INSERT INTO deliveries (destination, fingerprint, status, starts_at_ms, idempotency_key, payload, state,
                                            attempts, next_attempt_ms, queued_ms, updated_ms, last_message)
                    SELECT destination, fingerprint, status, starts_at_ms, idempotency_key, payload, 'pending',
                           0, ?, ?, ?, 'requeued from dead letter ' || id
                    FROM deliveries WHERE id = ?
                    """,
                    [.integer(now), .integer(now), .integer(now), .integer(id)], operation: "requeue dead letter")
                try c.run("DELETE FROM deliveries WHERE id = ?", [.integer(id)], operation: "remove requeued dead letter")
            }
            return targets
        }
    }
}
