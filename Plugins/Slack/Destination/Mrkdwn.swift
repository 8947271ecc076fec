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

    /// A `<url|label>` link; characters that would end the link early are percent-encoded.
    public static func link(_ url: String, _ label: String? = nil) -> String {
        var u = ""
        for c in url {
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
        return "<\(u)|\(escape(label))>"
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
        func isWordChar(_ k: Int) -> Bool { k >= 0 && k < chars.count && (chars[k].isLetter || chars[k].isNumber) }

        while i < chars.count {
            let c = chars[i]
            if c == "`", let close = find(["`"], from: i + 1) {
                out += "`" + escape(String(chars[(i + 1)..<close])) + "`"
                i = close + 1
                continue
            }
            if c == "[", let mid = find(["]", "("], from: i + 1), let close = find([")"], from: mid + 2) {
                let label = String(chars[(i + 1)..<mid])
                let url = String(chars[(mid + 2)..<close])
                if !url.isEmpty, !url.contains(" ") {
                    out += link(url, label)
                    i = close + 1
                    continue
                }
            }
            if c == "<", let close = find([">"], from: i + 1) {
                let inner = String(chars[(i + 1)..<close])
                if inner.hasPrefix("http://") || inner.hasPrefix("https://") || inner.hasPrefix("mailto:"), !inner.contains(" ") {
                    out += link(inner)
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
