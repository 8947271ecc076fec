/// Makes a Swift `Regex` mean what Go's RE2 (Alertmanager's engine) means by a pattern, or
/// refuses the pattern where RE2 does.
///
/// Swift's engine accepts a superset of RE2, and reads some shared syntax differently. One
/// pass over the pattern:
/// - refuses what RE2 refuses: lookarounds and atomic groups (`(?=`, `(?!`, `(?<=`, `(?<!`,
///   `(?>`), backreferences (`\1`, `\k<n>`), possessive and nested quantifiers (`a*+`,
///   `a**`), repeat counts over 1000, flags other than `imsU`, and escapes of letters RE2
///   does not define (`\Z`, `\h`, `\R`, `\X`, `\K`, `\G`, `\N`...);
/// - rewrites what both accept but read differently: a `{` that does not start a valid
///   repeat is literal in RE2 (`a{,2}`); `.` excludes only `\n` in RE2, all line breaks in
///   Swift; POSIX classes (`[[:alpha:]]`) are ASCII in RE2; `[`, `&` and `~` inside a class
///   are literals in RE2 but nest or start set operations in Swift; `\pL` is `\p{L}`;
///   octal escapes (`\101`) become `\x{41}`.
///
/// Known differences that remain: with the `m` flag Swift's `^` and `$` also break at `\r`
/// and other line separators (RE2: `\n` only); `\S` inside a class excludes `\v`; `\C`
/// (any byte) and negated POSIX classes (`[[:^alpha:]]`) are refused rather than
/// translated; case folding follows Swift's Unicode tables, which may differ from Go's in
/// rare characters.
enum RE2Dialect {
    struct Refusal: Error {
        let reason: String
    }

    private static let posixClasses: [String: String] = [
        "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x{0}-\\x{7F}", "blank": "\\t ", "cntrl": "\\x{0}-\\x{1F}\\x{7F}",
        "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~", "punct": "!-/:-@\\[-`\\{-~", "space": "\\t\\n\\x{B}\\f\\r ",
        "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
    ]

    /// RE2's `.` without the `s` flag: anything but `\n`. Swift's `.` also stops at these.
    private static let dot = "(?:.|[\\r\\x{B}\\x{C}\\x{85}\\x{2028}\\x{2029}])"

    static func translate(_ pattern: String) throws(Refusal) -> String {
        let s = Array(pattern.unicodeScalars)
        var out = ""
        var i = 0
        var inClass = false
        var classBodyStart = false  // right after `[` or `[^`, where `]` is literal
        var repeatState = 0  // 0: after an atom, 1: after a quantifier, 2: after a lazy quantifier

        func quantifier(_ text: String, lazyMark: Bool) throws(Refusal) {
            if lazyMark && repeatState == 1 {
                repeatState = 2
            } else if repeatState != 0 {
                throw Refusal(reason: "nested repetition operator \(text) (possessive quantifiers are not RE2)")
            } else {
                repeatState = 1
            }
            out += text
        }

        while i < s.count {
            let c = s[i]
            if c == "\\" {
                try escape(s, &i, &out, inClass: inClass)
                classBodyStart = false
                if !inClass { repeatState = 0 }
                continue
            }
            if inClass {
                switch c {
                case "]" where !classBodyStart:
                    inClass = false
                    repeatState = 0
                    out += "]"
                case "[":
                    if let (name, negated, end) = posix(s, i) {
                        guard let ranges = posixClasses[name] else { throw Refusal(reason: "unknown character class [:\(name):]") }
                        guard !negated else { throw Refusal(reason: "negated POSIX classes ([:^\(name):]) are not supported here") }
                        out += ranges
                        i = end
                        classBodyStart = false
                        continue
                    }
                    out += "\\["
                case "]": out += "\\]"
                case "&", "~": out += "\\" + String(c)
                default: out.unicodeScalars.append(c)
                }
                classBodyStart = false
                i += 1
                continue
            }
            switch c {
            case "[":
                inClass = true
                classBodyStart = true
                out += "["
                if i + 1 < s.count, s[i + 1] == "^" {
                    out += "^"
                    i += 1
                }
            case "(":
                try group(s, i)
                repeatState = 0
                out += "("
            case "*", "+":
                try quantifier(String(c), lazyMark: false)
            case "?":
                try quantifier("?", lazyMark: true)
            case "{":
                if let (text, end) = try repeatCount(s, i) {
                    try quantifier(text, lazyMark: false)
                    i = end
                    continue
                }
                out += "\\{"
                repeatState = 0
            case "}":
                out += "\\}"
                repeatState = 0
            case ".":
                out += dot
                repeatState = 0
            default:
                out.unicodeScalars.append(c)
                repeatState = 0
            }
            i += 1
        }
        return out
    }

    /// `\` at `i`; appends the translation and moves past it.
    private static func escape(_ s: [Unicode.Scalar], _ i: inout Int, _ out: inout String, inClass: Bool) throws(Refusal) {
        guard i + 1 < s.count else { throw Refusal(reason: "trailing backslash") }
        let c = s[i + 1]
        i += 2
        switch c {
        case "Q" where !inClass:
            // Literal text up to \E; every character escaped, so Swift reads it literally too.
            while i < s.count, !(s[i] == "\\" && i + 1 < s.count && s[i + 1] == "E") {
                out += "\\x{\(String(s[i].value, radix: 16))}"
                i += 1
            }
            if i < s.count { i += 2 }
        case "0"..."7":
            // RE2: \0 and \1..\7 followed by an octal digit are octal escapes; else a backreference.
            var digits = String(c)
            while digits.count < 3, i < s.count, ("0"..."7").contains(s[i]) {
                digits.unicodeScalars.append(s[i])
                i += 1
            }
            guard c == "0" || digits.count > 1 else { throw Refusal(reason: "backreferences (\\\(c)) are not supported by RE2") }
            out += "\\x{\(String(Int(digits, radix: 8)!, radix: 16))}"
        case "8", "9":
            throw Refusal(reason: "backreferences (\\\(c)) are not supported by RE2")
        case "p", "P":
            if i < s.count, s[i] == "{" {
                guard let close = s[i...].firstIndex(of: "}") else { throw Refusal(reason: "unclosed \\\(c){") }
                out += "\\\(c)" + String(String.UnicodeScalarView(s[i...close]))
                i = close + 1
            } else if i < s.count {
                out += "\\\(c){\(s[i])}"
                i += 1
            } else {
                throw Refusal(reason: "\\\(c) needs a class name")
            }
        case "s":  // RE2's \s is [\t\n\f\r ]; Swift's ASCII \s adds \v
            out += inClass ? "\\t\\n\\f\\r " : "[\\t\\n\\f\\r ]"
        case "S" where !inClass:
            out += "[^\\t\\n\\f\\r ]"
        case "a", "f", "t", "n", "r", "v", "x", "d", "D", "S", "w", "W":
            out += "\\" + String(c)
        case "A", "z", "b", "B":
            guard !inClass else { throw Refusal(reason: "\\\(c) is not allowed in a character class") }
            out += "\\" + String(c)
        default:
            guard c.isASCII, !(c.properties.isAlphabetic || ("0"..."9").contains(c)) else {
                throw Refusal(reason: "\\\(c) is not an RE2 escape")
            }
            out += "\\" + String(c)  // escaped punctuation is literal in both
        }
    }

    /// Refuses group syntax RE2 lacks; `(` is at `i`.
    private static func group(_ s: [Unicode.Scalar], _ i: Int) throws(Refusal) {
        guard i + 1 < s.count, s[i + 1] == "?" else { return }
        var j = i + 2
        if j < s.count, s[j] == "P" { j += 1 }
        if j < s.count, s[j] == "<", j + 1 < s.count, s[j + 1] != "=", s[j + 1] != "!" { return }  // named group
        while j < s.count, "imsU-".unicodeScalars.contains(s[j]) { j += 1 }
        if j > i + 2, j < s.count, s[j] == ")" || s[j] == ":" { return }
        if j == i + 2, j < s.count, s[j] == ":" { return }
        let shown = String(String.UnicodeScalarView(s[i..<min(s.count, i + 4)]))
        throw Refusal(reason: "\(shown)…: lookarounds, atomic groups, comments, flags other than imsU and other Perl group syntax are not RE2")
    }

    /// `{n}`, `{n,}` or `{n,m}` starting at `i`, with the index after it; nil for a literal `{`.
    private static func repeatCount(_ s: [Unicode.Scalar], _ i: Int) throws(Refusal) -> (String, Int)? {
        var j = i + 1
        func number() -> Int? {
            let start = j
            while j < s.count, ("0"..."9").contains(s[j]) { j += 1 }
            return j > start ? Int(String(String.UnicodeScalarView(s[start..<j]))) : nil
        }
        guard let low = number() else { return nil }
        var high: Int? = low
        if j < s.count, s[j] == "," {
            j += 1
            high = number()
        }
        guard j < s.count, s[j] == "}" else { return nil }
        j += 1
        if low > 1000 || (high ?? 0) > 1000 { throw Refusal(reason: "repeat count over 1000") }
        if let high, high < low { throw Refusal(reason: "invalid repeat count {\(low),\(high)}") }
        return (String(String.UnicodeScalarView(s[i..<j])), j)
    }

    /// `[:name:]` or `[:^name:]` at `i` (inside a class).
    private static func posix(_ s: [Unicode.Scalar], _ i: Int) -> (String, Bool, Int)? {
        guard i + 1 < s.count, s[i + 1] == ":" else { return nil }
        var j = i + 2
        let negated = j < s.count && s[j] == "^"
        if negated { j += 1 }
        let start = j
        while j < s.count, ("a"..."z").contains(s[j]) { j += 1 }
        guard j + 1 < s.count, s[j] == ":", s[j + 1] == "]" else { return nil }
        return (String(String.UnicodeScalarView(s[start..<j])), negated, j + 2)
    }
}
