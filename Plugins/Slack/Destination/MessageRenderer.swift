#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// A file to upload into a message's thread.
struct FileUpload: Sendable, Equatable {
    var name: String
    var title: String
    var bytes: [UInt8]
}

/// An Issue rendered for Slack, before it is split into messages.
struct RenderedIssue: Sendable, Equatable {
    /// Header, context, description and the Issue's links: always in the first message.
    var lead: [SlackBlock]
    /// Enrichment blocks, in order; they overflow into thread replies when needed.
    var body: [SlackBlock]
    /// Files to upload into the thread (file blocks, and tables/JSON too big to show inline).
    var files: [FileUpload]
    /// The notification and accessibility text (≤ 4000 characters) of the first message.
    var fallback: String
    /// What the fallback says after the status: the title and where (mrkdwn-escaped).
    var subjectLine: String
    /// The attachment colour bar.
    var color: String

    /// The `text` of a repeat firing posted into the thread. It must not read like the
    /// root's "Firing · HIGH: …", or every reminder notifies as a new alert.
    var repeatFallback: String {
        SlackLimits.truncate("Still firing: \(subjectLine)", to: SlackLimits.fallbackText)
    }

    /// The `text` of the thread reply that carries part `part` of `total` of this message.
    func continuationFallback(part: Int, of total: Int) -> String {
        SlackLimits.truncate("Continued (\(part)/\(total)): \(subjectLine)", to: SlackLimits.fallbackText)
    }
}

/// Turns an Issue into Block Kit. Pure: same Issue, same output, which is what lets a
/// retried delivery resume its plan where it stopped.
struct MessageRenderer: Sendable {
    /// Inline JSON and monospace tables longer than this go to a file instead.
    static let inlineCodeLimit = 2900
    /// Markdown longer than this (four sections' worth) is previewed and attached in full.
    static let inlineMarkdownLimit = 4 * 2900
    /// Rows of an oversized table shown inline before the full file.
    static let tablePreviewRows = 15
    /// Upload names are capped (before the extension) so a long alert name or pod name
    /// can't make an unwieldy one.
    static let fileNameLimit = 80
    /// Each part of an upload name (alert, subject, block) is capped on its own, so a long
    /// alert name can't crowd out the block's name.
    static let fileNamePartLimit = 40
    /// The enricher type whose tables already show the alert's labels.
    static let labelsEnrichmentType = "alert_labels"

    /// The colour bar: HIGH red, LOW orange, INFO blue, DEBUG grey; resolved green.
    static func color(_ severity: Severity, _ status: IssueStatus) -> String {
        if status == .resolved { return "#2EB67D" }
        switch severity {
        case .high: return "#E01E5A"
        case .low: return "#F2952F"
        case .info: return "#1D9BD1"
        case .debug: return "#9E9E9E"
        }
    }

    static func emoji(_ severity: Severity, _ status: IssueStatus) -> String {
        if status == .resolved { return "✅" }
        switch severity {
        case .high: return "🔴"
        case .low: return "🟠"
        case .info: return "🔵"
        case .debug: return "⚪"
        }
    }

    /// "Firing · HIGH" / "Resolved · HIGH".
    static func statusLine(_ issue: Issue) -> String {
        "\(issue.status == .resolved ? "Resolved" : "Firing") · \(issue.severity.rawValue)"
    }

    /// `<!date^…|fallback>`: Slack shows it in the reader's time zone.
    static func slackDate(_ date: Date) -> String {
        "<!date^\(Int64(date.timeIntervalSince1970))^{date_short_pretty} {time_secs}|\(RFC3339.format(date))>"
    }

    static func duration(from start: Date, to end: Date) -> String {
        let seconds = max(0, Int(end.timeIntervalSince(start)))
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m \(seconds % 60)s" }
        if seconds < 86_400 { return "\(seconds / 3600)h \(seconds / 60 % 60)m" }
        return "\(seconds / 86_400)d \(seconds / 3600 % 24)h"
    }

    /// Renders the whole Issue. `now` stands in for a resolved Issue without `endsAt`.
    /// `notices` are shown, as plain text, right under the header (a routing fallback).
    func render(_ issue: Issue, now: Date, notices: [String] = []) -> RenderedIssue {
        var lead: [SlackBlock] = []
        lead.append(BlockKit.header("\(Self.emoji(issue.severity, issue.status)) \(Self.statusLine(issue)) — \(issue.title)"))
        if !notices.isEmpty { lead.append(BlockKit.context(items: notices.map { .plain("⚠️ " + $0) })) }
        lead.append(BlockKit.context(items: contextItems(issue)))
        if issue.status == .resolved {
            let end = issue.endsAt ?? now
            lead.append(BlockKit.fields([
                "*Started*\n\(Self.slackDate(issue.startsAt))",
                "*Resolved*\n\(Self.slackDate(end))",
                "*Duration*\n\(Self.duration(from: issue.startsAt, to: end))",
            ]))
        }
        var files: [FileUpload] = []
        var names = FileNamer(issue)
        if let description = issue.description, !description.isEmpty {
            lead += markdownBlocks(description, fileName: names.base("description") + ".md", title: "Description", files: &files)
        }
        let links = AlertmanagerLink.rewrite(issue.links, labels: issue.subject.labels)
        if !links.isEmpty { lead += BlockKit.buttons(links) }

        var enrichments = issue.enrichments
        // A resolve replaces the firing message in place, and resolved Issues are usually
        // not enriched: without this the update would wipe the labels the reader saw.
        if issue.status == .resolved, !issue.subject.labels.isEmpty,
           !enrichments.contains(where: { $0.type == Self.labelsEnrichmentType }) {
            let rows = issue.subject.labels.sorted { $0.key < $1.key }.map { [$0.key, $0.value] }
            enrichments.insert(Enrichment(type: "labels", title: "Labels", blocks: [.table(Block.Table(headers: ["Label", "Value"], rows: rows))]), at: 0)
        }
        let body = enrichmentBlocks(enrichments, names: &names, files: &files)
        let subject = subjectLine(issue)
        return RenderedIssue(lead: lead, body: body, files: files, fallback: fallback(issue), subjectLine: subject, color: Self.color(issue.severity, issue.status))
    }

    /// Each enrichment as a bold heading and its blocks; what does not fit inline goes to
    /// `files`. Shared by single Issues (the message body) and groups (a member's
    /// enrichments in the thread), so both show an enrichment the same way.
    func enrichmentBlocks(_ enrichments: [Enrichment], names: inout FileNamer, files: inout [FileUpload]) -> [SlackBlock] {
        var body: [SlackBlock] = []
        for enrichment in enrichments {
            let title = enrichment.title ?? enrichment.type
            let heading = "*\(Mrkdwn.escape(title))*"
            var titleBlock = BlockKit.section(heading)
            titleBlock.keepWithNext = !enrichment.blocks.isEmpty
            body.append(titleBlock)
            let tables = enrichment.blocks.count { if case .table = $0 { true } else { false } }
            for block in enrichment.blocks {
                var blockName = title
                if case .table(let table) = block, tables > 1, let first = table.headers.first { blockName += "-" + first }
                for var rendered in render(block, base: names.base(blockName), title: title, files: &files) {
                    rendered.heading = heading
                    body.append(rendered)
                }
            }
        }
        return body
    }

    /// The `text` field: what notifications and screen readers show.
    func fallback(_ issue: Issue) -> String {
        SlackLimits.truncate("\(Self.statusLine(issue)): \(subjectLine(issue))", to: SlackLimits.fallbackText)
    }

    /// "title (cluster / namespace / Kind name)", escaped; a namespace subject is named once.
    func subjectLine(_ issue: Issue) -> String {
        var where_: [String] = []
        if let cluster = issue.cluster { where_.append(cluster) }
        if let namespace = issue.subject.namespace { where_.append(namespace) }
        if let kind = issue.subject.kind, let name = issue.subject.name, !Self.isNamespaceItself(issue.subject) {
            where_.append("\(kind) \(name)")
        }
        let suffix = where_.isEmpty ? "" : " (\(where_.joined(separator: " / ")))"
        return Mrkdwn.escape("\(issue.title)\(suffix)")
    }

    /// A subject that is the namespace it sits in (kind Namespace, name = namespace).
    static func isNamespaceItself(_ subject: Subject) -> Bool {
        subject.kind == "Namespace" && subject.name != nil && subject.name == subject.namespace
    }

    /// The context line. Values are data (label values): shown verbatim, so one with
    /// mrkdwn formatting characters goes out as plain text rather than turn into
    /// bold or strike. A resolved message shows the start time in its fields instead.
    func contextItems(_ issue: Issue) -> [BlockKit.ContextItem] {
        var items: [BlockKit.ContextItem] = []
        func add(_ label: String, _ value: String?) {
            guard let value, !value.isEmpty else { return }
            items.append(Mrkdwn.isInert(value) ? .mrkdwn("*\(label):* \(Mrkdwn.escape(value))") : .plain("\(label): \(value)"))
        }
        add("Cluster", issue.cluster)
        add("Namespace", issue.subject.namespace)
        if Self.isNamespaceItself(issue.subject) {
            // Already named by the Namespace item.
        } else if let name = issue.subject.name {
            add(issue.subject.kind ?? "Subject", name)
        } else {
            add("Kind", issue.subject.kind)
        }
        add("Container", issue.subject.container)
        add("Node", issue.subject.node)
        add("Source", issue.source.rawValue)
        if issue.status != .resolved { items.append(.mrkdwn("*Started:* \(Self.slackDate(issue.startsAt))")) }
        return items
    }

    /// Upload names a reader can recognise in the thread and in a download folder:
    /// `<alert>-<subject>-<block>.<ext>`, e.g. `kubepodoomkilled-worker-7f9-resources.csv`.
    /// Parts are lower-case ASCII letters, digits and `-` (safe on any file system), each
    /// capped, the whole capped at ``MessageRenderer/fileNameLimit``; a repeat gets `-2`, `-3`.
    struct FileNamer {
        let prefix: [String]
        var used: Set<String> = []

        init(_ issue: Issue) {
            self.init(parts: [issue.title, issue.subject.name ?? ""])
        }

        /// Names starting with `parts` (each slugged; empty ones left out).
        init(parts: [String]) {
            prefix = parts.map { FileNamer.slug($0) }.filter { !$0.isEmpty }
        }

        /// A fresh base name (no extension) for a block called `block`.
        mutating func base(_ block: String) -> String {
            var parts = prefix
            let blockSlug = Self.slug(block)
            parts.append(blockSlug.isEmpty ? "block" : blockSlug)
            var name = String(parts.joined(separator: "-").prefix(MessageRenderer.fileNameLimit))
            while name.hasSuffix("-") { name.removeLast() }
            var candidate = name
            var n = 2
            while used.contains(candidate) {
                candidate = "\(name)-\(n)"
                n += 1
            }
            used.insert(candidate)
            return candidate
        }

        static func slug(_ text: String) -> String {
            let mapped = text.lowercased().map { c -> Character in
                c.isASCII && (c.isLetter || c.isNumber) ? c : "-"
            }
            let joined = String(mapped).split(separator: "-").joined(separator: "-")
            var capped = String(joined.prefix(MessageRenderer.fileNamePartLimit))
            while capped.hasSuffix("-") { capped.removeLast() }
            return capped
        }
    }

    func render(_ block: Block, base: String, title: String, files: inout [FileUpload]) -> [SlackBlock] {
        switch block {
        case .markdown(let text):
            return markdownBlocks(text, fileName: base + ".md", title: title, files: &files)
        case .header(let text):
            return [BlockKit.header(text)]
        case .list(let items):
            return BlockKit.sections(items.map { "• " + Mrkdwn.escape($0) }.joined(separator: "\n"))
        case .divider:
            return [BlockKit.divider()]
        case .links(let links):
            return BlockKit.buttons(links)
        case .table(let table):
            return tableBlocks(table, base: base, title: title, files: &files)
        case .json(let value):
            let pretty = Self.prettyJSON(value)
            let code = "```\n" + Mrkdwn.escape(pretty) + "\n```"
            if SlackLimits.length(code) <= Self.inlineCodeLimit { return [BlockKit.section(code)] }
            files.append(FileUpload(name: base + ".json", title: title, bytes: Array(pretty.utf8)))
            let preview = SlackLimits.truncate(code, to: 1500)
            return [BlockKit.section(preview), attachedNote(base + ".json", bytes: pretty.utf8.count)]
        case .file(let file):
            guard let bytes = file.bytes else {
                return [BlockKit.context(["⚠️ File \(Mrkdwn.escape(file.name)) could not be attached: its content is not valid base64"])]
            }
            guard !bytes.isEmpty else {
                return [BlockKit.context(["📎 \(Mrkdwn.escape(file.name)) is empty; nothing to attach"])]
            }
            files.append(FileUpload(name: file.name, title: title, bytes: bytes))
            return [attachedNote(file.name, bytes: bytes.count)]
        }
    }

    func attachedNote(_ name: String, bytes: Int) -> SlackBlock {
        BlockKit.context(["📎 *\(Mrkdwn.escape(name))* (\(Self.size(bytes))) is attached in the thread"])
    }

    static func size(_ bytes: Int) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        if bytes < 1 << 20 { return "\((bytes + 512) / 1024) KiB" }
        let tenths = (bytes * 10 + (1 << 19)) >> 20
        return "\(tenths / 10).\(tenths % 10) MiB"
    }

    /// Short markdown → sections; long markdown → a preview plus the full text as a file.
    func markdownBlocks(_ markdown: String, fileName: String, title: String, files: inout [FileUpload]) -> [SlackBlock] {
        // Far past what fits inline only the preview is converted; the file keeps it all.
        let source = markdown.utf8.count > 4 * Self.inlineMarkdownLimit ? String(markdown.prefix(Self.inlineMarkdownLimit)) : markdown
        let converted = Mrkdwn.fromMarkdown(source)
        if source.count < markdown.count {
            files.append(FileUpload(name: fileName, title: title, bytes: Array(markdown.utf8)))
            return [BlockKit.section(SlackLimits.truncate(converted, to: SlackLimits.sectionText)), attachedNote(fileName, bytes: markdown.utf8.count)]
        }
        if SlackLimits.length(converted) <= Self.inlineMarkdownLimit { return BlockKit.sections(converted) }
        files.append(FileUpload(name: fileName, title: title, bytes: Array(markdown.utf8)))
        return [BlockKit.section(SlackLimits.truncate(converted, to: SlackLimits.sectionText)), attachedNote(fileName, bytes: markdown.utf8.count)]
    }

    /// A table block when it fits Slack's table, else monospace, else a CSV file with a preview.
    func tableBlocks(_ table: Block.Table, base: String, title: String, files: inout [FileUpload]) -> [SlackBlock] {
        let headers = table.headers.isEmpty ? (table.rows.first.map { Array(repeating: "", count: $0.count) } ?? []) : table.headers
        guard !headers.isEmpty else { return [BlockKit.context(["(empty table)"])] }
        let native = BlockKit.table(headers: headers, rows: table.rows)
        if table.rows.count + 1 <= SlackLimits.tableRows, headers.count <= SlackLimits.tableColumns,
           native.weight <= SlackLimits.messageTextBudget / 2 {
            return [native]
        }
        let mono = Self.monospace(headers: headers, rows: table.rows)
        if SlackLimits.length(mono) <= Self.inlineCodeLimit { return [BlockKit.section(mono)] }
        let csv = Self.csv(headers: headers, rows: table.rows)
        files.append(FileUpload(name: base + ".csv", title: title, bytes: Array(csv.utf8)))
        let preview = Self.monospace(headers: headers, rows: Array(table.rows.prefix(Self.tablePreviewRows)))
        return [
            BlockKit.section(SlackLimits.truncate(preview, to: Self.inlineCodeLimit)),
            BlockKit.context(["Showing \(min(Self.tablePreviewRows, table.rows.count)) of \(table.rows.count) rows; the full table (\(headers.count) columns) is attached in the thread as *\(Mrkdwn.escape(base)).csv*"]),
        ]
    }

    /// Columns padded to equal width inside a code fence.
    static func monospace(headers: [String], rows: [[String]]) -> String {
        let all = [headers] + rows
        let columns = all.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: columns)
        for row in all { for (i, cell) in row.enumerated() { widths[i] = min(60, max(widths[i], cell.count)) } }
        func line(_ row: [String]) -> String {
            row.enumerated().map { i, cell in
                let clipped = cell.count > 60 ? String(cell.prefix(59)) + "…" : cell
                return clipped + String(repeating: " ", count: max(0, widths[i] - clipped.count))
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        var lines = [line(headers), widths.map { String(repeating: "-", count: max(1, $0)) }.joined(separator: "  ")]
        lines += rows.map(line)
        return "```\n" + Mrkdwn.escape(lines.joined(separator: "\n")) + "\n```"
    }

    /// RFC 4180 CSV.
    static func csv(headers: [String], rows: [[String]]) -> String {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacing("\"", with: "\"\"") + "\"" : s
        }
        return ([headers] + rows).map { $0.map(field).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    static func prettyJSON(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
