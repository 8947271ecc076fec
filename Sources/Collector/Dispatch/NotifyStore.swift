import CanoSDK

/// Every SQL statement over `notify_groups` and `notify_members`, in one place, on either
/// engine. Runs inside the caller's transaction (the outbox's intake, or a flush).
enum NotifyStore {
    /// One `notify_groups` row.
    struct Group {
        var destination: String
        var key: String
        var route: String
        var kind: NotifyGroupKind
        var fingerprint: String
        var labels: [String: String]
        var createdMillis: Int64
        var nextFlushMillis: Int64?
        var lastFlushMillis: Int64
        var lastNotifiedMillis: Int64
        var notifications: Int
        var stormEnded: Bool
    }

    /// One `notify_members` row.
    struct Member {
        var fingerprint: String
        var status: IssueStatus
        var startsAtMillis: Int64
        var seenMillis: Int64
        var payload: [UInt8]
        /// The status last notified; nil: never.
        var notified: IssueStatus?
    }

    private static let groupColumns = """
        destination, group_key, route, kind, fingerprint, labels, created_ms, next_flush_ms, last_flush_ms, last_notified_ms, notifications, storm_ended
        """

    private static func group(_ row: any SQLRow) -> Group {
        let labels = (try? IssueCoding.decode([String: String].self, from: row.blob(5) ?? [])) ?? [:]
        return Group(destination: row.text(0) ?? "", key: row.text(1) ?? "", route: row.text(2) ?? "",
                     kind: NotifyGroupKind(rawValue: row.text(3) ?? "") ?? .single, fingerprint: row.text(4) ?? "", labels: labels,
                     createdMillis: row.int(6), nextFlushMillis: row[7] == .null ? nil : row.int(7), lastFlushMillis: row.int(8),
                     lastNotifiedMillis: row.int(9), notifications: Int(row.int(10)), stormEnded: row.int(11) != 0)
    }

    /// True when any one-member group exists (the intake then looks each Issue's up).
    static func hasSingles(_ c: any SQLConnection) throws(DatabaseError) -> Bool {
        try c.scalar("SELECT 1 FROM notify_groups WHERE kind = 'single' LIMIT 1", operation: "look for held Issues") != nil
    }

    static func group(_ c: any SQLConnection, destination: String, key: String) throws(DatabaseError) -> Group? {
        var found: Group?
        try c.query("SELECT \(groupColumns) FROM notify_groups WHERE destination = ? AND group_key = ?",
                    [.text(destination), .text(key)], operation: "read notify group") { found = group($0) }
        return found
    }

    static func insert(_ c: any SQLConnection, _ g: Group) throws(DatabaseError) {
        let labels = (try? IssueCoding.encode(g.labels)) ?? Array("{}".utf8)
        try c.run("""
            INSERT INTO notify_groups (destination, group_key, route, kind, fingerprint, labels, created_ms, next_flush_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(g.destination), .text(g.key), .text(g.route), .text(g.kind.rawValue), .text(g.fingerprint), .blob(labels),
                  .integer(g.createdMillis), g.nextFlushMillis.map { .integer($0) } ?? .null], operation: "create notify group")
    }

    /// Moves the group's next look earlier to `at` (never later).
    static func schedule(_ c: any SQLConnection, destination: String, key: String, at: Int64) throws(DatabaseError) {
        try c.run("""
            UPDATE notify_groups SET next_flush_ms = ?
            WHERE destination = ? AND group_key = ? AND (next_flush_ms IS NULL OR next_flush_ms > ?)
            """, [.integer(at), .text(destination), .text(key), .integer(at)], operation: "schedule notify group")
    }

    /// The groups due at `now`, earliest first.
    static func due(_ c: any SQLConnection, now: Int64, limit: Int) throws(DatabaseError) -> [Group] {
        var groups: [Group] = []
        try c.query("""
            SELECT \(groupColumns) FROM notify_groups WHERE next_flush_ms IS NOT NULL AND next_flush_ms <= ?
            ORDER BY next_flush_ms LIMIT ?
            """, [.integer(now), .integer(Int64(limit))], operation: "read due notify groups") { groups.append(group($0)) }
        return groups
    }

    /// When the earliest group is due; nil when none is.
    static func nextDue(_ c: any SQLConnection) throws(DatabaseError) -> Int64? {
        guard case .integer(let at)? = try c.scalar("SELECT min(next_flush_ms) FROM notify_groups WHERE next_flush_ms IS NOT NULL",
                                                     operation: "read next notify time") else { return nil }
        return at
    }

    /// Sets the group's next look to `at`, and nothing else: a put-off flush is not a flush
    /// (`group_interval` still counts from the last real one).
    static func postpone(_ c: any SQLConnection, _ g: Group, to at: Int64) throws(DatabaseError) {
        try c.run("UPDATE notify_groups SET next_flush_ms = ? WHERE destination = ? AND group_key = ?",
                  [.integer(at), .text(g.destination), .text(g.key)], operation: "postpone notify group")
    }

    /// Records a flush: when it happened, whether it notified, and the next look.
    static func recordFlush(_ c: any SQLConnection, _ g: Group, now: Int64, notified: Bool, stormEnded: Bool, next: Int64?) throws(DatabaseError) {
        try c.run("""
            UPDATE notify_groups SET last_flush_ms = ?, last_notified_ms = ?, notifications = ?, storm_ended = ?, next_flush_ms = ?
            WHERE destination = ? AND group_key = ?
            """, [.integer(now), .integer(notified ? now : g.lastNotifiedMillis), .integer(Int64(g.notifications + (notified ? 1 : 0))),
                  .integer(stormEnded ? 1 : 0), next.map { .integer($0) } ?? .null, .text(g.destination), .text(g.key)],
            operation: "record notify flush")
    }

    /// Removes a group that ended, with its members.
    static func delete(_ c: any SQLConnection, destination: String, key: String) throws(DatabaseError) {
        try c.run("DELETE FROM notify_members WHERE destination = ? AND group_key = ?", [.text(destination), .text(key)], operation: "delete notify members")
        try c.run("DELETE FROM notify_groups WHERE destination = ? AND group_key = ?", [.text(destination), .text(key)], operation: "delete notify group")
    }

    static func members(_ c: any SQLConnection, destination: String, key: String) throws(DatabaseError) -> [Member] {
        var members: [Member] = []
        try c.query("""
            SELECT fingerprint, status, starts_at_ms, seen_ms, payload, notified FROM notify_members
            WHERE destination = ? AND group_key = ? ORDER BY seen_ms, fingerprint
            """, [.text(destination), .text(key)], operation: "read notify members") { row in
            members.append(Member(fingerprint: row.text(0) ?? "", status: IssueStatus(rawValue: row.text(1) ?? "") ?? .firing,
                                  startsAtMillis: row.int(2), seenMillis: row.int(3), payload: row.blob(4) ?? [],
                                  notified: row.text(5).flatMap(IssueStatus.init(rawValue:))))
        }
        return members
    }

    /// The member's status and start as stored, or nil when it is not a member.
    static func member(_ c: any SQLConnection, destination: String, key: String, fingerprint: String) throws(DatabaseError) -> (status: IssueStatus, startsAtMillis: Int64)? {
        var found: (IssueStatus, Int64)?
        try c.query("SELECT status, starts_at_ms FROM notify_members WHERE destination = ? AND group_key = ? AND fingerprint = ?",
                    [.text(destination), .text(key), .text(fingerprint)], operation: "read notify member") { row in
            found = (IssueStatus(rawValue: row.text(0) ?? "") ?? .firing, row.int(1))
        }
        return found
    }

    static func insertMember(_ c: any SQLConnection, destination: String, key: String, issue: Issue, startsAtMillis: Int64, payload: [UInt8], now: Int64) throws(DatabaseError) {
        try c.run("""
            INSERT INTO notify_members (destination, group_key, fingerprint, status, starts_at_ms, seen_ms, payload)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.text(destination), .text(key), .text(issue.fingerprint), .text(issue.status.rawValue), .integer(startsAtMillis),
                  .integer(now), .blob(payload)], operation: "add notify member")
    }

    /// A new occurrence of a member (a new start) counts as never notified.
    static func updateMember(_ c: any SQLConnection, destination: String, key: String, issue: Issue, startsAtMillis: Int64, payload: [UInt8], newOccurrence: Bool, now: Int64) throws(DatabaseError) {
        try c.run("""
            UPDATE notify_members SET status = ?, starts_at_ms = ?, payload = ?\(newOccurrence ? ", notified = NULL, seen_ms = ?" : "")
            WHERE destination = ? AND group_key = ? AND fingerprint = ?
            """, [.text(issue.status.rawValue), .integer(startsAtMillis), .blob(payload)] + (newOccurrence ? [.integer(now)] : [])
                + [.text(destination), .text(key), .text(issue.fingerprint)], operation: "update notify member")
    }

    static func markNotified(_ c: any SQLConnection, destination: String, key: String, fingerprint: String, status: IssueStatus) throws(DatabaseError) {
        try c.run("UPDATE notify_members SET notified = ? WHERE destination = ? AND group_key = ? AND fingerprint = ?",
                  [.text(status.rawValue), .text(destination), .text(key), .text(fingerprint)], operation: "mark member notified")
    }

    static func deleteMember(_ c: any SQLConnection, destination: String, key: String, fingerprint: String) throws(DatabaseError) {
        try c.run("DELETE FROM notify_members WHERE destination = ? AND group_key = ? AND fingerprint = ?",
                  [.text(destination), .text(key), .text(fingerprint)], operation: "drop notify member")
    }
}
