import Foundation
import Synchronization

/// SQL text handling for PostgreSQL: our statements are written once for both engines with
/// SQLite's `?` placeholders, PostgreSQL's extended protocol wants `$1, $2...`; and
/// postgres-nio speaks only the extended protocol (one statement per message), so a
/// multi-statement migration is split into its statements.
///
/// Both walk the text with the lexical rules that matter for finding `?` and `;`: string
/// literals (`'...'` with `''`, `E'...'` with backslash escapes), quoted identifiers
/// (`"..."`), dollar quotes (`$tag$...$tag$`), `--` line comments and nested `/* */`
/// comments. A `?` or `;` in any of those is text, not syntax.
enum PostgresSQLText {
    /// A piece of SQL text: `isCode` false for literals, identifiers and comments.
    struct Segment {
        var text: Substring
        var isCode: Bool
        var isComment: Bool
    }

    /// `sql` cut into code and non-code segments, in order; concatenated they are `sql`.
    static func segments(_ sql: String) -> [Segment] {
        var result: [Segment] = []
        let bytes = Array(sql.utf8)
        let n = bytes.count
        var i = 0
        var codeStart = 0
        // Byte offsets are always at ASCII delimiters, so they are valid String indices.
        func index(_ offset: Int) -> String.Index { sql.utf8.index(sql.utf8.startIndex, offsetBy: offset) }
        func flushCode(upTo end: Int) {
            if end > codeStart { result.append(Segment(text: sql[index(codeStart)..<index(end)], isCode: true, isComment: false)) }
        }
        func isIdentByte(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b >= 0x80
        }
        while i < n {
            let b = bytes[i]
            var end: Int?
            var comment = false
            switch b {
            case UInt8(ascii: "'"):
                // E'...' strings take backslash escapes; the E was already emitted as code,
                // which is fine (it stays next to its quote).
                let escapes = i > 0 && (bytes[i - 1] == UInt8(ascii: "E") || bytes[i - 1] == UInt8(ascii: "e"))
                    && (i < 2 || !isIdentByte(bytes[i - 2]))
                var j = i + 1
                while j < n {
                    if escapes && bytes[j] == UInt8(ascii: "\\") { j += 2; continue }
                    if bytes[j] == UInt8(ascii: "'") {
                        if j + 1 < n && bytes[j + 1] == UInt8(ascii: "'") { j += 2; continue }
                        break
                    }
                    j += 1
                }
                end = min(j + 1, n)
            case UInt8(ascii: "\""):
                var j = i + 1
                while j < n {
                    if bytes[j] == UInt8(ascii: "\"") {
                        if j + 1 < n && bytes[j + 1] == UInt8(ascii: "\"") { j += 2; continue }
                        break
                    }
                    j += 1
                }
                end = min(j + 1, n)
            case UInt8(ascii: "-") where i + 1 < n && bytes[i + 1] == UInt8(ascii: "-"):
                var j = i + 2
                while j < n && bytes[j] != UInt8(ascii: "\n") { j += 1 }
                end = j
                comment = true
            case UInt8(ascii: "/") where i + 1 < n && bytes[i + 1] == UInt8(ascii: "*"):
                var depth = 1
                var j = i + 2
                while j < n && depth > 0 {
                    if bytes[j] == UInt8(ascii: "/") && j + 1 < n && bytes[j + 1] == UInt8(ascii: "*") { depth += 1; j += 2 }
                    else if bytes[j] == UInt8(ascii: "*") && j + 1 < n && bytes[j + 1] == UInt8(ascii: "/") { depth -= 1; j += 2 }
                    else { j += 1 }
                }
                end = j
                comment = true
            case UInt8(ascii: "$") where i == 0 || !isIdentByte(bytes[i - 1]):
                // $tag$ or $$ opens a dollar quote; $1 (a parameter) does not.
                var j = i + 1
                while j < n && isIdentByte(bytes[j]) && !(bytes[j] >= 0x30 && bytes[j] <= 0x39 && j == i + 1) { j += 1 }
                if j < n && bytes[j] == UInt8(ascii: "$") {
                    let tag = bytes[i...j]
                    var k = j + 1
                    var closed = n
                    while k < n {
                        if bytes[k] == UInt8(ascii: "$") && k + tag.count <= n && bytes[k..<(k + tag.count)].elementsEqual(tag) {
                            closed = k + tag.count
                            break
                        }
                        k += 1
                    }
                    end = closed
                }
            default:
                break
            }
            if let end {
                flushCode(upTo: i)
                result.append(Segment(text: sql[index(i)..<index(end)], isCode: false, isComment: comment))
                i = end
                codeStart = end
            } else {
                i += 1
            }
        }
        flushCode(upTo: n)
        return result
    }

    /// `sql` with each `?` outside literals, identifiers and comments replaced by `$1`,
    /// `$2`... in order, and how many there were.
    static func numberedPlaceholders(_ sql: String) -> (sql: String, count: Int) {
        guard sql.contains("?") else { return (sql, 0) }
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var count = 0
        for segment in segments(sql) {
            guard segment.isCode else { out += segment.text; continue }
            for character in segment.text {
                if character == "?" {
                    count += 1
                    out += "$\(count)"
                } else {
                    out.append(character)
                }
            }
        }
        return (out, count)
    }

    /// The statements of a multi-statement script, split at `;` outside literals,
    /// identifiers and comments; pieces with nothing but whitespace and comments are dropped.
    static func statements(_ sql: String) -> [String] {
        var result: [String] = []
        var current = ""
        var hasCode = false
        func finish() {
            let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if hasCode && !trimmed.isEmpty { result.append(trimmed) }
            current = ""
            hasCode = false
        }
        for segment in segments(sql) {
            if !segment.isCode {
                current += segment.text
                if !segment.isComment { hasCode = true }
                continue
            }
            var rest = segment.text
            while let semicolon = rest.firstIndex(of: ";") {
                let piece = rest[..<semicolon]
                current += piece
                if piece.contains(where: { !$0.isWhitespace }) { hasCode = true }
                finish()
                rest = rest[rest.index(after: semicolon)...]
            }
            current += rest
            if rest.contains(where: { !$0.isWhitespace }) { hasCode = true }
        }
        finish()
        return result
    }
}

/// The `?` → `$n` translations, cached per SQL text: the collector runs a few dozen
/// distinct statements millions of times. Shared by every connection of a database.
final class PlaceholderCache: Sendable {
    private let cache = Mutex<[String: (sql: String, count: Int)]>([:])
    /// Bounds the cache should a caller ever build SQL text dynamically (ours do not).
    private let limit = 1024

    /// The translation of `sql` (see ``PostgresSQLText/numberedPlaceholders(_:)``).
    func translate(_ sql: String) -> (sql: String, count: Int) {
        if let hit = cache.withLock({ $0[sql] }) { return hit }
        let translated = PostgresSQLText.numberedPlaceholders(sql)
        cache.withLock { entries in
            if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
            entries[sql] = translated
        }
        return translated
    }
}
