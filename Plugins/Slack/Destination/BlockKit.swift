import CanoSDK

/// One Block Kit block ready to send, with what the planner needs to know about it.
struct SlackBlock: Sendable, Equatable {
    var json: JSONValue
    /// Slack allows one table block per message.
    var isTable = false
    /// Characters of text it carries, for the per-message budget.
    var weight: Int
    /// A title that means nothing without the block after it: the planner never ends a
    /// message right after it (a heading left behind when its table moves on).
    var keepWithNext = false
    /// The enrichment heading (mrkdwn) this block sits under, so a message that starts
    /// mid-enrichment can repeat it; nil for the lead.
    var heading: String?
}

/// Builders for the Block Kit blocks we send. Each one enforces its block's limits, so
/// whatever the renderer produces is valid by construction.
enum BlockKit {
    /// A plain_text object. `emoji: false` for data, where `:name:` must stay as typed.
    static func plain(_ text: String, emoji: Bool = true) -> JSONValue {
        .object(["type": .string("plain_text"), "text": .string(text), "emoji": .bool(emoji)])
    }

    static func mrkdwn(_ text: String) -> JSONValue {
        .object(["type": .string("mrkdwn"), "text": .string(text)])
    }

    /// A header; plain text cut to 150 characters with an ellipsis.
    static func header(_ text: String) -> SlackBlock {
        let clean = text.replacing("\n", with: " ")
        let fitted = SlackLimits.length(clean) > SlackLimits.headerText
            ? SlackLimits.prefix(clean, utf16Limit: SlackLimits.headerText - 1) + "…"
            : clean
        let nonEmpty = fitted.isEmpty ? " " : fitted
        return SlackBlock(json: .object(["type": .string("header"), "text": plain(nonEmpty)]), weight: SlackLimits.length(nonEmpty))
    }

    /// One mrkdwn section, truncated (fence-safe, with a note) to 3000 characters.
    static func section(_ text: String) -> SlackBlock {
        let fitted = SlackLimits.truncate(text.isEmpty ? " " : text, to: SlackLimits.sectionText)
        return SlackBlock(json: .object(["type": .string("section"), "text": mrkdwn(fitted)]), weight: SlackLimits.length(fitted))
    }

    /// As many sections as `text` needs; nothing is cut.
    static func sections(_ text: String) -> [SlackBlock] {
        SlackLimits.split(text, limit: SlackLimits.sectionText).map(section)
    }

    /// A section of two-column fields: at most 10, each cut to 2000 characters.
    static func fields(_ items: [String]) -> SlackBlock {
        let fitted = items.prefix(SlackLimits.fieldCount).map { SlackLimits.truncate($0, to: SlackLimits.fieldText) }
        return SlackBlock(
            json: .object(["type": .string("section"), "fields": .array(fitted.map(mrkdwn))]),
            weight: fitted.reduce(0) { $0 + SlackLimits.length($1) })
    }

    /// One element of a context line: mrkdwn we wrote, or data shown exactly as it is.
    enum ContextItem: Sendable, Equatable {
        case mrkdwn(String)
        case plain(String)

        var text: String {
            switch self {
            case .mrkdwn(let t), .plain(let t): t
            }
        }
    }

    /// A context line of mrkdwn elements.
    static func context(_ items: [String]) -> SlackBlock {
        context(items: items.map(ContextItem.mrkdwn))
    }

    /// A context line; elements past the tenth are joined into the last one.
    static func context(items: [ContextItem]) -> SlackBlock {
        var elements = items.filter { !$0.text.isEmpty }
        if elements.count > SlackLimits.contextElements {
            // Joined as mrkdwn, so plain data in the tail is escaped to stay as typed.
            let tail = elements[(SlackLimits.contextElements - 1)...].map { item in
                switch item {
                case .mrkdwn(let t): t
                case .plain(let t): Mrkdwn.escape(t)
                }
            }.joined(separator: " · ")
            elements = Array(elements.prefix(SlackLimits.contextElements - 1)) + [.mrkdwn(tail)]
        }
        if elements.isEmpty { elements = [.mrkdwn(" ")] }
        var weight = 0
        let json: [JSONValue] = elements.map { item in
            switch item {
            case .mrkdwn(let t):
                let fitted = SlackLimits.truncate(t, to: SlackLimits.sectionText)
                weight += SlackLimits.length(fitted)
                return mrkdwn(fitted)
            case .plain(let t):
                let fitted = SlackLimits.truncate(t, to: SlackLimits.sectionText, mrkdwn: false)
                weight += SlackLimits.length(fitted)
                return plain(fitted, emoji: false)
            }
        }
        return SlackBlock(json: .object(["type": .string("context"), "elements": .array(json)]), weight: weight)
    }

    static func divider() -> SlackBlock {
        SlackBlock(json: .object(["type": .string("divider")]), weight: 0)
    }

    /// How much of a non-http(s) link is shown as text: enough to recognise it, and a
    /// bounded echo, so one huge value never spreads over several sections.
    static let textLinkLimit = 500

    /// Buttons, 25 to an actions block.
    ///
    /// A link Slack can't put on a button never turns into text split across sections:
    /// - not http(s): one text line, capped at ``textLinkLimit``;
    /// - longer than Slack's 3,000-character button URL (a generatorURL with a long
    ///   PromQL, a silence link for many labels): the button opens the same page without
    ///   its query and fragment, and a note says the full link was too long.
    static func buttons(_ links: [Link]) -> [SlackBlock] {
        var blocks: [SlackBlock] = []
        var buttons: [JSONValue] = []
        var weight = 0
        var textLinks: [String] = []
        var notes: [String] = []
        for link in links {
            var url = link.url
            guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
                textLinks.append("• \(Mrkdwn.escape(link.title)): \(Mrkdwn.escape(BoundedEcho.cap(url, limit: textLinkLimit)))")
                continue
            }
            if SlackLimits.length(url) > SlackLimits.buttonURL {
                let name = Mrkdwn.escape(link.title.isEmpty ? "Link" : link.title)
                let total = SlackLimits.length(url)
                guard let page = Mrkdwn.shortened(url, limit: SlackLimits.buttonURL) else {
                    notes.append("⚠️ *\(name)*: the link is \(total) characters, more than the \(SlackLimits.buttonURL) Slack allows; it is not shown")
                    continue
                }
                notes.append("⚠️ *\(name)*: the full link is \(total) characters, more than the \(SlackLimits.buttonURL) Slack allows; the button opens the page without its query")
                url = page
            }
            var title = link.title.isEmpty ? "Open" : link.title
            if SlackLimits.length(title) > SlackLimits.buttonText {
                title = SlackLimits.prefix(title, utf16Limit: SlackLimits.buttonText - 1) + "…"
            }
            buttons.append(.object([
                "type": .string("button"),
                "text": plain(title),
                "url": .string(url),
                "action_id": .string("link_\(blocks.count * SlackLimits.actionElements + buttons.count)"),
            ]))
            weight += SlackLimits.length(title) + SlackLimits.length(url)
            if buttons.count == SlackLimits.actionElements {
                blocks.append(SlackBlock(json: .object(["type": .string("actions"), "elements": .array(buttons)]), weight: weight))
                buttons = []
                weight = 0
            }
        }
        if !buttons.isEmpty {
            blocks.append(SlackBlock(json: .object(["type": .string("actions"), "elements": .array(buttons)]), weight: weight))
        }
        if !textLinks.isEmpty { blocks += sections(textLinks.joined(separator: "\n")) }
        if !notes.isEmpty { blocks.append(context(notes)) }
        return blocks
    }

    /// A native table block. The caller checks it fits (``SlackLimits/tableRows`` rows
    /// including the header, ``SlackLimits/tableColumns`` columns).
    static func table(headers: [String], rows: [[String]]) -> SlackBlock {
        let width = headers.count
        let all = [headers] + rows.map { row in
            // Rows must match the header's width: pad short rows, keep long rows' extra cells
            // in the last column so no value disappears.
            if row.count == width { return row }
            if row.count < width { return row + Array(repeating: "", count: width - row.count) }
            return Array(row.prefix(width - 1)) + [row[(width - 1)...].joined(separator: " | ")]
        }
        return table(all.map { $0.map(TableCell.text) })
    }

    /// One table cell: data shown as typed, or a link (a rich_text cell, the only kind of
    /// cell Slack makes clickable).
    enum TableCell: Sendable, Equatable {
        case text(String)
        case link(url: String, label: String)

        var json: JSONValue {
            switch self {
            case .text(let text):
                // Slack refuses empty text objects; a lone space keeps the cell blank.
                let fitted = text.isEmpty ? " " : SlackLimits.truncate(text, to: SlackLimits.fieldText, mrkdwn: false)
                return .object(["type": .string("raw_text"), "text": .string(fitted)])
            case .link(let url, let label):
                let link: JSONValue = .object(["type": .string("link"), "url": .string(url), "text": .string(label.isEmpty ? url : label)])
                return .object(["type": .string("rich_text"), "elements": .array([
                    .object(["type": .string("rich_text_section"), "elements": .array([link])]),
                ])])
            }
        }

        /// The characters it adds to the message.
        var weight: Int {
            switch self {
            case .text(let text): SlackLimits.length(text)
            case .link(let url, let label): SlackLimits.length(url) + SlackLimits.length(label)
            }
        }
    }

    /// A native table of `rows`, the first being the header row; every row as wide as the
    /// first. The caller checks it fits, as for ``table(headers:rows:)``.
    static func table(_ rows: [[TableCell]]) -> SlackBlock {
        let weight = rows.reduce(0) { $0 + $1.reduce(0) { $0 + $1.weight } }
        return SlackBlock(
            json: .object(["type": .string("table"), "rows": .array(rows.map { .array($0.map(\.json)) })]),
            isTable: true, weight: weight)
    }
}
