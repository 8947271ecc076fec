import CanoSDK
import Foundation

/// What routing did with one Issue for one destination: the console's answer to "why
/// didn't this page me?".
public struct JournalRouting: Codable, Sendable, Equatable {
    /// The outcome, in the terms the console shows.
    public enum Outcome: String, Codable, Sendable, CaseIterable {
        /// Queued as a delivery (its state is in `deliveries`).
        case queued
        /// Already queued or delivered with the same fingerprint, status and start: deduplicated.
        case duplicate
        /// The destination's queue was full: recorded straight as a dead letter.
        case overflow
        /// Kept in a notify group that the route groups by; the group's notification carries it.
        case grouped
        /// Held by a silence (`detail` is the silence id).
        case silenced
        /// Folded into a storm summary by the destination's storm guard.
        case storm
        /// Held back by a mute window or `min_duration`, or behind its own held occurrence.
        case held

        /// Kept in a notify group rather than queued (grouped, silenced, storm, held).
        public var isHeld: Bool { self == .grouped || self == .silenced || self == .storm || self == .held }
    }

    /// The destination name.
    public var destination: String
    /// The route that sent it there (``IssueRouter/Match/routeID``).
    public var route: String
    public var outcome: Outcome
    /// The silence that holds it, for `silenced`.
    public var silence: String?
    /// For an Issue held in a notify group: the fingerprint of the notification that will
    /// carry it (the group's, or its own), whose deliveries say what became of it.
    public var notification: String?

    public init(destination: String, route: String, outcome: Outcome, silence: String? = nil, notification: String? = nil) {
        self.destination = destination
        self.route = route
        self.outcome = outcome
        self.silence = silence
        self.notification = notification
    }
}

/// One Issue as it left the pipeline (the console's history).
public struct JournalEntry: Sendable, Equatable {
    /// The row id (the console's `/ui/issues/{id}`).
    public var id: Int64
    /// When the outbox recorded it, Unix milliseconds.
    public var receivedMillis: Int64
    public var fingerprint: String
    public var status: IssueStatus
    public var severity: Severity
    public var source: String
    public var namespace: String?
    public var title: String
    /// The Issue's start, Unix milliseconds (with fingerprint and status: its deliveries).
    public var startsAtMillis: Int64
    /// Empty when the Issue matched no route.
    public var routing: [JournalRouting]
}

/// Which journal entries to list. Nil fields do not filter.
public struct JournalFilter: Sendable, Equatable {
    public var status: IssueStatus?
    public var severity: Severity?
    public var namespace: String?
    public var source: String?
    /// Entries routed to this destination (whatever the outcome).
    public var destination: String?
    /// At most this many, newest first.
    public var limit: Int = 200

    public init(status: IssueStatus? = nil, severity: Severity? = nil, namespace: String? = nil, source: String? = nil,
                destination: String? = nil, limit: Int = 200) {
        self.status = status
        self.severity = severity
        self.namespace = namespace
        self.source = source
        self.destination = destination
        self.limit = limit
    }
}

/// The recent Issues and what routing did with them, in the `issue_journal` table, for the
/// console. The outbox writes an entry for every Issue it is handed, routed or not, in the
/// same transaction as its deliveries, so the journal never shows an Issue the intake did
/// not acknowledge. Only the newest `keep` entries are kept. Written only when the console
/// is on: a collector without it pays nothing.
public struct IssueJournal: Sendable {
    public let database: any SQLDatabase
    /// How many entries to keep (`ui.history`).
    public let keep: Int

    public init(database: any SQLDatabase, keep: Int) {
        self.database = database
        self.keep = keep
    }

    // MARK: Writing (inside the outbox's transaction)

    /// Records one Issue with what routing did with it.
    static func record(_ c: any SQLConnection, _ issue: Issue, payload: [UInt8], routing: [JournalRouting], now: Int64) throws {
        try c.run(
            """
            INSERT INTO issue_journal (received_ms, fingerprint, status, severity, source, namespace, title, starts_at_ms, payload, routing)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.integer(now), .text(issue.fingerprint), .text(issue.status.rawValue), .text(issue.severity.rawValue),
             .text(issue.source.rawValue), issue.subject.namespace.map { .text($0) } ?? .null, .text(issue.title),
             .integer(unixMillis(issue.startsAt)), .blob(payload), .blob(try IssueCoding.encode(routing))],
            operation: "record journal entry")
    }

    /// Drops all but the newest `keep` entries: one indexed delete per intake commit.
    func prune(_ c: any SQLConnection) throws(DatabaseError) {
        try c.run("DELETE FROM issue_journal WHERE id <= (SELECT max(id) FROM issue_journal) - ?",
                  [.integer(Int64(keep))], operation: "prune journal")
    }

    // MARK: Reading (blocking: call from a thread of the collector's own)

    private static let columns = "id, received_ms, fingerprint, status, severity, source, namespace, title, starts_at_ms, routing"

    private static func entry(_ row: any SQLRow) -> JournalEntry {
        JournalEntry(
            id: row.int(0), receivedMillis: row.int(1), fingerprint: row.text(2) ?? "",
            status: IssueStatus(rawValue: row.text(3) ?? "") ?? .firing, severity: Severity(rawValue: row.text(4) ?? "") ?? .info,
            source: row.text(5) ?? "", namespace: row.text(6), title: row.text(7) ?? "", startsAtMillis: row.int(8),
            routing: row.blob(9).flatMap { try? IssueCoding.decode([JournalRouting].self, from: $0) } ?? [])
    }

    /// The newest entries that pass `filter`.
    public func recent(_ filter: JournalFilter = JournalFilter()) throws(DatabaseError) -> [JournalEntry] {
        var clauses: [String] = []
        var values: [SQLValue] = []
        func add(_ clause: String, _ value: String?) {
            guard let value else { return }
            clauses.append(clause)
            values.append(.text(value))
        }
        add("status = ?", filter.status?.rawValue)
        add("severity = ?", filter.severity?.rawValue)
        add("namespace = ?", filter.namespace)
        add("source = ?", filter.source)
        let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        // The destination is inside the routing JSON: filtered here, over at most `keep` rows.
        let limit = filter.destination == nil ? filter.limit : keep
        values.append(.integer(Int64(limit)))
        let entries = try database.read("list journal") { c in
            var result: [JournalEntry] = []
            try c.query("SELECT \(Self.columns) FROM issue_journal \(whereClause) ORDER BY id DESC LIMIT ?", values,
                        operation: "list journal") { row in result.append(Self.entry(row)) }
            return result
        }
        guard let destination = filter.destination else { return entries }
        return Array(entries.lazy.filter { $0.routing.contains { $0.destination == destination } }.prefix(filter.limit))
    }

    /// One entry and its Issue as recorded, or nil when it is unknown (or pruned).
    public func entry(id: Int64) throws(DatabaseError) -> (entry: JournalEntry, issue: Issue?)? {
        try database.read("read journal entry") { c in
            var found: (JournalEntry, Issue?)?
            try c.query("SELECT \(Self.columns), payload FROM issue_journal WHERE id = ?", [.integer(id)], operation: "read journal entry") { row in
                found = (Self.entry(row), row.blob(10).flatMap { try? IssueCoding.decode(Issue.self, from: $0) })
            }
            return found
        }
    }

    /// The newest entry's id and title for each of `fingerprints` still in the journal
    /// (the console links a dead letter to its Issue).
    public func latest(fingerprints: Set<String>) throws(DatabaseError) -> [String: (Int64, String)] {
        guard !fingerprints.isEmpty else { return [:] }
        let list = Array(fingerprints)
        let placeholders = Array(repeating: "?", count: list.count).joined(separator: ", ")
        return try database.read("find journal entries") { c in
            var result: [String: (Int64, String)] = [:]
            try c.query("""
                SELECT fingerprint, id, title FROM issue_journal
                WHERE id IN (SELECT max(id) FROM issue_journal WHERE fingerprint IN (\(placeholders)) GROUP BY fingerprint)
                """, list.map { .text($0) }, operation: "find journal entries") { row in result[row.text(0) ?? ""] = (row.int(1), row.text(2) ?? "") }
            return result
        }
    }

    /// The distinct sources and namespaces in the journal, for the console's filters.
    public func facets() throws(DatabaseError) -> (sources: [String], namespaces: [String]) {
        try database.read("journal facets") { c in
            var sources: [String] = [], namespaces: [String] = []
            try c.query("SELECT DISTINCT source FROM issue_journal ORDER BY source", operation: "journal sources") { sources.append($0.text(0) ?? "") }
            try c.query("SELECT DISTINCT namespace FROM issue_journal WHERE namespace IS NOT NULL ORDER BY namespace",
                        operation: "journal namespaces") { namespaces.append($0.text(0) ?? "") }
            return (sources, namespaces)
        }
    }
}
