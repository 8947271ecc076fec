#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// One Teams webhook request body, ready to send.
public struct TeamsMessage: Sendable, Equatable {
    /// The compact JSON envelope (`type: message`, one Adaptive Card attachment), at most
    /// ``TeamsCardBuilder/budgetBytes`` bytes.
    public var body: [UInt8]
    /// What was cut to fit, in words ("rows of table \"Resources\""); empty when nothing was.
    public var trimmed: [String]
}

/// Builds the Adaptive Card message for an Issue. Pure: no I/O, no clock.
///
/// | Issue | card |
/// | --- | --- |
/// | `severity` (firing) | the header Container's `style` and the title's `color`: HIGH attention (red), LOW warning (amber), INFO accent (blue), DEBUG default |
/// | `status` resolved | a short "good" (green) card naming the original: title, when it fired, when its card was posted |
/// | `title`, `description` | a large bold TextBlock, then a wrapped TextBlock |
/// | `cluster`, `subject`, `source`, `startsAt`, `aggregationKey` | a FactSet |
/// | `subject.labels` | a second FactSet, "Labels" |
/// | enrichment `markdown`/`header`/`list` | TextBlocks (Teams renders a markdown subset) |
/// | enrichment `table` | one ColumnSet per row (header row bold): Adaptive Card `Table` needs 1.5, and Workflows take at most 1.4 (destinations.md §2.2) |
/// | enrichment `file` (text: logs), `json` | a TextBlock with `fontType: Monospace` |
/// | `links`, enrichment `links` | `Action.OpenUrl`, at most ``maxActions``; the rest as a markdown line |
///
/// The message is kept under Teams' ≈28 KB limit (destinations.md §2.3): tables lose rows
/// and long texts (logs first, as they are the largest) are cut by UTF-8 bytes, then labels
/// and the description go; the card then says what was trimmed.
public enum TeamsCardBuilder {
    /// The card `version`: Workflows reject cards above 1.4 (destinations.md §2.2).
    public static let cardVersion = "1.4"
    /// The Adaptive Card attachment's `contentType`.
    public static let adaptiveContentType = "application/vnd.microsoft.card.adaptive"
    /// Teams' documented message limit, ≈28 KB (28 × 1024 bytes); larger requests get 413.
    public static let maxMessageBytes = 28_672
    /// What this builder aims for: 1 KB under the limit, because the limit is approximate
    /// ("including all elements") and one report found it lower in practice.
    public static let budgetBytes = 27_648
    /// Buttons shown on the card. Teams renders at most 6 actions in a card's action set
    /// (its host config's `maxActions`); more are dropped silently, so the rest become a
    /// markdown line instead.
    public static let maxActions = 6
    /// Longest title, in Unicode scalars: a header line, not a paragraph.
    public static let maxTitleScalars = 400

    /// The message for `issue`.
    /// - Parameter postedAt: for a resolve, when the firing card was posted (from the
    ///   delivery reference), to name it on the resolved card.
    /// - Throws: ``PluginError`` when even a card without labels, description and
    ///   enrichments exceeds the budget (an absurdly long title or subject).
    public static func build(_ issue: Issue, postedAt: Date? = nil) throws(PluginError) -> TeamsMessage {
        let parts = issue.status == .resolved ? resolvedParts(issue, postedAt: postedAt) : firingParts(issue)
        return try fit(parts)
    }

    // MARK: - Content

    /// A card's content before rendering, in the units trimming works on.
    struct Parts {
        var style: String
        var title: String
        var subtitle: String
        var description: String?
        var facts: [(String, String)]
        var labels: [(String, String)] = []
        var sections: [Section] = []
        var links: [Link] = []
        var trimmed: [String] = []
    }

    /// One enrichment: a heading and its items.
    struct Section {
        var title: String
        var items: [Item]
    }

    enum Item {
        case text(String, Style)
        case table(headers: [String], rows: [[String]], total: Int)
        case separator
    }

    enum Style { case plain, bold, monospace }

    static func firingParts(_ issue: Issue) -> Parts {
        let (style, emoji) = severityStyle(issue.severity)
        var subtitle = "\(emoji) Firing · \(issue.severity.rawValue)"
        if let cluster = nonBlank(issue.cluster) { subtitle += " · \(cluster)" }
        var parts = Parts(style: style, title: title(issue.title), subtitle: subtitle, description: nonBlank(issue.description), facts: facts(issue))
        parts.labels = issue.subject.labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        parts.sections = issue.enrichments.map(section(of:)).filter { !$0.items.isEmpty }
        parts.links = links(issue)
        return parts
    }

    static func resolvedParts(_ issue: Issue, postedAt: Date?) -> Parts {
        var subtitle = "✅ Resolved · was \(issue.severity.rawValue)"
        if let cluster = nonBlank(issue.cluster) { subtitle += " · \(cluster)" }
        // Webhooks return no message id, so the firing card cannot be edited or linked
        // (destinations.md §2.4): name it by title and time instead.
        var original = "Resolves **\(escapeMarkdown(title(issue.title)))**, which fired at \(time(issue.startsAt))"
        if let postedAt { original += " (its card was posted at \(time(postedAt)))" }
        original += "."
        var shown: [(String, String)] = [("Fired", time(issue.startsAt))]
        if let endsAt = issue.endsAt {
            shown.append(("Resolved", time(endsAt)))
            shown.append(("Duration", duration(from: issue.startsAt, to: endsAt)))
        }
        shown += facts(issue).filter { ["Cluster", "Namespace", "Subject"].contains($0.0) }
        var parts = Parts(style: "good", title: "Resolved: " + title(issue.title), subtitle: subtitle, description: original, facts: shown)
        parts.links = links(issue)
        return parts
    }

    /// Container style and emoji per severity. Emoji make the level visible where Teams
    /// shows only text (notifications, the activity feed).
    static func severityStyle(_ severity: Severity) -> (style: String, emoji: String) {
        switch severity {
        case .high: ("attention", "🔴")
        case .low: ("warning", "🟠")
        case .info: ("accent", "🔵")
        case .debug: ("default", "⚪")
        }
    }

    static func title(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return Truncation.truncate(nonBlank(line) ?? "(untitled Issue)", to: maxTitleScalars, in: .unicodeScalars)
    }

    static func facts(_ issue: Issue) -> [(String, String)] {
        var facts: [(String, String)] = [("Status", issue.status.rawValue), ("Severity", issue.severity.rawValue)]
        if let cluster = nonBlank(issue.cluster) { facts.append(("Cluster", cluster)) }
        if let namespace = nonBlank(issue.subject.namespace) { facts.append(("Namespace", namespace)) }
        if let name = nonBlank(issue.subject.name) {
            facts.append(("Subject", [nonBlank(issue.subject.kind), name].compactMap { $0 }.joined(separator: " ")))
        }
        if let container = nonBlank(issue.subject.container) { facts.append(("Container", container)) }
        if let node = nonBlank(issue.subject.node) { facts.append(("Node", node)) }
        if issue.aggregationKey != issue.title, let key = nonBlank(issue.aggregationKey) { facts.append(("Alert", key)) }
        facts.append(("Source", "\(issue.source.rawValue) \(issue.type.rawValue)"))
        facts.append(("Started", time(issue.startsAt)))
        return facts
    }

    static func section(of enrichment: Enrichment) -> Section {
        var items: [Item] = []
        for block in enrichment.blocks {
            switch block {
            case .markdown(let text): items.append(.text(text, .plain))
            case .header(let text): items.append(.text(text, .bold))
            case .list(let entries): items.append(.text(entries.map { "- " + $0 }.joined(separator: "\n"), .plain))
            case .table(let table): items.append(.table(headers: table.headers, rows: table.rows, total: table.rows.count))
            case .json(let value): items.append(.text(String(decoding: (try? IssueCoding.encode(value)) ?? [], as: UTF8.self), .monospace))
            case .divider: items.append(.separator)
            case .links: break  // become actions (see links(_:))
            case .file(let file): items.append(fileItem(file))
            }
        }
        return Section(title: nonBlank(enrichment.title) ?? enrichment.type, items: items)
    }

    /// Text files (logs, manifests) in monospace; other files by name only, as a card
    /// cannot carry an attachment. A huge log is cut to the budget here already, so the
    /// fitting below works on at most one message's worth of text.
    static func fileItem(_ file: Block.File) -> Item {
        let mime = file.mimeType.lowercased()
        let textual = mime.hasPrefix("text/") || ["application/json", "application/yaml", "application/x-yaml", "application/x-ndjson"].contains(mime)
        guard textual, let bytes = file.bytes, let text = String(validating: bytes, as: UTF8.self) else {
            return .text("📎 \(file.name) (\(file.mimeType), \(file.bytes?.count ?? 0) bytes; not shown in Teams)", .plain)
        }
        // A log keeps its end, where the error is.
        let capped = Truncation.truncate(text, to: budgetBytes, in: .utf8Bytes, marker: trimMarker, keep: .tail)
        return .text(capped, .monospace)
    }

    /// The Issue's links and the enrichments' link blocks, http(s) only, each URL once.
    static func links(_ issue: Issue) -> [Link] {
        var all = issue.links
        for enrichment in issue.enrichments {
            for case .links(let links) in enrichment.blocks { all += links }
        }
        var seen = Set<String>()
        return all.filter { ($0.url.hasPrefix("https://") || $0.url.hasPrefix("http://")) && seen.insert($0.url).inserted }
    }

    // MARK: - Fitting

    /// Appended where a text was cut.
    static let trimMarker = "\n… [trimmed to fit the Teams message limit]"

    /// Renders `parts`, trimming until the message fits ``budgetBytes``.
    static func fit(_ start: Parts) throws(PluginError) -> TeamsMessage {
        var parts = start
        var body = encode(envelope(render(parts)))
        // Each round removes at least one table row or a slice of text, so this ends; the
        // bound only guards against a mistake turning it into a hang on a host thread.
        var rounds = 0
        while body.count > budgetBytes, rounds < 10_000 {
            rounds += 1
            let over = body.count - budgetBytes
            if trimLargestItem(&parts, over: over) {
                // trimmed inside a section
            } else if !parts.labels.isEmpty {
                parts.labels = []
                note(&parts, "labels")
            } else if let description = parts.description, description.utf8.count > 200 {
                parts.description = Truncation.truncate(description, to: max(200, description.utf8.count - over - 64), in: .utf8Bytes, marker: trimMarker)
                note(&parts, "description")
            } else if parts.links.count > maxActions {
                parts.links = Array(parts.links.prefix(maxActions))
                note(&parts, "links beyond the first \(maxActions)")
            } else if !parts.sections.isEmpty {
                let removed = parts.sections.removeLast()
                note(&parts, "section \"\(removed.title)\"")
            } else {
                break
            }
            body = encode(envelope(render(parts)))
        }
        guard body.count <= budgetBytes else {
            throw PluginError("the Teams card is \(body.count) bytes even without labels and enrichments, over the \(budgetBytes)-byte budget (title, subject or links too long?)")
        }
        return TeamsMessage(body: body, trimmed: parts.trimmed)
    }

    static func note(_ parts: inout Parts, _ what: String) {
        if !parts.trimmed.contains(what) { parts.trimmed.append(what) }
    }

    /// Shrinks the largest table or text of any section by about `over` bytes. False when
    /// none is left to shrink.
    static func trimLargestItem(_ parts: inout Parts, over: Int) -> Bool {
        var best: (section: Int, item: Int, size: Int)?
        for (s, section) in parts.sections.enumerated() {
            for (i, item) in section.items.enumerated() {
                let size: Int
                switch item {
                case .table(let headers, let rows, _) where !rows.isEmpty:
                    size = rows.reduce(0) { $0 + $1.reduce(0) { $0 + $1.utf8.count + 90 } } + headers.count * 90
                case .text(let text, _) where text.utf8.count > 200 && !text.hasSuffix(trimMarker + trimMarker):
                    size = text.utf8.count
                default:
                    continue
                }
                if size > best?.size ?? 0 { best = (s, i, size) }
            }
        }
        guard let best else { return false }
        let title = parts.sections[best.section].title
        switch parts.sections[best.section].items[best.item] {
        case .table(let headers, let rows, let total):
            // A rendered row costs its cells plus ~90 bytes of JSON per cell.
            let perRow = max(1, best.size / max(1, rows.count))
            let drop = min(rows.count, over / perRow + 1)
            parts.sections[best.section].items[best.item] = .table(headers: headers, rows: Array(rows.dropLast(drop)), total: total)
            note(&parts, "rows of table in \"\(title)\"")
        case .text(let text, let style):
            // JSON escaping (newlines, quotes) makes the encoded text longer than its
            // bytes; the next round cuts again if this was not enough.
            // Logs keep their end: the last lines say why it broke.
            var kept = Truncation.truncate(text, to: max(0, text.utf8.count - over - 64), in: .utf8Bytes, marker: trimMarker,
                                           keep: style == .monospace ? .tail : .head)
            if kept.utf8.count <= 200 { kept = trimMarker + trimMarker }  // exhausted: not chosen again
            parts.sections[best.section].items[best.item] = .text(kept, style)
            note(&parts, style == .monospace ? "log text in \"\(title)\"" : "text in \"\(title)\"")
        case .separator:
            return false
        }
        return true
    }

    // MARK: - Rendering

    static func envelope(_ card: JSONValue) -> JSONValue {
        let attachment: JSONValue = .object([
            "contentType": .string(adaptiveContentType),
            "contentUrl": .null,
            "content": card,
        ])
        return .object(["type": .string("message"), "attachments": .array([attachment])])
    }

    static func render(_ parts: Parts) -> JSONValue {
        var body: [JSONValue] = [header(parts)]
        if let description = parts.description { body.append(textBlock(description)) }
        body.append(factSet(parts.facts))
        if !parts.labels.isEmpty {
            body.append(textBlock("Labels", style: .bold, separator: true))
            body.append(factSet(parts.labels))
        }
        for section in parts.sections {
            body.append(textBlock(section.title, style: .bold, separator: true))
            body += section.items.flatMap(render(_:))
        }
        let actions = parts.links.prefix(maxActions).map(openURL(_:))
        if parts.links.count > maxActions {
            let more = parts.links.dropFirst(maxActions).map { "[\(escapeMarkdown($0.title.isEmpty ? $0.url : $0.title))](\($0.url))" }
            body.append(textBlock("More links: " + more.joined(separator: " · ")))
        }
        if !parts.trimmed.isEmpty {
            let text = "⚠️ Trimmed to fit Teams' 28 KB message limit: \(parts.trimmed.joined(separator: ", ")). The whole Issue is in cano-collector."
            body.append(.object(["type": .string("TextBlock"), "text": .string(text), "wrap": .bool(true), "color": .string("warning"), "isSubtle": .bool(true)]))
        }
        var card: [String: JSONValue] = [
            "$schema": .string("http://adaptivecards.io/schemas/adaptive-card.json"),
            "type": .string("AdaptiveCard"),
            "version": .string(cardVersion),
            "body": .array(body),
        ]
        if !actions.isEmpty { card["actions"] = .array(Array(actions)) }
        // Teams' extension: use the channel's full width, which tables and logs need.
        card["msteams"] = .object(["width": .string("Full")])
        return .object(card)
    }

    static func header(_ parts: Parts) -> JSONValue {
        let color: String = parts.style == "default" ? "default" : parts.style
        let title: JSONValue = .object([
            "type": .string("TextBlock"), "text": .string(parts.title), "size": .string("Large"),
            "weight": .string("Bolder"), "wrap": .bool(true), "color": .string(color),
        ])
        let subtitle: JSONValue = .object([
            "type": .string("TextBlock"), "text": .string(parts.subtitle), "spacing": .string("None"),
            "isSubtle": .bool(true), "wrap": .bool(true),
        ])
        return .object(["type": .string("Container"), "style": .string(parts.style), "items": .array([title, subtitle])])
    }

    static func render(_ item: Item) -> [JSONValue] {
        switch item {
        case .text(let text, let style): return [textBlock(text, style: style)]
        case .separator: return [.object(["type": .string("TextBlock"), "text": .string(" "), "separator": .bool(true)])]
        case .table(let headers, let rows, let total):
            let width = max(headers.count, rows.map(\.count).max() ?? 0)
            guard width > 0 else { return [] }
            var out = [columnSet(headers, width: width, bold: true)]
            out += rows.map { columnSet($0, width: width, bold: false) }
            if rows.count < total { out.append(textBlock("Showing \(rows.count) of \(total) rows.", style: .plain)) }
            return out
        }
    }

    static func columnSet(_ cells: [String], width: Int, bold: Bool) -> JSONValue {
        let columns: [JSONValue] = (0..<width).map { i in
            let cell = i < cells.count ? cells[i] : ""
            var block: [String: JSONValue] = ["type": .string("TextBlock"), "text": .string(cell.isEmpty ? " " : cell), "wrap": .bool(true)]
            if bold { block["weight"] = .string("Bolder") }
            return .object(["type": .string("Column"), "width": .string("stretch"), "items": .array([.object(block)])])
        }
        return .object(["type": .string("ColumnSet"), "columns": .array(columns), "spacing": .string("Small")])
    }

    static func textBlock(_ text: String, style: Style = .plain, separator: Bool = false) -> JSONValue {
        var block: [String: JSONValue] = ["type": .string("TextBlock"), "text": .string(text), "wrap": .bool(true)]
        switch style {
        case .plain: break
        case .bold: block["weight"] = .string("Bolder")
        case .monospace: block["fontType"] = .string("Monospace")
        }
        if separator { block["separator"] = .bool(true) }
        return .object(block)
    }

    static func factSet(_ facts: [(String, String)]) -> JSONValue {
        let items: [JSONValue] = facts.map { .object(["title": .string($0.0), "value": .string($0.1)]) }
        return .object(["type": .string("FactSet"), "facts": .array(items)])
    }

    static func openURL(_ link: Link) -> JSONValue {
        let title = Truncation.truncate(nonBlank(link.title) ?? "Open link", to: 64, in: .unicodeScalars)
        return .object(["type": .string("Action.OpenUrl"), "title": .string(title), "url": .string(link.url)])
    }

    // MARK: - Helpers

    static func encode(_ value: JSONValue) -> [UInt8] {
        // JSONValue always encodes (no non-finite numbers are built here).
        (try? IssueCoding.encode(value)) ?? Array("{}".utf8)
    }

    /// "2026-01-01 00:00:00 UTC": Teams shows text as is, and readers span time zones.
    static func time(_ date: Date) -> String {
        // RFC 3339 without its milliseconds: "2026-01-01T00:00:00.000Z" → "2026-01-01 00:00:00 UTC".
        String(RFC3339.format(date).prefix(19)).replacingOccurrences(of: "T", with: " ") + " UTC"
    }

    static func duration(from start: Date, to end: Date) -> String {
        let seconds = max(0, Int(end.timeIntervalSince(start)))
        let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60)
        return h > 0 ? "\(h)h \(m)m" : m > 0 ? "\(m)m \(s)s" : "\(s)s"
    }

    /// `*`, `_`, `[` and `]` as literals, so a title such as "cart_worker [prod]" reads as written.
    static func escapeMarkdown(_ text: String) -> String {
        var out = ""
        for c in text {
            if "*_[]".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    static func nonBlank(_ text: String?) -> String? {
        guard let text, text.contains(where: { !$0.isWhitespace }) else { return nil }
        return text
    }
}
