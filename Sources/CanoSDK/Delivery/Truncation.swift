/// Shortens text to a service's length limit without breaking it.
///
/// Services count their limits in different units, and an API that counts one way
/// rejects (or, worse, mangles) text cut the other way:
///
/// | service field | limit | unit |
/// | --- | --- | --- |
/// | PagerDuty Events v2 `payload.summary` | 1024 | ``Unit/unicodeScalars`` (Alertmanager cuts it in Go runes) |
/// | Opsgenie `message` | 130 | ``Unit/unicodeScalars`` |
/// | Slack `text` in a section block | 3000 | ``Unit/unicodeScalars`` |
/// | a byte-limited header or database column | n | ``Unit/utf8Bytes`` |
/// | Jira `summary` (Java strings) | 255 | ``Unit/utf16CodeUnits`` |
///
/// The cut is always at a `Character` (extended grapheme cluster) boundary, so it never
/// splits a UTF-8 sequence, a letter from its combining accent, a flag, or an emoji ZWJ
/// sequence such as 👩‍👩‍👧 into pieces that render as something else.
public enum Truncation {
    /// What a limit counts.
    public enum Unit: Sendable {
        /// Unicode scalar values: Go's "runes", JavaScript's code points, what most JSON
        /// APIs mean by "characters". "é" written as e + U+0301 counts 2.
        case unicodeScalars
        /// Bytes of the UTF-8 encoding: what byte-limited headers, columns and buffers count.
        case utf8Bytes
        /// UTF-16 code units: what Java and JavaScript `length` count (Jira, ServiceNow).
        /// An emoji outside the BMP counts 2.
        case utf16CodeUnits
    }

    /// Which end of the text a cut keeps.
    public enum Keep: Sendable {
        /// The beginning, marker after it: titles, descriptions.
        case head
        /// The end, marker before it: log tails, where the last lines say why it broke.
        case tail
    }

    /// The length of `text` in `unit`.
    public static func length(of text: some StringProtocol, in unit: Unit) -> Int {
        switch unit {
        case .unicodeScalars: text.unicodeScalars.count
        case .utf8Bytes: text.utf8.count
        case .utf16CodeUnits: text.utf16.count
        }
    }

    /// `text` if its length in `unit` is at most `limit`; otherwise its longest prefix of
    /// whole Characters that, followed by `marker`, still fits in `limit`, then `marker`.
    ///
    /// - Parameters:
    ///   - text: what to shorten.
    ///   - limit: the maximum length of the result, in `unit`, marker included. Zero or
    ///     less gives "".
    ///   - unit: what `limit` counts (``Unit``).
    ///   - marker: put where something was cut (after the head, or before the tail), so a
    ///     reader knows; "…" (U+2026: 1 scalar, 3 UTF-8 bytes) by default. When even the
    ///     marker does not fit, the result is as much of the marker as fits.
    ///   - keep: which end to keep; ``Keep/head`` by default.
    /// - Returns: a string whose length in `unit` is ≤ `limit`, never starting or ending
    ///   in part of a Character.
    public static func truncate(_ text: String, to limit: Int, in unit: Unit, marker: String = "…", keep: Keep = .head) -> String {
        guard limit > 0 else { return "" }
        guard length(of: text, in: unit) > limit else { return text }
        let markerLength = length(of: marker, in: unit)
        guard markerLength <= limit else {
            // A marker longer than the limit: keep what fits of it, still whole Characters.
            return prefix(marker, fitting: limit, in: unit)
        }
        switch keep {
        case .head: return prefix(text, fitting: limit - markerLength, in: unit) + marker
        case .tail: return marker + suffix(text, fitting: limit - markerLength, in: unit)
        }
    }

    /// The size of one Character in `unit`.
    private static func size(of character: Character, in unit: Unit) -> Int {
        switch unit {
        case .unicodeScalars: character.unicodeScalars.count
        case .utf8Bytes: character.utf8.count
        case .utf16CodeUnits: character.utf16.count
        }
    }

    /// The longest prefix of whole Characters of `text` whose length in `unit` ≤ `budget`.
    /// Walks only as far as the budget reaches, however long `text` is.
    static func prefix(_ text: String, fitting budget: Int, in unit: Unit) -> String {
        var used = 0
        var end = text.startIndex
        for character in text {
            let size = size(of: character, in: unit)
            guard used + size <= budget else { break }
            used += size
            end = text.index(after: end)
        }
        return String(text[..<end])
    }

    /// The longest suffix of whole Characters of `text` whose length in `unit` ≤ `budget`.
    static func suffix(_ text: String, fitting budget: Int, in unit: Unit) -> String {
        var used = 0
        var start = text.endIndex
        while start > text.startIndex {
            let before = text.index(before: start)
            let size = size(of: text[before], in: unit)
            guard used + size <= budget else { break }
            used += size
            start = before
        }
        return String(text[start...])
    }
}
