/// Text helpers for pod logs: tails by lines and bytes, filtering, excerpts.
enum LogText {
    /// The last `bytes` bytes of `text`, starting at a line boundary when one is near
    /// (a cut line is worse than one line fewer), always valid UTF-8.
    static func tail(_ text: String, bytes: Int) -> String {
        let utf8 = text.utf8
        guard utf8.count > bytes else { return text }
        var start = utf8.index(utf8.endIndex, offsetBy: -max(0, bytes))
        // Do not start inside a multi-byte character.
        while start < utf8.endIndex, (utf8[start] & 0xC0) == 0x80 { start = utf8.index(after: start) }
        // Snap to the next line start when one is near, unless that would leave nothing
        // (one long line ending in a newline).
        if let newline = utf8[start...].firstIndex(of: UInt8(ascii: "\n")), utf8.distance(from: start, to: newline) < 4096,
           utf8.index(after: newline) < utf8.endIndex {
            start = utf8.index(after: newline)
        }
        return String(decoding: utf8[start...], as: UTF8.self)
    }

    /// The last `count` lines.
    static func tail(_ text: String, lines count: Int) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.suffix(count).joined(separator: "\n")
    }

    /// Only the lines that contain a match of `regex`.
    static func filter(_ text: String, _ regex: Regex<AnyRegexOutput>) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: true)
            .filter { (try? regex.firstMatch(in: $0)) != nil }
            .joined(separator: "\n")
    }

    /// A markdown code fence that the content cannot close early.
    static func fenced(_ text: String) -> String {
        let fence = text.contains("```") ? "~~~" : "```"
        return "\(fence)\n\(text)\n\(fence)"
    }
}
