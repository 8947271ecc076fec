#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// Builds the grouped Issue (type `group`) for one notification of a notify group: a
/// summary title, the members, and a `group_members` table so that a destination which
/// renders any Issue already shows the whole group.
enum GroupNotification {
    /// Members whose own enrichments ride along (those that joined in this notification,
    /// first ones only): a storm of 500 would otherwise carry 500 log excerpts.
    static let membersWithEnrichments = 3
    /// The `type` of the members table enrichment.
    static let membersEnrichmentType = "group_members"

    /// One member as the dispatcher holds it.
    struct Member {
        var issue: Issue
        var seenMillis: Int64
    }

    /// The grouped Issue. `members` are those listed (firing and notified-resolved ones).
    static func build(
        key: String, kind: IssueGroup.Kind, labels: [String: String], fingerprint: String, startsAt: Date,
        members: [Member], joined: [String], resolvedSince: [String], isRepeat: Bool, stormEnded: Bool?, now: Date
    ) -> Issue {
        // Firing first, newest first; then the resolved ones, most recently ended first.
        let ordered = members.sorted { a, b in
            if a.issue.status != b.issue.status { return a.issue.status == .firing }
            if a.issue.status == .firing { return a.seenMillis != b.seenMillis ? a.seenMillis > b.seenMillis : a.issue.fingerprint < b.issue.fingerprint }
            return (a.issue.endsAt ?? now) > (b.issue.endsAt ?? now)
        }
        let joinedSet = Set(joined)
        var enriched = 0
        let groupMembers = ordered.map { m -> IssueGroupMember in
            let carry = joinedSet.contains(m.issue.fingerprint) && enriched < membersWithEnrichments && !m.issue.enrichments.isEmpty
            if carry { enriched += 1 }
            return IssueGroupMember(m.issue, withEnrichments: carry)
        }
        let group = IssueGroup(key: key, kind: kind, labels: labels, members: groupMembers, joined: joined,
                               resolvedSince: resolvedSince, isRepeat: isRepeat, stormEnded: stormEnded)
        let issues = ordered.map(\.issue)
        let firing = issues.filter { $0.status == .firing }
        let status: IssueStatus = firing.isEmpty ? .resolved : .firing
        let severityPool = firing.isEmpty ? issues : firing
        let first = issues.first
        let namespace = common(issues.map(\.subject.namespace)) ?? nil
        let reason = common(issues.map(\.aggregationKey))
        var subject = Subject(namespace: namespace, labels: labels)
        subject.kind = common(issues.map(\.subject.kind)) ?? nil
        return Issue(
            type: .group,
            source: common(issues.map(\.source)) ?? first?.source ?? .kubernetes,
            severity: severityPool.map(\.severity).max() ?? .info,
            status: status,
            title: title(kind: kind, firing: firing.count, total: issues.count, issues: issues, reason: reason, namespace: namespace, stormEnded: stormEnded),
            description: description(group),
            aggregationKey: reason ?? first?.aggregationKey ?? "group",
            fingerprint: fingerprint,
            subject: subject,
            cluster: common(issues.map(\.cluster)) ?? nil,
            startsAt: startsAt,
            endsAt: status == .resolved ? issues.compactMap(\.endsAt).max() ?? now : nil,
            links: commonLinks(issues),
            enrichments: [membersTable(ordered.map(\.issue), now: now)],
            group: group)
    }

    /// "12 pods CrashLoopBackOff in payments", "3 alerts KubeJobFailed", "Storm: 480
    /// Issues BackOff in payments", "Resolved: 12 pods CrashLoopBackOff in payments".
    static func title(kind: IssueGroup.Kind, firing: Int, total: Int, issues: [Issue], reason: String?, namespace: String?, stormEnded: Bool?) -> String {
        let count = firing > 0 ? firing : total
        var noun: String
        if let k = common(issues.map(\.subject.kind)) ?? nil {
            noun = k.lowercased()
            noun += count == 1 ? "" : (noun.hasSuffix("s") ? "es" : "s")
        } else if issues.allSatisfy({ $0.type == .alert }) {
            noun = count == 1 ? "alert" : "alerts"
        } else {
            noun = count == 1 ? "Issue" : "Issues"
        }
        var text = "\(count) \(noun)"
        if let reason, !reason.isEmpty { text += " " + reason }
        if let namespace, !namespace.isEmpty { text += " in " + namespace }
        if firing == 0 { text = "Resolved: " + text }
        if kind == .storm { text = (stormEnded == true ? "Storm over: " : "Storm: ") + text }
        return text
    }

    /// One line of counts and what changed.
    static func description(_ group: IssueGroup) -> String {
        var parts = ["\(group.firing) firing", "\(group.resolved) resolved"]
        if !group.joined.isEmpty { parts.append("\(group.joined.count) new") }
        if !group.resolvedSince.isEmpty { parts.append("\(group.resolvedSince.count) resolved since the last update") }
        if group.isRepeat { parts.append("still firing (repeat)") }
        return parts.joined(separator: " · ")
    }

    /// The members as a table: status, what, since.
    static func membersTable(_ issues: [Issue], now: Date) -> Enrichment {
        let rows = issues.map { issue -> [String] in
            let what = [issue.subject.namespace, issue.subject.name].compactMap { $0 }.joined(separator: "/")
            return [issue.status == .firing ? "firing" : "resolved", issue.title, what.isEmpty ? "-" : what, RFC3339.format(issue.startsAt)]
        }
        return Enrichment(type: membersEnrichmentType, title: "Members (\(issues.count))",
                          blocks: [.table(Block.Table(headers: ["Status", "Issue", "Subject", "Since"], rows: rows))])
    }

    /// The value every element shares, or nil.
    static func common<T: Equatable>(_ values: [T]) -> T? {
        guard let first = values.first, values.allSatisfy({ $0 == first }) else { return nil }
        return first
    }

    /// Links every member has (the same Alertmanager, the same runbook).
    static func commonLinks(_ issues: [Issue]) -> [Link] {
        guard let first = issues.first else { return [] }
        return first.links.filter { link in issues.allSatisfy { $0.links.contains(link) } }
    }
}
