/// Slack's `mrkdwn` dialect: escaping and conversion from the CommonMark subset our
/// markdown blocks use.
///
/// Slack treats `&`, `<` and `>` as control characters everywhere in mrkdwn (even inside
/// code), so they are always escaped as `&amp;`, `&lt;`, `&gt;`; Slack decodes them for
/// display. Links use Slack's `<url|label>` form.
public enum Mrkdwn {
    /// Escapes the three control characters.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Undoes ``escape(_:)``: input that is already Slack text (a `<url|label>` someone
    /// wrote in an annotation) must not be escaped twice into `&amp;amp;`.
    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacing("&lt;", with: "<").replacing("&gt;", with: ">").replacing("&amp;", with: "&")
    }

    /// The longest URL put inline in mrkdwn text, leaving room in its section for the text
    /// around it.
    public static let inlineLinkLimit = 2000

    /// A URL too long for where it goes, cut to the page it opens: everything before the
    /// first `?` or `#`. Nil when even that is longer than `limit`. Cutting inside the query
    /// would open a wrong page, and splitting the URL would open none.
    public static func shortened(_ url: String, limit: Int) -> String? {
        let page = url.firstIndex(where: { $0 == "?" || $0 == "#" }).map { String(url[..<$0]) } ?? url
        return SlackLimits.length(page) <= limit ? page : nil
    }

    /// The characters mrkdwn turns into bold, italic, strike and code.
    static let formattingCharacters: Set<Character> = ["*", "_", "~", "`"]

    /// True when `text` shows as itself once escaped: it has none of the formatting
    /// characters. Slack has no way to escape those, so data (label values) that has them
    /// must go into a `plain_text` object instead, where Slack shows every character as is.
    public static func isInert(_ text: String) -> Bool {
        !text.contains(where: formattingCharacters.contains)
    }

    /// A `<url|label>` link; characters that would end the link early are percent-encoded.
    /// Already-escaped input (`&amp;`) is taken as the text it stands for, so wrapping a
    /// well-formed Slack link again keeps it as it was.
    ///
    /// A URL longer than ``inlineLinkLimit`` could not stay whole in a 3,000-character
    /// section (the section would be split through it): the link goes to the same page
    /// without its query, with a note, as ``shortened(_:limit:)`` describes.
    public static func link(_ url: String, _ label: String? = nil) -> String {
        let plainURL = unescape(url)
        if SlackLimits.length(plainURL) > inlineLinkLimit {
            let total = SlackLimits.length(plainURL)
            let shown = label.flatMap { $0.isEmpty ? nil : escape(unescape($0)) } ?? "link"
            guard let page = shortened(plainURL, limit: inlineLinkLimit) else {
                return "\(shown) _(link of \(total) characters not shown: too long for Slack)_"
            }
            return link(page, label) + " _(the full link is \(total) characters, too long for Slack; this one opens the page without its query)_"
        }
        var u = ""
        for c in plainURL {
            switch c {
            case "&": u += "&amp;"
            case "<": u += "%3C"
            case ">": u += "%3E"
            case "|": u += "%7C"
            case " ": u += "%20"
            default: u.append(c)
            }
        }
        guard let label, !label.isEmpty else { return "<\(u)>" }
        return "<\(u)|\(escape(unescape(label)))>"
    }

    /// Converts CommonMark (headings, lists, emphasis, code, links, fences) to mrkdwn.
    public static func fromMarkdown(_ markdown: String) -> String {
        var lines: [String] = []
        var inFence = false
        for rawLine in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine)
            let trimmed = line.drop { $0 == " " }
            if trimmed.hasPrefix("```") {
                // Slack ignores a fence's language tag and would show it as text.
                lines.append("```")
                inFence.toggle()
                continue
            }
            if inFence {
                lines.append(escape(line))
                continue
            }
            lines.append(convertLine(line))
        }
        return lines.joined(separator: "\n")
    }

    static func convertLine(_ line: String) -> String {
        let indent = line.prefix { $0 == " " }
        let body = line.dropFirst(indent.count)
        // ATX heading → bold line (mrkdwn has no headings).
        if body.first == "#" {
            let hashes = body.prefix { $0 == "#" }
            let rest = body.dropFirst(hashes.count)
            if hashes.count <= 6, rest.first == " " {
                let title = inline(rest.drop { $0 == " " })
                return title.isEmpty ? "" : "*\(title)*"
            }
        }
        // Bullets → "•" (mrkdwn shows "-"/"*" literally, and "*" would start bold).
        if let first = body.first, "-*+".contains(first), body.dropFirst().first == " " {
            return String(indent) + "• " + inline(body.dropFirst(2))
        }
        if body.hasPrefix("> ") {
            return "&gt; " + inline(body.dropFirst(2))  // quotes need the raw ">" escaped too
        }
        return String(indent) + inline(body)
    }

    /// Inline spans: code, links, autolinks, bold, italic, strike; everything else escaped.
    static func inline(_ text: Substring) -> String {
        let chars = Array(text)
        var out = ""
        var i = 0
        // Spans close within `reach` characters or not at all: an unmatched `*` in a long
        // line must not make conversion quadratic.
        let reach = 2000
        func find(_ needle: [Character], from start: Int) -> Int? {
            var j = start
            let end = min(chars.count, start + reach)
            while j + needle.count <= end {
                var matched = true
                for k in 0..<needle.count where chars[j + k] != needle[k] {
                    matched = false
                    break
                }
                if matched { return j }
                j += 1
            }
            return nil
        }
        // A link's end is searched further than other spans (a generatorURL runs to
        // thousands of characters, and must be recognised to be shortened rather than
        // shown as text) but stops at a character the link can't contain, so text with
        // many unmatched openers stays linear.
        let linkReach = 8192
        func findLinkEnd(_ closer: Character, from start: Int, stops: Set<Character>) -> Int? {
            var j = start
            let end = min(chars.count, start + linkReach)
            while j < end {
                if chars[j] == closer { return j }
                if stops.contains(chars[j]) { return nil }
                j += 1
            }
            return nil
        }
        func isWordChar(_ k: Int) -> Bool { k >= 0 && k < chars.count && (chars[k].isLetter || chars[k].isNumber) }

        while i < chars.count {
            let c = chars[i]
            if c == "`", let close = find(["`"], from: i + 1) {
                out += "`" + escape(String(chars[(i + 1)..<close])) + "`"
                i = close + 1
                continue
            }
            if c == "[", let mid = find(["]", "("], from: i + 1), let close = findLinkEnd(")", from: mid + 2, stops: [" ", "\n"]) {
                let label = String(chars[(i + 1)..<mid])
                let url = String(chars[(mid + 2)..<close])
                if !url.isEmpty, !url.contains(" ") {
                    out += link(url, label)
                    i = close + 1
                    continue
                }
            }
            if c == "<", let close = findLinkEnd(">", from: i + 1, stops: ["<", "\n"]) {
                // `<url>` (CommonMark autolink) or `<url|label>` (Slack's own link, common in
                // annotations written for Slack): both stay links, the label with them.
                let inner = String(chars[(i + 1)..<close])
                let bar = inner.firstIndex(of: "|")
                let target = bar.map { String(inner[..<$0]) } ?? inner
                let label = bar.map { String(inner[inner.index(after: $0)...]) }
                if target.hasPrefix("http://") || target.hasPrefix("https://") || target.hasPrefix("mailto:"), !target.contains(" ") {
                    out += link(target, label)
                    i = close + 1
                    continue
                }
            }
            if (c == "*" || c == "_"), i + 1 < chars.count, chars[i + 1] == c,
               let close = find([c, c], from: i + 2), close > i + 2 {
                out += "*" + inline(Substring(String(chars[(i + 2)..<close]))) + "*"
                i = close + 2
                continue
            }
            if c == "~", i + 1 < chars.count, chars[i + 1] == "~", let close = find(["~", "~"], from: i + 2), close > i + 2 {
                out += "~" + inline(Substring(String(chars[(i + 2)..<close]))) + "~"
                i = close + 2
                continue
            }
            // Single * or _ is emphasis only at a word boundary, so snake_case survives.
            if (c == "*" || c == "_"), !isWordChar(i - 1), i + 1 < chars.count, chars[i + 1] != " ",
               let close = find([c], from: i + 1), close > i + 1, chars[close - 1] != " ", !isWordChar(close + 1) {
                out += "_" + inline(Substring(String(chars[(i + 1)..<close]))) + "_"
                i = close + 1
                continue
            }
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(c)
            }
            i += 1
        }
        return out
    }
}
