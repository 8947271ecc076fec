/// Finds where a JSON document stops being valid, because Foundation's decoder only says
/// "not valid JSON". A 400 from the intake names the line and column, so a user fixing a
/// hand-written test alert or a proxy that mangles bodies knows where to look.
enum JSONSyntaxCheck {
    /// "line 3, column 14: expected a value" for the first error, or nil if the text is valid.
    static func firstError(in bytes: [UInt8]) -> String? {
        var parser = Parser(bytes: bytes)
        do throws(Failure) {
            parser.skipWhitespace()
            try parser.value(depth: 0)
            parser.skipWhitespace()
            if parser.index < bytes.count { throw parser.fail("unexpected text after the JSON value") }
            return nil
        } catch {
            return error.message
        }
    }

    /// "line 3, column 14" for a byte offset, as the other messages say it.
    static func position(of offset: Int, in bytes: [UInt8]) -> String {
        var line = 1
        var column = 1
        for b in bytes[..<min(offset, bytes.count)] {
            if b == 10 { line += 1; column = 1 } else { column += 1 }
        }
        return "line \(line), column \(column)"
    }

    private struct Failure: Error { let message: String }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        func fail(_ what: String) -> Failure {
            let found = index < bytes.count ? "'\(Character(Unicode.Scalar(bytes[index])))'" : "end of input"
            return Failure(message: "\(JSONSyntaxCheck.position(of: index, in: bytes)): \(what), found \(found)")
        }

        mutating func skipWhitespace() {
            while index < bytes.count, [32, 9, 10, 13].contains(bytes[index]) { index += 1 }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(Failure) {
            guard index < bytes.count, bytes[index] == byte else { throw fail(what) }
            index += 1
        }

        mutating func value(depth: Int) throws(Failure) {
            guard depth < 512 else { throw fail("nesting is too deep") }
            guard index < bytes.count else { throw fail("expected a value") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return }
                while true {
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                    try string()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"), "expected ':' after a key")
                    skipWhitespace()
                    try value(depth: depth + 1)
                    skipWhitespace()
                    if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    try expect(UInt8(ascii: "}"), "expected ',' or '}' in an object")
                    return
                }
            case UInt8(ascii: "["):
                index += 1
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return }
                while true {
                    skipWhitespace()
                    try value(depth: depth + 1)
                    skipWhitespace()
                    if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    try expect(UInt8(ascii: "]"), "expected ',' or ']' in an array")
                    return
                }
            case UInt8(ascii: "\""):
                try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = index
                while index < bytes.count, "+-.eE0123456789".utf8.contains(bytes[index]) { index += 1 }
                if Double(String(decoding: bytes[start..<index], as: UTF8.self)) == nil {
                    index = start
                    throw fail("invalid number")
                }
            default:
                throw fail("expected a value")
            }
        }

        mutating func literal(_ word: String) throws(Failure) {
            for b in word.utf8 { try expect(b, "expected \(word)") }
        }

        mutating func string() throws(Failure) {
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""): index += 1; return
                case UInt8(ascii: "\\"): index += 2
                case 0..<32: throw fail("control character in a string")
                default: index += 1
                }
            }
            throw fail("unterminated string")
        }
    }
}
