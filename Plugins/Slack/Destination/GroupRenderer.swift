#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// A grouped Issue rendered for Slack: one root message that is edited in place for the
/// group's whole life, and what goes into its thread.
struct RenderedGroup: Sendable, Equatable {
    /// The root's blocks in `message.lead` (always one message, by construction), its
    /// fallback text and colour; `message.files` lists every file of this notification.
    var message: RenderedIssue
    /// One entry per member whose enrichments came with this notification: a thread reply
    /// (or several, when long) under a heading naming the member.
    var details: [MemberDetails]
    /// Files from the members' enrichments (logs too long to show, file blocks).
    var detailFiles: [FileUpload]
    /// Every member as CSV, when the table could not show them all; nil otherwise.
    var memberList: FileUpload?
    /// Whether a later notification uploads ``memberList`` again: when members the last
    /// list lacks may be hidden (new members), and for the storm's closing summary.
    var listOnUpdate: Bool
    /// The thread note of a later notification: what changed since the previous one.
    var note: String

    /// One member's enrichments as thread blocks.
    struct MemberDetails: Sendable, Equatable {
        /// The member as the note and the reply's fallback name it.
        var who: String
        var blocks: [SlackBlock]
    }
}

/// Turns an Issue of type `group` into Block Kit. Pure, like ``MessageRenderer``: the same
/// Issue renders the same blocks, so a retried delivery resumes its plan where it stopped.
///
/// The root holds what a reader needs at a glance: the summary as header, the counts, and a
/// members table capped to what one Slack message holds. Nothing is lost to the cap: the
/// root says how many are not shown, and the full list goes into the thread as a CSV file.
struct GroupRenderer: Sendable {
    let renderer = MessageRenderer()

    /// Names listed per kind of change in a thread note ("➕ 3 joined: a, b, c"); the
    /// rest are counted. The note is a notification, not the list: the table and the
    /// file are.
    static let noteNames = 5
    /// Longest member name in a note, and longest member cell in the table: long pod
    /// names and titles must not crowd the others out of the message's text budget.
    static let nameLimit = 80
    static let memberCellLimit = 120
    /// Text the members table may carry: half a message, as for any table
    /// (``MessageRenderer/tableBlocks``), leaving the rest to header, counts and links.
    static let tableBudget = SlackLimits.messageTextBudget / 2
    /// Group-wide links shown as buttons under the table; each member's own link is in
    /// its row.
    static let linkButtons = 5

    /// Renders `issue`, whose ``Issue/group`` is `group`. `stormClosing` is true when this
    /// notification is the first to say the storm ended (the closing summary).
    func render(_ issue: Issue, _ group: IssueGroup, now: Date, notices: [String], stormClosing: Bool) -> RenderedGroup {
        let members = group.members
        var root: [SlackBlock] = []
        root.append(BlockKit.header("\(MessageRenderer.emoji(issue.severity, issue.status)) \(MessageRenderer.statusLine(issue)) — \(Self.headline(issue))"))
        if !notices.isEmpty { root.append(BlockKit.context(items: notices.map { .plain("⚠️ " + $0) })) }
        root.append(BlockKit.context(items: contextItems(issue, group, now: now)))
        if group.kind == .storm {
            if group.stormEnded == true {
                root.append(BlockKit.section("🌤 *The storm is over.* \(members.count) Issue\(members.count == 1 ? "" : "s") in total: \(group.firing) still firing, \(group.resolved) resolved."))
            } else {
                root.append(BlockKit.context(["🌪 Storm summary: similar Issues are folded into this message until the burst ends."]))
            }
        }
        let links = Array(AlertmanagerLink.rewrite(issue.links, labels: issue.subject.labels).prefix(Self.linkButtons))
        let buttons = links.isEmpty ? [] : BlockKit.buttons(links)

        // The table gets what the other blocks leave, up to its own budget; a reserve
        // keeps room for the "and K more" line.
        let used = (root + buttons).reduce(0) { $0 + $1.weight }
        let budget = min(Self.tableBudget, SlackLimits.messageTextBudget - used - 400)
        let (table, shown) = membersTable(members, budget: budget)
        root.append(table)

        var memberList: FileUpload?
        if shown < members.count {
            var namer = MessageRenderer.FileNamer(parts: [issue.aggregationKey, issue.subject.namespace ?? ""])
            let name = namer.base("members") + ".csv"
            let hidden = members.count - shown
            memberList = FileUpload(name: name, title: "All \(members.count) members", bytes: Array(Self.csv(members).utf8))
            root.append(BlockKit.context(["… and \(hidden) more not shown here; the full list of \(members.count) is attached in the thread as *\(Mrkdwn.escape(name))*"]))
        }
        root += buttons

        var detailFiles: [FileUpload] = []
        var details: [RenderedGroup.MemberDetails] = []
        for member in members {
            guard let enrichments = member.enrichments, !enrichments.isEmpty else { continue }
            let who = Self.who(member)
            var heading = BlockKit.section("🧩 *\(Mrkdwn.escape(who))* — \(Mrkdwn.escape(SlackLimits.prefix(member.title, utf16Limit: 200)))")
            heading.keepWithNext = true
            var names = MessageRenderer.FileNamer(parts: [member.title, member.subject.name ?? ""])
            let blocks = renderer.enrichmentBlocks(enrichments, names: &names, files: &detailFiles)
            details.append(.init(who: who, blocks: [heading] + blocks))
        }

        let fallback = renderer.fallback(issue)
        let message = RenderedIssue(
            lead: root, body: details.flatMap(\.blocks), files: (memberList.map { [$0] } ?? []) + detailFiles,
            fallback: fallback, subjectLine: renderer.subjectLine(issue), color: MessageRenderer.color(issue.severity, issue.status))
        let shownFingerprints = Set(members.prefix(shown).map(\.fingerprint))
        let joinedHidden = group.joined.contains { !shownFingerprints.contains($0) }
        return RenderedGroup(
            message: message, details: details, detailFiles: detailFiles, memberList: memberList,
            listOnUpdate: memberList != nil && (!group.joined.isEmpty || joinedHidden || stormClosing),
            note: note(issue, group, now: now, stormClosing: stormClosing))
    }

    /// The title for the header: a resolved group's status already says "Resolved".
    static func headline(_ issue: Issue) -> String {
        guard issue.status == .resolved, issue.title.hasPrefix("Resolved: ") else { return issue.title }
        return String(issue.title.dropFirst("Resolved: ".count))
    }

    /// Counts first (what changed is the point of a group), then where and since when.
    func contextItems(_ issue: Issue, _ group: IssueGroup, now: Date) -> [BlockKit.ContextItem] {
        var items: [BlockKit.ContextItem] = [.mrkdwn("🔥 *\(group.firing) firing* · ✅ *\(group.resolved) resolved*")]
        func add(_ label: String, _ value: String?) {
            guard let value, !value.isEmpty else { return }
            let capped = BoundedEcho.cap(value, limit: 200)
            items.append(Mrkdwn.isInert(capped) ? .mrkdwn("*\(label):* \(Mrkdwn.escape(capped))") : .plain("\(label): \(capped)"))
        }
        add("Cluster", issue.cluster)
        add("Namespace", issue.subject.namespace)
        let labels = group.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        add("Grouped by", labels)
        if issue.status == .resolved {
            let end = issue.endsAt ?? now
            items.append(.mrkdwn("*Resolved:* \(MessageRenderer.slackDate(end)) after \(MessageRenderer.duration(from: issue.startsAt, to: end))"))
        } else {
            items.append(.mrkdwn("*Started:* \(MessageRenderer.slackDate(issue.startsAt))"))
        }
        return items
    }

    /// The members as a native table (status, member, since, link), as many rows as fit in
    /// Slack's row limit and `budget`; returns it and how many members it shows.
    func membersTable(_ members: [IssueGroupMember], budget: Int) -> (SlackBlock, Int) {
        typealias Cell = BlockKit.TableCell
        var rows: [[Cell]] = [[.text("Status"), .text("Member"), .text("Since"), .text("Link")]]
        var weight = rows[0].reduce(0) { $0 + $1.weight }
        var shown = 0
        for member in members {
            guard rows.count < SlackLimits.tableRows else { break }
            let row = Self.row(member)
            let w = row.reduce(0) { $0 + $1.weight }
            guard weight + w <= budget else { break }
            rows.append(row)
            weight += w
            shown += 1
        }
        // Slack wants a row under the header; the "and K more" line counts the rest.
        if shown == 0 { rows.append([.text("-"), .text(members.isEmpty ? "no members" : "see the full list"), .text("-"), .text("-")]) }
        return (BlockKit.table(rows), shown)
    }

    static func row(_ member: IssueGroupMember) -> [BlockKit.TableCell] {
        let status = member.status == .firing ? "🔥 firing" : "✅ resolved"
        var text = member.title
        let who = Self.who(member)
        if who != member.title, member.subject.name.map({ !member.title.contains($0) }) ?? false { text += " · " + who }
        let link: BlockKit.TableCell
        if let first = AlertmanagerLink.rewrite(member.links, labels: member.subject.labels).first(where: { $0.url.hasPrefix("https://") || $0.url.hasPrefix("http://") }),
           let url = Mrkdwn.shortened(first.url, limit: SlackLimits.buttonURL) {
            link = .link(url: url, label: SlackLimits.prefix(first.title.isEmpty ? "Open" : first.title, utf16Limit: 40))
        } else {
            link = .text("-")
        }
        return [.text(status), .text(SlackLimits.prefix(text, utf16Limit: memberCellLimit)), .text(shortDate(member.startsAt)), link]
    }

    /// How a member is named in notes and headings: `namespace/name` when it has a
    /// subject name (the title is often the same for every member), else its title.
    static func who(_ member: IssueGroupMember) -> String {
        let name: String
        if let subject = member.subject.name, !subject.isEmpty {
            name = [member.subject.namespace, subject].compactMap { $0 }.joined(separator: "/")
        } else {
            name = member.title
        }
        return SlackLimits.length(name) > nameLimit ? SlackLimits.prefix(name, utf16Limit: nameLimit - 1) + "…" : name
    }

    /// "2027-01-15 08:03 UTC": table cells are raw text, so Slack's `<!date>` would show
    /// as typed.
    static func shortDate(_ date: Date) -> String {
        let text = RFC3339.format(date)
        return String(text.prefix(16)).replacing("T", with: " ") + " UTC"
    }

    /// Every member, RFC 4180 CSV: what a reader filters and sorts when the table is capped.
    static func csv(_ members: [IssueGroupMember]) -> String {
        let headers = ["status", "title", "severity", "namespace", "kind", "name", "started", "resolved", "link", "fingerprint"]
        let rows = members.map { m -> [String] in
            [m.status.rawValue, m.title, m.severity.rawValue, m.subject.namespace ?? "", m.subject.kind ?? "", m.subject.name ?? "",
             RFC3339.format(m.startsAt), m.endsAt.map(RFC3339.format) ?? "", m.links.first?.url ?? "", m.fingerprint]
        }
        return MessageRenderer.csv(headers: headers, rows: rows)
    }

    /// One short line saying what changed: joined and resolved members (first few named),
    /// a repeat, the end of the group or of the storm.
    func note(_ issue: Issue, _ group: IssueGroup, now: Date, stormClosing: Bool) -> String {
        let byFingerprint = Dictionary(group.members.map { ($0.fingerprint, $0) }, uniquingKeysWith: { a, _ in a })
        func names(_ fingerprints: [String]) -> String {
            let listed = fingerprints.prefix(Self.noteNames).map { fp in Mrkdwn.escape(byFingerprint[fp].map(Self.who) ?? String(fp.prefix(12))) }
            let more = fingerprints.count - listed.count
            return listed.joined(separator: ", ") + (more > 0 ? " … and \(more) more" : "")
        }
        var parts: [String] = []
        if !group.joined.isEmpty { parts.append("➕ \(group.joined.count) joined: \(names(group.joined))") }
        if !group.resolvedSince.isEmpty { parts.append("✅ \(group.resolvedSince.count) resolved: \(names(group.resolvedSince))") }
        if issue.status == .resolved {
            let end = issue.endsAt ?? now
            parts.append("✅ All \(group.members.count) resolved after \(MessageRenderer.duration(from: issue.startsAt, to: end))")
        } else if group.isRepeat && parts.isEmpty {
            parts.append("🔁 Still firing: \(group.firing) of \(group.members.count)")
        } else {
            parts.append("now 🔥 \(group.firing) firing · ✅ \(group.resolved) resolved")
        }
        if stormClosing {
            parts.append("🌤 Storm over: \(group.members.count) Issue\(group.members.count == 1 ? "" : "s") in total, \(group.firing) still firing, \(group.resolved) resolved")
        }
        return SlackLimits.truncate(parts.joined(separator: " · "), to: SlackLimits.sectionText)
    }
}
