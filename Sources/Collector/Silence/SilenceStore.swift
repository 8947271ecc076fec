import CanoSDK
import Foundation

/// The silences, kept in the collector's store (the `silences` table, SQLite or PostgreSQL)
/// so the CLI, the HTTP API and every replica see one set.
///
/// Expired silences are kept for ``retention`` (5 days, as Alertmanager keeps them) and
/// pruned when a silence is added. Whenever a silence stops applying earlier than before
/// (expired, or its end moved earlier), every pending `notify_groups` flush is brought
/// forward to now in the same transaction, so the dispatcher looks again at the Issues it
/// held and delivers those still firing.
///
/// Every call blocks on the database: call it from a thread the collector owns or through
/// ``BlockingThread/run(name:_:)``, never directly on Swift's cooperative pool.
public struct SilenceStore: Sendable {
    /// How long expired silences are kept (Alertmanager's default `--data.retention`).
    public static let defaultRetention: Duration = .seconds(5 * 24 * 3600)

    private let database: any SQLDatabase
    /// How long expired silences are kept before ``prune(expiredBefore:)`` removes them.
    public let retention: Duration

    /// A store over an open collector database (``CollectorStorage/open(_:dataDirectory:logger:)``).
    public init(database: any SQLDatabase, retention: Duration = SilenceStore.defaultRetention) {
        self.database = database
        self.retention = retention
    }

    private static let columns = "id, matchers, starts_at_ms, ends_at_ms, created_by, comment, updated_ms"

    // MARK: - Writing

    /// Validates and stores a new silence (its `updatedAt` becomes `now`), pruning silences
    /// expired longer than ``retention`` ago in the same transaction. Returns its id.
    /// - Throws: ``SilenceError`` when the silence is invalid (``Silence/validate(now:)``);
    ///   ``DatabaseError`` when the store fails (`.unavailable`: try again later).
    @discardableResult
    public func add(_ silence: Silence, now: Date = Date()) throws -> String {
        try silence.validate(now: now)
        var stored = silence
        stored.startsAt = max(stored.startsAt, Silence.truncated(now))  // Alertmanager: a past start becomes now
        stored.updatedAt = Silence.truncated(now)
        let nowMillis = Silence.millis(now)
        let cutoff = nowMillis - Self.millis(retention)
        try database.write("add silence") { c in
            try Self.prune(c, expiredBefore: cutoff)
            try Self.insert(c, stored)
        }
        return stored.id
    }

    /// Replaces silence `id` with `silence`, as Alertmanager's `POST /api/v2/silences` with
    /// an id does: changed in place (same id) when only the comment, author or end changed
    /// (and, for a pending silence, a start still in the future); otherwise the old silence
    /// is expired and `silence` is stored under a new id. Returns the id now in force.
    /// - Throws: ``SilenceError/notFound(id:)``; ``SilenceError`` for an invalid
    ///   replacement; ``DatabaseError``.
    @discardableResult
    public func replace(id: String, with silence: Silence, now: Date = Date()) throws -> String {
        try silence.validate(now: now)
        let nowMillis = Silence.millis(now)
        let cutoff = nowMillis - Self.millis(retention)
        return try database.write("replace silence") { c in
            guard let old = try Self.readRow(c, id: id) else { throw SilenceError.notFound(id: id) }
            let previous = try old.decoded()
            var next = silence
            next.updatedAt = Silence.truncated(now)
            if Self.canUpdateInPlace(previous, next, now: now) {
                next.id = previous.id
                try c.run("UPDATE silences SET ends_at_ms = ?, starts_at_ms = ?, created_by = ?, comment = ?, updated_ms = ? WHERE id = ?",
                          [.integer(Silence.millis(next.endsAt)), .integer(Silence.millis(next.startsAt)), .text(next.createdBy),
                           .text(next.comment), .integer(nowMillis), .text(previous.id)], operation: "update silence")
                if Silence.millis(next.endsAt) < Silence.millis(previous.endsAt) { try Self.rescheduleHeld(c, now: nowMillis) }
                return next.id
            }
            if previous.state(at: now) != .expired {
                try Self.end(c, previous, now: nowMillis)
            }
            next.id = Silence.newID()
            next.startsAt = max(next.startsAt, Silence.truncated(now))
            try Self.prune(c, expiredBefore: cutoff)
            try Self.insert(c, next)
            return next.id
        }
    }

    /// Ends silence `id` now, as Alertmanager's expire does: an active silence ends at
    /// `now`, a pending one starts and ends at `now` (so it never applied). The row is kept
    /// (expired) for ``retention``. Issues it held are looked at again at once. Returns the
    /// silence as now stored.
    /// - Throws: ``SilenceError/notFound(id:)``, ``SilenceError/alreadyExpired(id:endedAt:)``,
    ///   ``DatabaseError``.
    @discardableResult
    public func expire(id: String, now: Date = Date()) throws -> Silence {
        let nowMillis = Silence.millis(now)
        return try database.write("expire silence") { c in
            guard let row = try Self.readRow(c, id: id) else { throw SilenceError.notFound(id: id) }
            var silence = try row.decoded()
            if silence.state(at: now) == .expired { throw SilenceError.alreadyExpired(id: id, endedAt: silence.endsAt) }
            try Self.end(c, silence, now: nowMillis)
            silence.startsAt = Silence.date(millis: min(Silence.millis(silence.startsAt), nowMillis))
            silence.endsAt = Silence.date(millis: nowMillis)
            silence.updatedAt = silence.endsAt
            return silence
        }
    }

    /// Deletes silences that ended before `expiredBefore` (retention). Returns how many.
    /// - Throws: ``DatabaseError``.
    @discardableResult
    public func prune(expiredBefore: Date) throws -> Int {
        try database.write("prune silences") { c in try Self.prune(c, expiredBefore: Silence.millis(expiredBefore)) }
    }

    // MARK: - Reading

    /// The silence with this id (whatever its state), or nil.
    /// - Throws: ``SilenceError/unreadable(id:reason:)`` for a row that does not decode;
    ///   ``DatabaseError``.
    public func get(_ id: String) throws -> Silence? {
        try database.read("read silence") { c in try Self.readRow(c, id: id) }?.decoded()
    }

    /// Every silence, or only those not expired at `now`, soonest end first (Alertmanager's
    /// listing order for active silences).
    /// - Throws: ``SilenceError/unreadable(id:reason:)``, ``DatabaseError``.
    public func list(includeExpired: Bool = true, now: Date = Date()) throws -> [Silence] {
        let rows = try database.read("list silences") { c in
            includeExpired
                ? try Self.rows(c, where: "1 = 1", [])
                : try Self.rows(c, where: "ends_at_ms > ?", [.integer(Silence.millis(now))])
        }
        return try rows.map { try $0.decoded() }
    }

    /// The silences in force at `now`.
    /// - Throws: ``DatabaseError``.
    public func active(now: Date = Date()) throws -> [Silence] {
        try database.read("read active silences") { c in try Self.active(c, now: Silence.millis(now)) }
    }

    /// The silences in force at `now` (Unix milliseconds), read on `c`: for callers inside
    /// their own transaction (the dispatcher reads silences with the groups they hold).
    ///
    /// A row that cannot be decoded is skipped rather than thrown: one bad row must not
    /// stall every delivery, and delivering an Issue is the safe side of a silence that
    /// cannot be understood. ``list(includeExpired:now:)`` reports such rows.
    /// - Throws: ``DatabaseError``.
    public static func active(_ c: any SQLConnection, now: Int64) throws -> [Silence] {
        try rows(c, where: "starts_at_ms <= ? AND ends_at_ms > ?", [.integer(now), .integer(now)])
            .compactMap { try? $0.decoded() }
    }

    /// How many silences are in each state at `now` (every state present, 0 when none).
    /// - Throws: ``DatabaseError``.
    public func counts(now: Date = Date()) throws -> [Silence.State: Int] {
        let nowMillis = Silence.millis(now)
        return try database.read("count silences") { c in
            var counts = Dictionary(uniqueKeysWithValues: Silence.State.allCases.map { ($0, 0) })
            try c.query("SELECT starts_at_ms, ends_at_ms FROM silences", operation: "count silences") { row in
                let state: Silence.State = row.int(1) <= nowMillis ? .expired : row.int(0) > nowMillis ? .pending : .active
                counts[state, default: 0] += 1
            }
            return counts
        }
    }

    // MARK: - Statements

    /// A row as stored, decoded only after the connection is released (decoding can fail
    /// with a ``SilenceError``, which is no database error).
    struct Row: Sendable {
        var id: String
        var matchers: String
        var startsAt: Int64
        var endsAt: Int64
        var createdBy: String
        var comment: String
        var updated: Int64

        func decoded() throws(SilenceError) -> Silence {
            guard let strings = try? JSONDecoder().decode([String].self, from: Data(matchers.utf8)) else {
                throw .unreadable(id: id, reason: "matchers is not a JSON array of strings")
            }
            var parsed: [Matcher] = []
            for text in strings {
                do throws(MatcherError) { parsed.append(try Matcher.parse(text)) } catch {
                    throw .unreadable(id: id, reason: error.description)
                }
            }
            return Silence(id: id, matchers: parsed, startsAt: Silence.date(millis: startsAt), endsAt: Silence.date(millis: endsAt),
                           createdBy: createdBy, comment: comment, updatedAt: Silence.date(millis: updated))
        }
    }

    private static func rows(_ c: any SQLConnection, where condition: String, _ values: [SQLValue]) throws(DatabaseError) -> [Row] {
        var result: [Row] = []
        try c.query("SELECT \(columns) FROM silences WHERE \(condition) ORDER BY ends_at_ms, id", values,
                    operation: "read silences") { row in
            result.append(Row(id: row.text(0) ?? "", matchers: row.text(1) ?? "[]", startsAt: row.int(2), endsAt: row.int(3),
                              createdBy: row.text(4) ?? "", comment: row.text(5) ?? "", updated: row.int(6)))
        }
        return result
    }

    private static func readRow(_ c: any SQLConnection, id: String) throws(DatabaseError) -> Row? {
        try rows(c, where: "id = ?", [.text(id)]).first
    }

    private static func insert(_ c: any SQLConnection, _ s: Silence) throws {
        let matchers = String(decoding: try JSONEncoder().encode(s.matcherStrings), as: UTF8.self)
        try c.run("INSERT INTO silences (\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  [.text(s.id), .text(matchers), .integer(Silence.millis(s.startsAt)), .integer(Silence.millis(s.endsAt)),
                   .text(s.createdBy), .text(s.comment), .integer(Silence.millis(s.updatedAt))], operation: "insert silence")
    }

    /// Ends `s` at `now` (a pending silence also starts then) and wakes the held Issues.
    private static func end(_ c: any SQLConnection, _ s: Silence, now: Int64) throws(DatabaseError) {
        try c.run("UPDATE silences SET starts_at_ms = ?, ends_at_ms = ?, updated_ms = ? WHERE id = ?",
                  [.integer(min(Silence.millis(s.startsAt), now)), .integer(now), .integer(now), .text(s.id)], operation: "expire silence")
        try rescheduleHeld(c, now: now)
    }

    /// Brings every pending group flush forward to `now`: the dispatcher polls
    /// `next_flush_ms`, and the Issues a silence held wait there until its old end. Groups
    /// that were not held by it re-check and keep their own timing.
    private static func rescheduleHeld(_ c: any SQLConnection, now: Int64) throws(DatabaseError) {
        try c.run("UPDATE notify_groups SET next_flush_ms = ? WHERE next_flush_ms IS NOT NULL AND next_flush_ms > ?",
                  [.integer(now), .integer(now)], operation: "wake groups held by a silence")
    }

    @discardableResult
    private static func prune(_ c: any SQLConnection, expiredBefore cutoff: Int64) throws(DatabaseError) -> Int {
        try c.run("DELETE FROM silences WHERE ends_at_ms < ?", [.integer(cutoff)], operation: "prune silences")
    }

    /// Alertmanager's `canUpdate`: same matchers; an active silence keeps its start and
    /// does not end in the past; a pending one keeps a start in the future; an expired one
    /// is never changed in place.
    static func canUpdateInPlace(_ old: Silence, _ new: Silence, now: Date) -> Bool {
        guard old.matchers == new.matchers else { return false }
        switch old.state(at: now) {
        case .active: return Silence.millis(new.startsAt) == Silence.millis(old.startsAt) && new.endsAt > now
        case .pending: return new.startsAt >= Silence.truncated(now)
        case .expired: return false
        }
    }

    private static func millis(_ d: Duration) -> Int64 {
        d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }
}
