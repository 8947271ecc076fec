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

/// Why a dead letter is dead. It decides whether an Alertmanager resend of the same alert
/// revives it (see ``DeliveryStore``'s revive rule in docs/delivery.md).
public enum DeadLetterCause: String, Sendable, CaseIterable {
    /// The destination refused it for good, or retries ran out (max age or attempts).
    /// A resend revives it.
    case failed
    /// Its destination's queue was over `queue_limit` when it arrived. A resend revives it.
    case overflow
    /// It was in a plugin call during `quarantine_after_crashes` crashes: a poison Issue.
    /// A resend does not revive it; only an operator's `deliveries retry` does.
    case quarantined
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
    /// Unclean exits (or isolated plugin crashes) during a call on this delivery.
    public var crashes: Int = 0
    /// Dead letters: why.
    public var deadCause: DeadLetterCause?
    /// What the destination returned on delivery (a message id, a thread), as text; only
    /// ``DeliveryStore/records(of:)`` reads it.
    public var reference: String?

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
    /// Calls on this delivery that crashed its plugin (see ``DeadLetterCause/quarantined``).
    var crashes: Int = 0
}

/// A delivery found in a plugin call by the first start after an unclean exit.
public struct InterruptedDelivery: Sendable, Equatable {
    /// The row id.
    public var id: Int64
    /// Its destination.
    public var destination: String
    /// The Issue's fingerprint.
    public var fingerprint: String
    /// Crashes blamed on it so far, this exit's included if it was blamed.
    public var crashes: Int
    /// True when it reached the destination's `quarantine_after_crashes` and is now a dead letter.
    public var quarantined: Bool
    /// This exit was blamed on it (nil crash report, or the handler saw it in the call).
    public var blamed: Bool = true
    /// Shared store: it was in a call on another replica whose claim lapsed (that replica
    /// died, or lost the database for longer than the lease).
    public var onAnotherReplica: Bool = false
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
/// and the `deliveries` CLI command all go through it, on either engine (``SQLDatabase``).
///
/// On a shared engine (PostgreSQL) several replicas work on the same rows:
/// - the intake's transactions take one advisory lock, so dedup holds across replicas and
///   ids follow the commit order (the per-fingerprint order relies on it);
/// - a replica delivers only rows it claimed (``claim(owner:destinations:leaseMillis:limit:now:)``), and
///   renews its claims while it lives; another replica takes them over once they lapse.
public struct DeliveryStore: Sendable {
    /// The database holding the table.
    public let database: any SQLDatabase

    /// Wraps an open collector database (see ``CollectorStorage/open(_:dataDirectory:logger:)``).
    public init(database: any SQLDatabase) {
        self.database = database
    }

    /// The PostgreSQL channel on which a commit that queued work wakes every replica's engine.
    static let newWorkChannel = "cano_deliveries"
    /// The advisory-lock key that serialises intake transactions across replicas.
    private static let intakeLockKey: Int64 = 0x63_616E_6F01  // "cano" 1

    // MARK: Intake (inside the outbox's transaction)

    /// First statement of an intake transaction. SQLite's `BEGIN IMMEDIATE` already makes
    /// the one writer; on PostgreSQL concurrent replicas would both miss each other's row in
    /// the dedup lookup and queue the same alert twice, so they take turns.
    static func lockIntake(_ c: any SQLConnection, engine: StorageEngine) throws(DatabaseError) {
        guard engine.isShared else { return }
        _ = try c.scalar("SELECT pg_advisory_xact_lock(?)", [.integer(intakeLockKey)], operation: "lock intake")
    }

    /// Wakes the other replicas' engines when the transaction commits (PostgreSQL NOTIFY is
    /// delivered at commit, and dropped on rollback). This process is woken directly.
    static func announceNewWork(_ c: any SQLConnection, engine: StorageEngine) throws(DatabaseError) {
        guard engine.isShared else { return }
        _ = try c.scalar("SELECT pg_notify(?, '')", [.text(newWorkChannel)], operation: "announce new work")
    }

    static func pendingCount(_ c: any SQLConnection, destination: String) throws(DatabaseError) -> Int {
        try c.count("SELECT count(*) FROM deliveries WHERE destination = ? AND state = 'pending'",
                    [.text(destination)], operation: "count queue of \(destination)")
    }

    /// Whether a delivery of `fingerprint` to `destination` is still pending (queued,
    /// retrying or in a call).
    static func hasPending(_ c: any SQLConnection, destination: String, fingerprint: String) throws(DatabaseError) -> Bool {
        try c.scalar("SELECT 1 FROM deliveries WHERE destination = ? AND fingerprint = ? AND state = 'pending' LIMIT 1",
                     [.text(destination), .text(fingerprint)], operation: "look for a pending delivery") != nil
    }

    /// A row ``existing(_:_:)`` found.
    typealias ExistingRow = (id: Int64, state: DeliveryState, cause: DeadLetterCause?)

    /// The existing row for the same alert (fingerprint, status, start) at a destination.
    static func existing(_ c: any SQLConnection, _ d: NewDelivery) throws(DatabaseError) -> ExistingRow? {
        var found: (Int64, DeliveryState, DeadLetterCause?)?
        try c.query(
            "SELECT id, state, dead_cause FROM deliveries WHERE destination = ? AND fingerprint = ? AND starts_at_ms = ? AND status = ? LIMIT 1",
            [.text(d.destination), .text(d.fingerprint), .integer(d.startsAtMillis), .text(d.status)],
            operation: "dedup lookup"
        ) { row in
            found = (row.int(0), DeliveryState(rawValue: row.text(1) ?? "") ?? .pending, row.text(2).flatMap(DeadLetterCause.init(rawValue:)))
        }
        return found
    }

    /// Revives the dead letter `deadID` with the resent alert `d`: queued again as a new row
    /// (a new id, so the engine loads it like new work) with a fresh attempt budget, unless a
    /// later delivery of the same fingerprint exists (reviving an old firing behind its
    /// resolve would post a stale message). Returns whether it was revived.
    static func revive(_ c: any SQLConnection, deadID: Int64, with d: NewDelivery, now: Int64) throws(DatabaseError) -> Bool {
        let newer = try c.scalar(
            "SELECT count(*) FROM deliveries WHERE destination = ? AND fingerprint = ? AND id > ?",
            [.text(d.destination), .text(d.fingerprint), .integer(deadID)], operation: "revive: look for newer deliveries")
        guard newer == .integer(0) else { return false }
        try c.run("DELETE FROM deliveries WHERE id = ?", [.integer(deadID)], operation: "revive: remove dead letter")
        try insert(c, d, now: now)
        return true
    }

    /// Marks a delivered row as seen again, so pruning keeps it while Alertmanager resends.
    static func touch(_ c: any SQLConnection, id: Int64, now: Int64) throws(DatabaseError) {
        try c.run("UPDATE deliveries SET updated_ms = ? WHERE id = ? AND state = 'delivered'", [.integer(now), .integer(id)], operation: "touch delivered row")
    }

    /// Queues `d`, or with `deadLetter` records it straight as a dead letter (a full queue).
    static func insert(
        _ c: any SQLConnection, _ d: NewDelivery, now: Int64, deadLetter: (cause: DeadLetterCause, message: String)? = nil
    ) throws(DatabaseError) {
        try c.run(
            """
            INSERT INTO deliveries (destination, fingerprint, status, starts_at_ms, idempotency_key, payload, state,
                                    attempts, next_attempt_ms, queued_ms, updated_ms, dead_cause, last_message)
            VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
            """,
            [.text(d.destination), .text(d.fingerprint), .text(d.status), .integer(d.startsAtMillis), .text(d.idempotencyKey),
             .blob(d.payload), .text(deadLetter == nil ? DeliveryState.pending.rawValue : DeliveryState.dead.rawValue),
             .integer(now), .integer(now), .integer(now),
             deadLetter.map { .text($0.cause.rawValue) } ?? .null, deadLetter.map { .text($0.message) } ?? .null],
            operation: "insert delivery")
    }

    // MARK: Engine

    /// The columns ``pendingDelivery(_:)`` reads, in its order.
    private static let pendingColumns = "id, destination, fingerprint, starts_at_ms, idempotency_key, attempts, next_attempt_ms, queued_ms, crashes"

    private static func pendingDelivery(_ row: any SQLRow) -> PendingDelivery {
        PendingDelivery(
            id: row.int(0), destination: row.text(1) ?? "", fingerprint: row.text(2) ?? "", startsAtMillis: row.int(3),
            idempotencyKey: row.text(4) ?? "", attempts: Int(row.int(5)), nextAttemptMillis: row.int(6), queuedMillis: row.int(7),
            crashes: Int(row.int(8)))
    }

    /// A destination's message as it may be stored and shown (`deliveries list`, logs):
    /// every known secret scrubbed, whatever the plugin echoed.
    static func storable(_ message: String) -> String {
        SecretScrubber.shared.scrub(message)
    }

    /// Pending deliveries with an id above `afterID`, oldest first.
    func pending(afterID: Int64) throws(DatabaseError) -> [PendingDelivery] {
        try database.read("load pending deliveries") { c in
            var result: [PendingDelivery] = []
            try c.query("SELECT \(Self.pendingColumns) FROM deliveries WHERE id > ? AND state = 'pending' ORDER BY id",
                        [.integer(afterID)], operation: "load pending deliveries") { row in
                result.append(Self.pendingDelivery(row))
            }
            return result
        }
    }

    /// Shared engine only: claims for `owner`, until `now + leaseMillis`, up to `limit`
    /// unclaimed pending deliveries to `destinations` (those the replica can deliver to),
    /// oldest first, and returns them. (Lapsed claims become unclaimed first:
    /// ``releaseLapsedClaims(owner:now:)``.)
    ///
    /// Order per (destination, fingerprint) across replicas: a row is claimed only when
    /// every older pending row of its fingerprint is already `owner`'s, so a resolve
    /// accepted by B waits for the firing A is delivering and then goes to A (who holds the
    /// firing); once the firing is delivered any replica may take it, with its reference.
    ///
    /// Order per destination for the `ordered` ones (docs/delivery.md, "Ordering"): a row
    /// is claimed only when every older pending row of its destination is `owner`'s, held
    /// already or claimed by this same statement. So one replica holds a prefix of such a
    /// destination's line and delivers it in order, one at a time; no other replica claims
    /// a newer row until that prefix is settled (delivered or dead), then whoever claims
    /// first takes the rest from its oldest row. A row another replica holds, or one another
    /// claim has locked this instant, or one this statement skipped, blocks every newer row
    /// of the destination.
    ///
    /// `FOR UPDATE SKIP LOCKED`: replicas claiming at once never wait for, nor take, the
    /// same row.
    func claim(owner: String, destinations: [String], ordered: Set<String> = [], leaseMillis: Int64, limit: Int, now: Int64) throws -> [PendingDelivery] {
        guard !destinations.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: destinations.count).joined(separator: ", ")
        let orderedNames = ordered.intersection(destinations).sorted()
        // The candidates are locked first (`locked`); an ordered destination's candidate is
        // then kept only if no older pending row of its destination is neither `owner`'s nor
        // locked here. Rows this statement claims are still unclaimed in its snapshot, hence
        // the `locked` test: without it only one row per round could be claimed.
        let isOrdered = { (column: String) in
            orderedNames.isEmpty ? "FALSE" : "\(column) IN (\(Array(repeating: "?", count: orderedNames.count).joined(separator: ", ")))"
        }
        let names = orderedNames.map { SQLValue.text($0) }
        return try database.write("claim deliveries") { c in
            var result: [PendingDelivery] = []
            try c.query(
                """
                WITH locked AS (
                    SELECT d.id, d.destination FROM deliveries d
                    WHERE d.state = 'pending' AND d.claimed_by IS NULL AND d.destination IN (\(placeholders))
                      AND (\(isOrdered("d.destination")) OR NOT EXISTS (
                          SELECT 1 FROM deliveries e
                          WHERE e.state = 'pending' AND e.destination = d.destination AND e.fingerprint = d.fingerprint AND e.id < d.id
                            AND (e.claimed_by IS NULL OR e.claimed_by <> ?)))
                    ORDER BY d.id LIMIT ?
                    FOR UPDATE SKIP LOCKED)
                UPDATE deliveries SET claimed_by = ?, claim_until_ms = ?
                WHERE id IN (
                    SELECT l.id FROM locked l
                    WHERE NOT (\(isOrdered("l.destination"))) OR NOT EXISTS (
                        SELECT 1 FROM deliveries e
                        WHERE e.state = 'pending' AND e.destination = l.destination AND e.id < l.id
                          AND (e.claimed_by IS NULL OR e.claimed_by <> ?)
                          AND e.id NOT IN (SELECT id FROM locked)))
                RETURNING \(Self.pendingColumns)
                """,
                destinations.map { .text($0) } + names + [.text(owner), .integer(Int64(limit)), .text(owner), .integer(now + leaseMillis)]
                    + names + [.text(owner)],
                operation: "claim deliveries"
            ) { row in
                result.append(Self.pendingDelivery(row))
            }
            return result.sorted { $0.id < $1.id }
        }
    }

    /// Shared engine only: makes the claims of other replicas that lapsed before `now`
    /// unclaimed again (they died, or lost the database for longer than the lease), except
    /// calls marked in flight, which ``recoverInterrupted(scope:blamed:quarantineAfter:now:)``
    /// counts first. Returns how many.
    @discardableResult
    func releaseLapsedClaims(owner: String, now: Int64) throws -> Int {
        try database.write("release lapsed claims") { c in
            try c.run(
                """
                UPDATE deliveries SET claimed_by = NULL, claim_until_ms = NULL
                WHERE state = 'pending' AND claimed_by IS NOT NULL AND claim_until_ms < ? AND claimed_by <> ? AND in_flight_ms IS NULL
                """,
                [.integer(now), .text(owner)], operation: "release lapsed claims")
        }
    }

    /// Shared engine only: the pending deliveries among `ids` that `owner` holds (a claim
    /// whose commit was never acknowledged, so its rows never reached the queues).
    func claimed(owner: String, ids: [Int64]) throws(DatabaseError) -> [PendingDelivery] {
        guard !ids.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        return try database.read("read claimed deliveries") { c in
            var result: [PendingDelivery] = []
            try c.query("SELECT \(Self.pendingColumns) FROM deliveries WHERE state = 'pending' AND claimed_by = ? AND id IN (\(placeholders)) ORDER BY id",
                        [.text(owner)] + ids.map { .integer($0) }, operation: "read claimed deliveries") { row in
                result.append(Self.pendingDelivery(row))
            }
            return result
        }
    }

    /// Shared engine only: extends `owner`'s claims on its pending deliveries to
    /// `now + leaseMillis` and returns the ids it still holds. A claim that lapsed but that
    /// no other replica took is still `owner`'s and is extended; one taken over is no longer
    /// among them, and the caller must drop that delivery.
    func renewClaims(owner: String, leaseMillis: Int64, now: Int64) throws -> Set<Int64> {
        try database.write("renew claims") { c in
            var ids: Set<Int64> = []
            try c.query(
                "UPDATE deliveries SET claim_until_ms = ? WHERE claimed_by = ? AND state = 'pending' RETURNING id",
                [.integer(now + leaseMillis), .text(owner)], operation: "renew claims"
            ) { row in
                ids.insert(row.int(0))
            }
            return ids
        }
    }

    /// The Issue JSON of a pending delivery and the reference its destination returned for
    /// the first delivery of the same occurrence (fingerprint and start), if any.
    ///
    /// `owner`: on a shared engine, the replica that must still hold the claim; nil (and
    /// the payload) when another replica took the delivery over.
    func payloadAndReference(_ d: PendingDelivery, owner: String? = nil) throws(DatabaseError) -> (payload: [UInt8], reference: [UInt8]?)? {
        try database.read("read delivery payload") { c in
            var payload: [UInt8]?
            let sql = owner == nil
                ? "SELECT payload FROM deliveries WHERE id = ? AND state = 'pending'"
                : "SELECT payload FROM deliveries WHERE id = ? AND state = 'pending' AND claimed_by = ?"
            try c.query(sql, [.integer(d.id)] + (owner.map { [.text($0)] } ?? []), operation: "read delivery payload") { row in
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

    /// The condition every write about one attempt adds: the row is still pending and, on a
    /// shared engine, still `owner`'s (another replica may have taken it over after this
    /// one's lease lapsed; then the write changes nothing and returns false).
    private static func fence(id: Int64, owner: String?) -> (sql: String, values: [SQLValue]) {
        guard let owner else { return ("WHERE id = ? AND state = 'pending'", [.integer(id)]) }
        return ("WHERE id = ? AND state = 'pending' AND claimed_by = ?", [.integer(id), .text(owner)])
    }

    /// Records, durably and before the plugin is called, that attempt `attempts` of `id`
    /// starts now. If the process dies in the call, the next start finds the mark
    /// (``recoverInterrupted(scope:blamed:quarantineAfter:now:)``); every outcome clears it.
    /// No fsync: the mark must survive the process (a plugin crash), not a power loss.
    /// Returns false (and the plugin must not be called) when the delivery is no longer
    /// pending or no longer `owner`'s.
    @discardableResult
    func recordAttemptStart(id: Int64, attempts: Int, owner: String? = nil, now: Int64) throws -> Bool {
        let fence = Self.fence(id: id, owner: owner)
        return try database.write("record attempt start", survivesProcessCrashOnly: true) { c in
            try c.run("UPDATE deliveries SET attempts = ?, in_flight_ms = ? \(fence.sql)",
                      [.integer(Int64(attempts)), .integer(now)] + fence.values, operation: "record attempt start") == 1
        }
    }

    /// Records that the attempt delivered. Returns false when the delivery was no longer
    /// pending or `owner`'s (nothing recorded).
    ///
    /// The three outcomes (delivered, retry, dead letter) skip the fsync, as the attempt mark
    /// does: they must survive a crash of the process, and the next intake commit's fsync
    /// makes them durable. Lost to a power cut, an outcome leaves its delivery pending, so it
    /// is sent again after the restart: at least once, never lost (docs/delivery.md,
    /// "Durability"). The fsync per outcome was half of the collector's fsync time.
    @discardableResult
    func recordDelivered(id: Int64, attempts: Int, reference: [UInt8]?, message: String, owner: String? = nil, now: Int64) throws -> Bool {
        let fence = Self.fence(id: id, owner: owner)
        return try database.write("record delivered", survivesProcessCrashOnly: true) { c in
            try c.run(
                """
                UPDATE deliveries SET state = 'delivered', payload = NULL, attempts = ?, reference = ?, last_message = ?, updated_ms = ?,
                                      in_flight_ms = NULL
                \(fence.sql)
                """,
                [.integer(Int64(attempts)), reference.map { .blob($0) } ?? .null, .text(Self.storable(message)), .integer(now)] + fence.values,
                operation: "record delivered") == 1
        }
    }

    /// `crashes`: the delivery's crash count after this attempt (it changes when an isolated
    /// plugin's process crashed in the call). Returns false as ``recordDelivered(id:attempts:reference:message:owner:now:)`` does.
    @discardableResult
    func recordRetry(id: Int64, attempts: Int, crashes: Int, nextAttemptMillis: Int64, message: String, owner: String? = nil, now: Int64) throws -> Bool {
        let fence = Self.fence(id: id, owner: owner)
        return try database.write("record retry", survivesProcessCrashOnly: true) { c in
            try c.run(
                "UPDATE deliveries SET attempts = ?, crashes = ?, next_attempt_ms = ?, last_message = ?, updated_ms = ?, in_flight_ms = NULL \(fence.sql)",
                [.integer(Int64(attempts)), .integer(Int64(crashes)), .integer(nextAttemptMillis), .text(Self.storable(message)), .integer(now)]
                    + fence.values,
                operation: "record retry") == 1
        }
    }

    /// Returns false as ``recordDelivered(id:attempts:reference:message:owner:now:)`` does.
    @discardableResult
    func recordDead(id: Int64, attempts: Int, crashes: Int, cause: DeadLetterCause, message: String, owner: String? = nil, now: Int64) throws -> Bool {
        let fence = Self.fence(id: id, owner: owner)
        return try database.write("record dead letter", survivesProcessCrashOnly: true) { c in
            try c.run(
                """
                UPDATE deliveries SET state = 'dead', attempts = ?, crashes = ?, dead_cause = ?, last_message = ?, updated_ms = ?, in_flight_ms = NULL
                \(fence.sql)
                """,
                [.integer(Int64(attempts)), .integer(Int64(crashes)), .text(cause.rawValue), .text(Self.storable(message)), .integer(now)]
                    + fence.values,
                operation: "record dead letter") == 1
        }
    }

    /// Shared engine, for a destination this replica cannot deliver to: dead-letters its
    /// deliveries that no replica holds and that were queued before `queuedBefore` (Unix
    /// ms), with `reason`; returns how many. (Where a replica has the destination it claims
    /// them, and ``RetryPolicy`` bounds their age at each attempt.)
    func expireUnclaimed(destination: String, queuedBefore: Int64, reason: String, now: Int64) throws -> Int {
        try database.write("expire unclaimed deliveries") { c in
            try c.run(
                """
                UPDATE deliveries SET state = 'dead', dead_cause = ?, last_message = ?, updated_ms = ?
                WHERE destination = ? AND state = 'pending' AND queued_ms <= ? AND (claimed_by IS NULL OR claim_until_ms < ?)
                """,
                [.text(DeadLetterCause.failed.rawValue), .text(Self.storable(reason)), .integer(now), .text(destination), .integer(queuedBefore), .integer(now)],
                operation: "expire unclaimed deliveries")
        }
    }

    /// Clears the in-flight marks of calls abandoned at shutdown (a plugin stuck past the
    /// grace period): a clean exit is not a crash, so they stay plain pending deliveries.
    func clearInFlight(ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        try database.write("clear in-flight marks") { c in
            for id in ids {
                try c.run("UPDATE deliveries SET in_flight_ms = NULL WHERE id = ?", [.integer(id)], operation: "clear in-flight mark")
            }
        }
    }

    /// Shared engine: gives up `owner`'s claims on its pending deliveries, so another
    /// replica takes them over at once instead of after the lease (a clean shutdown, a
    /// rollout), or so this replica's next start claims them afresh.
    func releaseClaims(owner: String) throws {
        try database.write("release claims") { c in
            try c.run("UPDATE deliveries SET claimed_by = NULL, claim_until_ms = NULL WHERE claimed_by = ? AND state = 'pending' AND in_flight_ms IS NULL",
                      [.text(owner)], operation: "release claims")
        }
    }

    /// Whose interrupted plugin calls ``recoverInterrupted(scope:blamed:quarantineAfter:now:)`` looks at.
    enum RecoveryScope: Sendable {
        /// One process owns the database (SQLite): every mark is from its last run.
        case all
        /// A shared database, seen by replica `owner`: the marks of other replicas whose
        /// claim lapsed (they died, or lost the database for longer than the lease), and,
        /// `atStart`, those of `owner`'s own previous run (which the crash marker speaks of).
        /// Never `owner`'s live calls.
        case shared(owner: String, atStart: Bool)
    }

    /// Before any delivery (and, on a shared engine, again on every claim round): every
    /// pending delivery still marked in flight in `scope` was in a plugin call when its
    /// process ended uncleanly (a crash, a kill -9, an OOM kill). Counts the crash on it; at
    /// `quarantineAfter(destination)` crashes it becomes a quarantined dead letter, so a
    /// plugin that segfaults on one Issue cannot crash-loop the collector. The others become
    /// plain pending deliveries again, free to be claimed.
    ///
    /// `blamed`: the deliveries this process's crash handler saw in the crashing call
    /// (``CrashGuard``); its other calls in flight were only interrupted and count nothing.
    /// nil when no handler saw the exit (kill -9, OOM kill, another replica's death): then
    /// every delivery in flight counts.
    func recoverInterrupted(
        scope: RecoveryScope = .all, blamed: Set<Int64>?, quarantineAfter: (String) -> Int, now: Int64
    ) throws -> [InterruptedDelivery] {
        let filter: String
        var values: [SQLValue] = []
        /// Whose rows the crash marker (`blamed`) speaks of: this process's previous run.
        let ownRun: (String?) -> Bool
        switch scope {
        case .all:
            filter = ""
            ownRun = { _ in true }
        case .shared(let owner, let atStart):
            filter = atStart
                ? " AND ((claim_until_ms < ? AND claimed_by <> ?) OR claimed_by = ?) ORDER BY id FOR UPDATE SKIP LOCKED"
                : " AND claim_until_ms < ? AND claimed_by <> ? ORDER BY id FOR UPDATE SKIP LOCKED"
            values = atStart ? [.integer(now), .text(owner), .text(owner)] : [.integer(now), .text(owner)]
            ownRun = { atStart && $0 == owner }
        }
        return try database.write("recover interrupted deliveries") { c in
            var found: [InterruptedDelivery] = []
            // On a shared engine the rows stay locked until the updates below, so a replica
            // claiming or recovering at the same moment skips them.
            try c.query(
                "SELECT id, destination, fingerprint, crashes, claimed_by FROM deliveries WHERE state = 'pending' AND in_flight_ms IS NOT NULL\(filter.isEmpty ? " ORDER BY id" : filter)",
                values, operation: "find interrupted deliveries"
            ) { row in
                let id = row.int(0)
                let destination = row.text(1) ?? ""
                // Another replica's lapsed call counts as a crash, as a kill -9 does here.
                let mine = ownRun(row.text(4))
                let isBlamed = mine ? (blamed.map { $0.contains(id) } ?? true) : true
                let crashes = Int(row.int(3)) + (isBlamed ? 1 : 0)
                found.append(InterruptedDelivery(id: id, destination: destination, fingerprint: row.text(2) ?? "",
                                                 crashes: crashes, quarantined: isBlamed && crashes >= quarantineAfter(destination),
                                                 blamed: isBlamed, onAnotherReplica: !mine))
            }
            for d in found {
                if d.quarantined {
                    try c.run(
                        """
                        UPDATE deliveries SET state = 'dead', dead_cause = ?, crashes = ?, last_message = ?, updated_ms = ?, in_flight_ms = NULL,
                                              claimed_by = NULL, claim_until_ms = NULL
                        WHERE id = ?
                        """,
                        [.text(DeadLetterCause.quarantined.rawValue), .integer(Int64(d.crashes)),
                         .text(RetryPolicy.quarantineReason(crashes: d.crashes)), .integer(now), .integer(d.id)],
                        operation: "quarantine interrupted delivery")
                } else {
                    try c.run("UPDATE deliveries SET crashes = ?, in_flight_ms = NULL, updated_ms = ?, claimed_by = NULL, claim_until_ms = NULL WHERE id = ?",
                              [.integer(Int64(d.crashes)), .integer(now), .integer(d.id)], operation: "count crash on interrupted delivery")
                }
            }
            return found
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
        let sql = "SELECT \(Self.recordColumns) FROM deliveries \(whereClause) ORDER BY id DESC LIMIT ?"
        return try database.read("list deliveries") { c in
            var result: [DeliveryRecord] = []
            try c.query(sql, values, operation: "list deliveries") { result.append(Self.record($0)) }
            return result
        }
    }

    /// The columns ``record(_:)`` reads, in its order.
    private static let recordColumns = """
        id, destination, fingerprint, status, starts_at_ms, state, attempts, next_attempt_ms, queued_ms, updated_ms, last_message, crashes, dead_cause
        """

    private static func record(_ row: any SQLRow) -> DeliveryRecord {
        DeliveryRecord(
            id: row.int(0), destination: row.text(1) ?? "", fingerprint: row.text(2) ?? "", status: row.text(3) ?? "",
            startsAtMillis: row.int(4), state: DeliveryState(rawValue: row.text(5) ?? "") ?? .pending,
            attempts: Int(row.int(6)), nextAttemptMillis: row.int(7), queuedMillis: row.int(8), updatedMillis: row.int(9),
            lastMessage: row.text(10), crashes: Int(row.int(11)), deadCause: row.text(12).flatMap(DeadLetterCause.init(rawValue:)))
    }

    /// What became of one journal entry at each destination, newest first: the deliveries
    /// of its occurrence (its fingerprint, status and start), and for an Issue held in a
    /// notify group the group notification that carried it (the first one queued after it
    /// arrived). With the reference each destination stored.
    public func records(of entry: JournalEntry) throws(DatabaseError) -> [DeliveryRecord] {
        try database.read("list an Issue's deliveries") { c in
            var result: [DeliveryRecord] = []
            func collect(_ row: any SQLRow) {
                var record = Self.record(row)
                record.reference = row.blob(13).map { String(decoding: $0, as: UTF8.self) }
                result.append(record)
            }
            try c.query("""
                SELECT \(Self.recordColumns), reference FROM deliveries
                WHERE fingerprint = ? AND starts_at_ms = ? AND status = ? ORDER BY id DESC LIMIT 100
                """, [.text(entry.fingerprint), .integer(entry.startsAtMillis), .text(entry.status.rawValue)],
                operation: "list an Issue's deliveries") { collect($0) }
            for routing in entry.routing {
                guard let notification = routing.notification, notification != entry.fingerprint else { continue }
                try c.query("""
                    SELECT \(Self.recordColumns), reference FROM deliveries
                    WHERE destination = ? AND fingerprint = ? AND queued_ms >= ? ORDER BY id LIMIT 1
                    """, [.text(routing.destination), .text(notification), .integer(entry.receivedMillis)],
                    operation: "find an Issue's group notification") { collect($0) }
            }
            return result
        }
    }

    /// The title of each of these deliveries' Issues, read from the payload they still hold
    /// (pending and dead rows keep it), by id.
    public func titles(ids: [Int64]) throws(DatabaseError) -> [Int64: String] {
        struct Titled: Decodable { var title: String }
        guard !ids.isEmpty else { return [:] }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        return try database.read("read delivery titles") { c in
            var result: [Int64: String] = [:]
            try c.query("SELECT id, payload FROM deliveries WHERE id IN (\(placeholders)) AND payload IS NOT NULL", ids.map { .integer($0) },
                        operation: "read delivery titles") { row in
                result[row.int(0)] = row.blob(1).flatMap { try? IssueCoding.decode(Titled.self, from: $0).title }
            }
            return result
        }
    }

    /// A destination's queue: how many deliveries are pending and when the oldest was queued.
    public struct QueueSummary: Sendable, Equatable {
        public var pending: Int
        /// Unix milliseconds.
        public var oldestQueuedMillis: Int64
        public var dead: Int
    }

    /// Every destination's queue, by name (destinations with nothing pending or dead are absent).
    public func queueSummaries() throws(DatabaseError) -> [String: QueueSummary] {
        try database.read("summarise queues") { c in
            var result: [String: QueueSummary] = [:]
            try c.query("""
                SELECT destination, sum(CASE WHEN state = 'pending' THEN 1 ELSE 0 END),
                       min(CASE WHEN state = 'pending' THEN queued_ms END), sum(CASE WHEN state = 'dead' THEN 1 ELSE 0 END)
                FROM deliveries WHERE state <> 'delivered' GROUP BY destination
                """, operation: "summarise queues") { row in
                result[row.text(0) ?? ""] = QueueSummary(pending: Int(row.int(1)), oldestQueuedMillis: row.int(2), dead: Int(row.int(3)))
            }
            return result
        }
    }

    /// Deliveries that failed at least once and are not delivered (retrying or dead),
    /// most recently changed first.
    public func recentFailures(limit: Int) throws(DatabaseError) -> [DeliveryRecord] {
        try database.read("list recent failures") { c in
            var result: [DeliveryRecord] = []
            try c.query("SELECT \(Self.recordColumns) FROM deliveries WHERE state <> 'delivered' AND attempts > 0 ORDER BY updated_ms DESC LIMIT ?",
                        [.integer(Int64(limit))], operation: "list recent failures") { result.append(Self.record($0)) }
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
        let engine = database.engine
        return try database.write("retry dead letters") { c in
            // New rows, like the intake's: the same lock keeps ids in commit order.
            try Self.lockIntake(c, engine: engine)
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
            if !targets.isEmpty { try Self.announceNewWork(c, engine: engine) }
            return targets
        }
    }
}
