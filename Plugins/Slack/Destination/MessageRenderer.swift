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
    /// The notification and accessibility text (≤ 4000 characters).
    var fallback: String
    /// The attachment colour bar.
    var color: String
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
    func render(_ issue: Issue, now: Date) -> RenderedIssue {
        var lead: [SlackBlock] = []
        lead.append(BlockKit.header("\(Self.emoji(issue.severity, issue.status)) \(Self.statusLine(issue)) — \(issue.title)"))
        lead.append(BlockKit.context(contextItems(issue)))
        if issue.status == .resolved {
            let end = issue.endsAt ?? now
            lead.append(BlockKit.fields([
                "*Started*\n\(Self.slackDate(issue.startsAt))",
                "*Resolved*\n\(Self.slackDate(end))",
                "*Duration*\n\(Self.duration(from: issue.startsAt, to: end))",
            ]))
        }
        var files: [FileUpload] = []
        if let description = issue.description, !description.isEmpty {
            lead += markdownBlocks(description, fileName: "description.md", title: "Description", files: &files)
        }
        if !issue.links.isEmpty { lead += BlockKit.buttons(issue.links) }

        var body: [SlackBlock] = []
        for (index, enrichment) in issue.enrichments.enumerated() {
            let title = enrichment.title ?? enrichment.type
            body.append(BlockKit.section("*\(Mrkdwn.escape(title))*"))
            for (blockIndex, block) in enrichment.blocks.enumerated() {
                let base = Self.fileBase(title, index: index, block: blockIndex)
                body += render(block, base: base, title: title, files: &files)
            }
        }
        return RenderedIssue(lead: lead, body: body, files: files, fallback: fallback(issue), color: Self.color(issue.severity, issue.status))
    }

    /// The `text` field: what notifications and screen readers show.
    func fallback(_ issue: Issue) -> String {
        var where_: [String] = []
        if let cluster = issue.cluster { where_.append(cluster) }
        if let namespace = issue.subject.namespace { where_.append(namespace) }
        if let kind = issue.subject.kind, let name = issue.subject.name { where_.append("\(kind) \(name)") }
        let suffix = where_.isEmpty ? "" : " (\(where_.joined(separator: " / ")))"
        let text = Mrkdwn.escape("\(Self.statusLine(issue)): \(issue.title)\(suffix)")
        return SlackLimits.truncate(text, to: SlackLimits.fallbackText)
    }

    func contextItems(_ issue: Issue) -> [String] {
        var items: [String] = []
        func add(_ label: String, _ value: String?) {
            guard let value, !value.isEmpty else { return }
            items.append("*\(label):* \(Mrkdwn.escape(value))")
        }
        add("Cluster", issue.cluster)
        add("Namespace", issue.subject.namespace)
        if let name = issue.subject.name { add(issue.subject.kind ?? "Subject", name) } else { add("Kind", issue.subject.kind) }
        add("Container", issue.subject.container)
        add("Node", issue.subject.node)
        add("Source", issue.source.rawValue)
        items.append("*Started:* \(Self.slackDate(issue.startsAt))")
        return items
    }

    static func fileBase(_ title: String, index: Int, block: Int) -> String {
        let slug = title.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        let trimmed = String(slug).split(separator: "-").joined(separator: "-")
        return (trimmed.isEmpty ? "enrichment" : String(trimmed.prefix(40))) + "-\(index + 1)-\(block + 1)"
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
