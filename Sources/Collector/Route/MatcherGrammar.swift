/// Alertmanager's two matcher grammars, ported rule for rule, and the way Alertmanager
/// ≥ 0.27 combines them by default (`matcher/compat`'s fallback parser). Public entry:
/// ``Matcher/parseList(_:)``, which documents the result.
enum MatcherGrammar {
    /// A matcher before compilation.
    struct Parsed: Equatable {
        var name: String
        var op: Matcher.Operator
        var value: String
        /// The value as written, for the doubled-operator check.
        var raw: String
        var quoted: Bool
        static func == (a: Parsed, b: Parsed) -> Bool { a.name == b.name && a.op == b.op && a.value == b.value }
    }

    static func parseList(_ text: String) throws(MatcherError) -> [Matcher] {
        let utf8 = Result { () throws(MatcherError) in try UTF8Grammar.parse(text) }
        let classic = Result { () throws(MatcherError) in try ClassicGrammar.parse(text) }
        let chosen: [Parsed]
        switch (utf8, classic) {
        case (.success(let n), .success(let c)):
            chosen = n == c ? n : c  // disagreement: Alertmanager keeps the classic reading
        case (.failure, .success(let c)):
            // Accepted by the classic grammar alone. Alertmanager reads `a==b` as the value
            // `=b`; refused here, because such a matcher can only be a typo.
            if let bad = c.first(where: { !$0.quoted && ["=", "!", "~"].contains($0.raw.first) }) {
                throw MatcherError(text: text, reason: "the value of \(bad.name) starts with \"\(bad.raw.first!)\": "
                    + "a doubled operator? Quote the value (\(bad.name)\(bad.op.rawValue)\"\(escape(bad.raw))\") if it is meant")
            }
            chosen = c
        case (.success(let n), .failure):
            chosen = n
        case (.failure(let nError), .failure(let cError)):
            // The UTF-8 grammar locates problems; the classic one only says "bad format".
            throw nError.column != nil ? nError : cError
        }
        var result: [Matcher] = []
        for p in chosen {
            if p.name.isEmpty { throw MatcherError(text: text, reason: "the label name is empty") }
            do throws(MatcherError) { result.append(try Matcher(p.name, p.op, p.value)) } catch {
                throw MatcherError(text: text, reason: error.reason)  // name the line as written
            }
        }
        return result
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`, the classic grammar's label names.
    static func isClassicName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, isNameStart(first) else { return false }
        return s.unicodeScalars.allSatisfy { isNameStart($0) || ("0"..."9").contains($0) }
    }

    static func isNameStart(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" || c == ":"
    }

    /// OpenMetrics escaping, the inverse of the classic unescaping: `\\`, `\"`, `\n`.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

/// Alertmanager's classic grammar, `pkg/labels` `ParseMatchers`/`ParseMatcher` (v0.25).
enum ClassicGrammar {
    // Go's `\s` in RE2: ASCII whitespace without \v.
    private static func isSpace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0C}" }

    /// Splits on commas outside double quotes (a `\"` does not toggle quoting), after
    /// trimming one leading `{` and one trailing `}`; a trailing comma is allowed.
    static func parse(_ text: String) throws(MatcherError) -> [MatcherGrammar.Parsed] {
        var s = Substring(text)
        if s.hasPrefix("{") { s = s.dropFirst() }
        if s.hasSuffix("}") { s = s.dropLast() }
        var tokens: [String] = []
        var token = String.UnicodeScalarView()
        var insideQuotes = false, escaped = false
        for c in s.unicodeScalars {
            switch c {
            case ",":
                if !insideQuotes {
                    tokens.append(String(token))
                    token = .init()
                    continue
                }
            case "\"":
                if !escaped { insideQuotes.toggle() } else { escaped = false }
            case "\\":
                escaped.toggle()
            default:
                escaped = false
            }
            token.append(c)
        }
        let last = trim(String(token))
        if !last.isEmpty { tokens.append(last) }
        var result: [MatcherGrammar.Parsed] = []
        for t in tokens { result.append(try parseOne(t, whole: text)) }
        return result
    }

    private static func trim(_ s: String) -> String {
        var v = Substring(s).unicodeScalars
        while let f = v.first, isSpace(f) { v.removeFirst() }
        while let l = v.last, isSpace(l) { v.removeLast() }
        return String(v)
    }

    /// `^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$`, then unescaping.
    private static func parseOne(_ token: String, whole: String) throws(MatcherError) -> MatcherGrammar.Parsed {
        let bad = MatcherError(text: whole, reason: "bad matcher format: \(token)")
        var rest = Substring(trim(token)).unicodeScalars
        var name = String.UnicodeScalarView()
        guard let first = rest.first, MatcherGrammar.isNameStart(first) else { throw bad }
        while let c = rest.first, MatcherGrammar.isNameStart(c) || ("0"..."9").contains(c) {
            name.append(c)
            rest.removeFirst()
        }
        while let c = rest.first, isSpace(c) { rest.removeFirst() }
        let op: Matcher.Operator
        let restString = String(rest)
        if restString.hasPrefix("=~") { op = .matchesRegex } else if restString.hasPrefix("=") { op = .equal } else if restString.hasPrefix("!=") {
            op = .notEqual
        } else if restString.hasPrefix("!~") { op = .notMatchesRegex } else { throw bad }
        rest.removeFirst(op.rawValue.unicodeScalars.count)
        while let c = rest.first, isSpace(c) { rest.removeFirst() }
        let raw = String(rest)

        var value = String.UnicodeScalarView()
        var chars = Array(raw.unicodeScalars)
        var expectTrailingQuote = false
        if chars.first == "\"" {
            chars.removeFirst()
            expectTrailingQuote = true
        }
        var escaped = false
        for (i, c) in chars.enumerated() {
            if escaped {
                escaped = false
                switch c {
                case "n": value.append("\n")
                case "\"", "\\": value.append(c)
                default:  // a spurious escape: the backslash is literal
                    value.append("\\")
                    value.append(c)
                }
                continue
            }
            switch c {
            case "\\":
                if i < chars.count - 1 { escaped = true } else { value.append("\\") }
            case "\"":
                if !expectTrailingQuote || i < chars.count - 1 {
                    throw MatcherError(text: whole, reason: "the value contains an unescaped double quote: \(raw)")
                }
                expectTrailingQuote = false
            default:
                value.append(c)
            }
        }
        if expectTrailingQuote {
            throw MatcherError(text: whole, reason: "the value's double quote is not closed: \(raw)")
        }
        return .init(name: String(name), op: op, value: String(value), raw: raw, quoted: raw.hasPrefix("\""))
    }
}

/// Alertmanager's UTF-8 grammar, `matcher/parse` (v0.27+): a lexer and a parser with the
/// same tokens, states and error positions (1-based character columns here).
enum UTF8Grammar {
    private enum Kind: Equatable { case openBrace, closeBrace, comma, equals, notEquals, matches, notMatches, quoted, unquoted, eof }
    private struct Token {
        var kind: Kind
        var text: String
        var column: Int  // 1-based start
    }

    // Reserved characters end an unquoted token.
    private static func isReserved(_ c: Unicode.Scalar) -> Bool {
        c.properties.isWhitespace || "{}!=~,\\\"'`".unicodeScalars.contains(c)
    }

    static func parse(_ text: String) throws(MatcherError) -> [MatcherGrammar.Parsed] {
        let tokens = try lex(text)
        var i = 0
        func peek() -> Token { tokens[i] }
        func fail(_ t: Token, _ what: String) -> MatcherError {
            MatcherError(text: text, reason: t.kind == .eof ? "unexpected end of input; \(what)" : "unexpected \"\(t.text)\"; \(what)", column: t.column)
        }
        var result: [MatcherGrammar.Parsed] = []
        let hasOpenBrace = peek().kind == .openBrace
        if hasOpenBrace { i += 1 }
        if !hasOpenBrace && peek().kind == .eof { return [] }
        // matchers, separated by commas, a trailing comma allowed
        while peek().kind == .quoted || peek().kind == .unquoted {
            let nameToken = peek()
            i += 1
            let name = try unquote(nameToken, text)
            let opToken = peek()
            let op: Matcher.Operator
            switch opToken.kind {
            case .equals: op = .equal
            case .notEquals: op = .notEqual
            case .matches: op = .matchesRegex
            case .notMatches: op = .notMatchesRegex
            default: throw fail(opToken, "expected an operator such as '=', '!=', '=~' or '!~'")
            }
            i += 1
            let valueToken = peek()
            guard valueToken.kind == .quoted || valueToken.kind == .unquoted else { throw fail(valueToken, "expected a label value") }
            i += 1
            result.append(.init(name: name, op: op, value: try unquote(valueToken, text), raw: valueToken.text, quoted: valueToken.kind == .quoted))
            switch peek().kind {
            case .comma:
                i += 1
                guard [.closeBrace, .eof, .quoted, .unquoted].contains(peek().kind) else { throw fail(peek(), "expected a matcher or close brace after comma") }
            case .closeBrace, .eof: break
            default: throw fail(peek(), "expected a comma or close brace")
            }
        }
        if hasOpenBrace {
            guard peek().kind == .closeBrace else { throw fail(peek(), "expected a close brace") }
            i += 1
        } else if peek().kind == .closeBrace {
            throw fail(peek(), "expected an opening brace")
        }
        guard peek().kind == .eof else { throw fail(peek(), "expected end of input") }
        return result
    }

    private static func lex(_ text: String) throws(MatcherError) -> [Token] {
        let s = Array(text.unicodeScalars)
        var tokens: [Token] = []
        var i = 0
        func emit(_ kind: Kind, _ from: Int) { tokens.append(Token(kind: kind, text: String(String.UnicodeScalarView(s[from..<i])), column: from + 1)) }
        while i < s.count {
            let c = s[i], start = i
            switch c {
            case "{": i += 1; emit(.openBrace, start)
            case "}": i += 1; emit(.closeBrace, start)
            case ",": i += 1; emit(.comma, start)
            case "=":
                i += 1
                if i < s.count, s[i] == "~" { i += 1; emit(.matches, start) } else { emit(.equals, start) }
            case "!":
                i += 1
                if i < s.count, s[i] == "=" { i += 1; emit(.notEquals, start) } else if i < s.count, s[i] == "~" { i += 1; emit(.notMatches, start) } else {
                    throw MatcherError(text: text, reason: "expected \"=\" or \"~\" after \"!\"", column: i + 1)
                }
            case "\"":
                i += 1
                var escaped = false
                while i < s.count {
                    if escaped { escaped = false } else if s[i] == "\\" { escaped = true } else if s[i] == "\"" { break }
                    i += 1
                }
                guard i < s.count else { throw MatcherError(text: text, reason: "missing the closing double quote", column: start + 1) }
                i += 1
                emit(.quoted, start)
            case _ where c.properties.isWhitespace:
                i += 1
            case _ where !isReserved(c):
                while i < s.count, !isReserved(s[i]) { i += 1 }
                emit(.unquoted, start)
            default:
                throw MatcherError(text: text, reason: "unexpected \"\(String(c))\"", column: start + 1)
            }
        }
        tokens.append(Token(kind: .eof, text: "", column: s.count + 1))
        return tokens
    }

    private static func unquote(_ t: Token, _ text: String) throws(MatcherError) -> String {
        guard t.kind == .quoted else { return t.text }
        guard let s = GoString.unquote(t.text) else {
            throw MatcherError(text: text, reason: "invalid escape in \(t.text) (Go string escapes)", column: t.column)
        }
        return s
    }
}

/// Go's `strconv.Unquote` for double-quoted strings, which the UTF-8 grammar applies to
/// quoted names and values.
enum GoString {
    static func unquote(_ quoted: String) -> String? {
        var s = Array(quoted.unicodeScalars)
        guard s.count >= 2, s.first == "\"", s.last == "\"" else { return nil }
        s = Array(s[1..<(s.count - 1)])
        var bytes: [UInt8] = []
        var i = 0
        func hex(_ n: Int) -> UInt32? {
            guard i + n <= s.count else { return nil }
            var v: UInt32 = 0
            for c in s[i..<(i + n)] {
                guard let d = Int(String(c), radix: 16) else { return nil }
                v = v * 16 + UInt32(d)
            }
            i += n
            return v
        }
        while i < s.count {
            let c = s[i]
            i += 1
            if c == "\n" || c == "\"" { return nil }
            guard c == "\\" else {
                bytes.append(contentsOf: Array(String(c).utf8))
                continue
            }
            guard i < s.count else { return nil }
            let e = s[i]
            i += 1
            switch e {
            case "a": bytes.append(7)
            case "b": bytes.append(8)
            case "f": bytes.append(12)
            case "n": bytes.append(10)
            case "r": bytes.append(13)
            case "t": bytes.append(9)
            case "v": bytes.append(11)
            case "\\": bytes.append(92)
            case "\"": bytes.append(34)
            case "x":
                guard let v = hex(2) else { return nil }
                bytes.append(UInt8(v))
            case "u", "U":
                guard let v = hex(e == "u" ? 4 : 8), let scalar = Unicode.Scalar(v) else { return nil }
                bytes.append(contentsOf: Array(String(scalar).utf8))
            case "0"..."7":
                guard i + 2 <= s.count else { return nil }
                var v = UInt32(e.value - 48)
                for c in s[i..<(i + 2)] {
                    guard ("0"..."7").contains(c) else { return nil }
                    v = v * 8 + (c.value - 48)
                }
                i += 2
                guard v <= 255 else { return nil }
                bytes.append(UInt8(v))
            default:
                return nil
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
