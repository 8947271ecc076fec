import CanoSDK

/// One Block Kit block ready to send, with what the planner needs to know about it.
struct SlackBlock: Sendable, Equatable {
    var json: JSONValue
    /// Slack allows one table block per message.
    var isTable = false
    /// Characters of text it carries, for the per-message budget.
    var weight: Int
}

/// Builders for the Block Kit blocks we send. Each one enforces its block's limits, so
/// whatever the renderer produces is valid by construction.
enum BlockKit {
    static func plain(_ text: String) -> JSONValue {
        .object(["type": .string("plain_text"), "text": .string(text), "emoji": .bool(true)])
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

    /// A context line; elements past the tenth are joined into the last one.
    static func context(_ items: [String]) -> SlackBlock {
        var elements = Array(items.filter { !$0.isEmpty })
        if elements.count > SlackLimits.contextElements {
            let tail = elements[(SlackLimits.contextElements - 1)...].joined(separator: " · ")
            elements = Array(elements.prefix(SlackLimits.contextElements - 1)) + [tail]
        }
        if elements.isEmpty { elements = [" "] }
        let fitted = elements.map { SlackLimits.truncate($0, to: SlackLimits.sectionText) }
        return SlackBlock(
            json: .object(["type": .string("context"), "elements": .array(fitted.map(mrkdwn))]),
            weight: fitted.reduce(0) { $0 + SlackLimits.length($1) })
    }

    static func divider() -> SlackBlock {
        SlackBlock(json: .object(["type": .string("divider")]), weight: 0)
    }

    /// Buttons, 25 to an actions block. A URL Slack would refuse on a button (not http(s),
    /// or too long) becomes a mrkdwn link instead, so no link is lost.
    static func buttons(_ links: [Link]) -> [SlackBlock] {
        var blocks: [SlackBlock] = []
        var buttons: [JSONValue] = []
        var weight = 0
        var textLinks: [String] = []
        for link in links {
            let url = link.url
            guard url.hasPrefix("https://") || url.hasPrefix("http://"), SlackLimits.length(url) <= SlackLimits.buttonURL else {
                textLinks.append("• \(Mrkdwn.escape(link.title)): \(Mrkdwn.escape(url))")
                continue
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
        return blocks
    }

    /// A native table block. The caller checks it fits (``SlackLimits/tableRows`` rows
    /// including the header, ``SlackLimits/tableColumns`` columns).
    static func table(headers: [String], rows: [[String]]) -> SlackBlock {
        func cell(_ text: String) -> JSONValue {
            // Slack refuses empty text objects; a lone space keeps the cell blank.
            let fitted = text.isEmpty ? " " : SlackLimits.truncate(text, to: SlackLimits.fieldText, mrkdwn: false)
            return .object(["type": .string("raw_text"), "text": .string(fitted)])
        }
        let width = headers.count
        let all = [headers] + rows.map { row in
            // Rows must match the header's width: pad short rows, keep long rows' extra cells
            // in the last column so no value disappears.
            if row.count == width { return row }
            if row.count < width { return row + Array(repeating: "", count: width - row.count) }
            return Array(row.prefix(width - 1)) + [row[(width - 1)...].joined(separator: " | ")]
        }
        let weight = all.reduce(0) { $0 + $1.reduce(0) { $0 + SlackLimits.length($1) } }
        return SlackBlock(
            json: .object(["type": .string("table"), "rows": .array(all.map { .array($0.map(cell)) })]),
            isTable: true, weight: weight)
    }
}
