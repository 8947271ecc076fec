import CanoSDK
import Foundation

/// HTML fragments the templates insert unescaped (`{{{…}}}`): every piece of text that goes
/// into one passes through ``escape(_:)`` here, and only http(s) and mailto URLs become
/// links, so alert text can never inject markup or a `javascript:` link into the console.
enum HTML {
    /// Text made safe for element content and quoted attribute values, and scrubbed of
    /// every registered secret (``shown(_:)``): fragments show data only.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in shown(text).unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// The URL when a browser may follow it from the console (http, https, mailto), else nil.
    static func safeURL(_ url: String) -> String? {
        let lower = url.lowercased()
        return lower.hasPrefix("https://") || lower.hasPrefix("http://") || lower.hasPrefix("mailto:") ? url : nil
    }

    /// A link, or the escaped text alone when the URL is not one to follow.
    static func link(_ url: String, _ text: String) -> String {
        guard let safe = safeURL(url) else { return escape(text) }
        return "<a href=\"\(escape(safe))\" rel=\"noreferrer noopener\" target=\"_blank\">\(escape(text.isEmpty ? url : text))</a>"
    }

    /// JSON, pretty-printed, escaped, in a `<pre>`.
    static func json(_ value: JSONValue, className: String = "json") -> String {
        "<pre class=\"\(className)\">\(escape(pretty(value)))</pre>"
    }

    /// Pretty-printed JSON text (sorted keys, so it reads the same every time).
    static func pretty(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    // MARK: - Enrichments

    /// Inline images up to this size; larger files are offered for download only.
    static let inlineImageBytes = 2 << 20

    /// One enrichment as an `<article class="enrichment">`: its title and every block.
    static func enrichment(_ enrichment: Enrichment) -> String {
        var out = "<article class=\"enrichment\" data-type=\"\(escape(enrichment.type))\">"
        out += "<h3>\(escape(enrichment.title ?? enrichment.type))</h3>"
        for block in enrichment.blocks { out += self.block(block) }
        return out + "</article>"
    }

    static func block(_ block: Block) -> String {
        switch block {
        case .markdown(let text): return "<div class=\"md\">\(escape(text))</div>"
        case .header(let text): return "<h4>\(escape(text))</h4>"
        case .list(let items): return "<ul>" + items.map { "<li>\(escape($0))</li>" }.joined() + "</ul>"
        case .divider: return "<hr>"
        case .links(let links): return "<ul class=\"links\">" + links.map { "<li>\(link($0.url, $0.title))</li>" }.joined() + "</ul>"
        case .json(let value): return json(value)
        case .table(let table):
            let head = "<tr>" + table.headers.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
            let rows = table.rows.map { "<tr>" + $0.map { "<td>\(escape($0))</td>" }.joined() + "</tr>" }.joined()
            return "<table class=\"data\"><thead>\(head)</thead><tbody>\(rows)</tbody></table>"
        case .file(let file):
            let name = escape(file.name)
            // The MIME type is the plugin's word: only these image types are shown inline,
            // and the data URI's type is ours, not copied from the block.
            let images = ["image/png": "image/png", "image/jpeg": "image/jpeg", "image/gif": "image/gif"]
            if let type = images[file.mimeType.lowercased()], file.contentBase64.utf8.count <= inlineImageBytes * 4 / 3 + 4,
               file.contentBase64.utf8.allSatisfy({ $0.isBase64 }) {
                return "<figure><img alt=\"\(name)\" src=\"data:\(type);base64,\(file.contentBase64)\"><figcaption>\(name)</figcaption></figure>"
            }
            if file.mimeType.hasPrefix("text/"), let bytes = file.bytes {
                return "<details><summary>\(name)</summary><pre class=\"log\">\(escape(String(decoding: bytes.prefix(256 << 10), as: UTF8.self)))</pre></details>"
            }
            return "<p class=\"file\">\(name) (\(escape(file.mimeType)), \(file.bytes?.count ?? 0) bytes)</p>"
        }
    }

    // MARK: - Slack Block Kit

    /// A Slack `chat.postMessage` body as Slack would show it: the attachment's colour bar,
    /// then each block (header, section with fields, context, divider, actions, table);
    /// a block type not drawn here is shown as its JSON, so nothing is silently missing.
    static func slackMessage(_ body: JSONValue) -> String {
        var out = "<div class=\"slack-message\">"
        if let text = body["text"]?.stringValue, (body["attachments"]?.arrayValue ?? []).isEmpty, body["blocks"] == nil {
            out += "<div class=\"sl-section\">\(mrkdwn(text))</div>"
        }
        for block in body["blocks"]?.arrayValue ?? [] { out += slackBlock(block) }
        for attachment in body["attachments"]?.arrayValue ?? [] {
            let color = attachment["color"]?.stringValue.flatMap { $0.wholeMatch(of: /#[0-9A-Fa-f]{6}/) != nil ? $0 : nil } ?? "#DDDDDD"
            out += "<div class=\"sl-attachment\" style=\"border-left-color: \(color)\">"
            for block in attachment["blocks"]?.arrayValue ?? [] { out += slackBlock(block) }
            out += "</div>"
        }
        return out + "</div>"
    }

    private static func slackText(_ object: JSONValue?) -> String {
        guard let object, let text = object["text"]?.stringValue else { return "" }
        return object["type"]?.stringValue == "mrkdwn" ? mrkdwn(text) : escape(text)
    }

    private static func slackBlock(_ block: JSONValue) -> String {
        switch block["type"]?.stringValue ?? "" {
        case "header":
            return "<div class=\"sl-header\">\(slackText(block["text"]))</div>"
        case "section":
            var out = "<div class=\"sl-section\">"
            if block["text"] != nil { out += "<div>\(slackText(block["text"]))</div>" }
            if let fields = block["fields"]?.arrayValue {
                out += "<div class=\"sl-fields\">" + fields.map { "<div>\(slackText($0))</div>" }.joined() + "</div>"
            }
            return out + "</div>"
        case "context":
            let items = (block["elements"]?.arrayValue ?? []).map { element -> String in
                if element["type"]?.stringValue == "image" { return "" }
                return "<span>\(slackText(element))</span>"
            }
            return "<div class=\"sl-context\">\(items.joined(separator: " "))</div>"
        case "divider":
            return "<hr class=\"sl-divider\">"
        case "actions":
            let buttons = (block["elements"]?.arrayValue ?? []).map { element -> String in
                let label = element["text"]?["text"]?.stringValue ?? "button"
                return "<span class=\"sl-button\">\(link(element["url"]?.stringValue ?? "", label))</span>"
            }
            return "<div class=\"sl-actions\">\(buttons.joined())</div>"
        case "table":
            let rows = (block["rows"]?.arrayValue ?? []).enumerated().map { index, row -> String in
                let tag = index == 0 ? "th" : "td"
                return "<tr>" + (row.arrayValue ?? []).map { "<\(tag)>\(tableCell($0))</\(tag)>" }.joined() + "</tr>"
            }
            return "<table class=\"sl-table\">\(rows.joined())</table>"
        default:
            return json(block, className: "sl-unknown")
        }
    }

    /// A table cell: `raw_text`, or `rich_text` whose sections hold text and links.
    private static func tableCell(_ cell: JSONValue) -> String {
        if let text = cell["text"]?.stringValue { return escape(text) }
        return (cell["elements"]?.arrayValue ?? []).flatMap { $0["elements"]?.arrayValue ?? [] }.map { element in
            element["type"]?.stringValue == "link"
                ? link(element["url"]?.stringValue ?? "", element["text"]?.stringValue ?? "")
                : escape(element["text"]?.stringValue ?? "")
        }.joined()
    }

    /// Slack's mrkdwn as HTML: ```pre```, `code`, *bold*, _italic_, ~strike~, <url|text>
    /// links and line breaks. Slack text carries `&`, `<` and `>` as entities; they are
    /// decoded first, then everything is escaped again for HTML.
    static func mrkdwn(_ text: String) -> String {
        var out = ""
        let parts = text.components(separatedBy: "```")
        for (index, part) in parts.enumerated() {
            if index % 2 == 1 {
                out += "<pre class=\"sl-pre\">\(escape(slackUnescape(part)))</pre>"
                continue
            }
            var rest = Substring(part)
            while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
                out += inline(String(rest[..<open]))
                let inside = rest[rest.index(after: open)..<close]
                let pieces = inside.split(separator: "|", maxSplits: 1).map(String.init)
                let target = slackUnescape(pieces.first ?? "")
                out += link(target, slackUnescape(pieces.count > 1 ? pieces[1] : target))
                rest = rest[rest.index(after: close)...]
            }
            out += inline(String(rest))
        }
        return out
    }

    private static func slackUnescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
    }

    /// Inline mrkdwn on text outside links and code blocks.
    private static func inline(_ text: String) -> String {
        var html = escape(slackUnescape(text))
        html = html.replacing(/`([^`\n]+)`/) { "<code>\($0.1)</code>" }
        html = html.replacing(/\*([^*\n]+)\*/) { "<strong>\($0.1)</strong>" }
        html = html.replacing(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,:;!?])/) { "\($0.1)<em>\($0.2)</em>" }
        html = html.replacing(/~([^~\n]+)~/) { "<del>\($0.1)</del>" }
        return html.replacingOccurrences(of: "\n", with: "<br>")
    }
}

private extension UInt8 {
    /// A character of standard base64 (or its padding).
    var isBase64: Bool {
        (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) || (0x30...0x39).contains(self) || self == 0x2B || self == 0x2F || self == 0x3D
    }
}
