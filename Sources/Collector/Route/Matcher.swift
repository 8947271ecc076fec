import CanoSDK

/// One compiled condition on an Issue, with Alertmanager's matcher semantics. Routes,
/// workflow triggers and (later) silences all evaluate conditions through this type, so
/// they cannot disagree.
///
/// Written like an Alertmanager matcher: `severity="HIGH"`, `namespace=~"prod-.*"`,
/// `team!="infra"`, `alertname!~"Watchdog|InfoInhibitor"`, or in the UTF-8 form with a
/// quoted name, `"service.name"="api"`. ``parseList(_:)`` documents the grammar.
///
/// The left side names an Issue field (`severity`, `source`, `type`, `status`, `namespace`,
/// `cluster`, `kind`, `name`, `node`, `container`, `aggregation_key`, `title`) or else a
/// subject label. `labels.X` always means the label X, for labels named like a field.
/// A missing field or label is the empty string, as in Alertmanager (so `team=""` matches
/// an Issue without a `team` label, and `team!=""` requires one).
///
/// Regexes are compiled once, here, as Alertmanager compiles them (unless the value is only
/// plain alternatives, answered by ``LiteralAlternatives`` without one): `^(?:value)$`, searched
/// rather than whole-matched (so a value such as `a)|(b` behaves as it does there), with
/// RE2's dialect enforced by ``RE2Dialect``. A matcher whose regex does not compile cannot
/// be built, so no evaluator has to guess what such a matcher means.
public struct Matcher: @unchecked Sendable, Equatable, CustomStringConvertible {
    // @unchecked: Regex is not Sendable, but it is immutable after init and only read.

    /// The four operators of Alertmanager's matchers.
    public enum Operator: String, Sendable, CaseIterable {
        case equal = "="
        case notEqual = "!="
        case matchesRegex = "=~"
        case notMatchesRegex = "!~"

        /// `=~` and `!~`.
        public var isRegex: Bool { self == .matchesRegex || self == .notMatchesRegex }
    }

    /// The Issue field or label the matcher reads.
    public let field: String
    public let op: Operator
    /// The value after unescaping: the literal to compare, or the regex source.
    public let value: String
    /// The compiled regex of a regex operator whose value is more than plain alternatives.
    private let regex: Regex<AnyRegexOutput>?
    /// The regex as plain alternatives, when it is only that: answered without the regex,
    /// which is then not compiled (every default workflow trigger is such a value, so a
    /// config without regex routes never runs the regex parser, nor maps its pages).
    private let literals: LiteralAlternatives?

    /// Builds and compiles a matcher, like Alertmanager's `labels.NewMatcher`: a regex value
    /// that RE2 would refuse, or that does not compile, is an error.
    public init(_ field: String, _ op: Operator, _ value: String) throws(MatcherError) {
        self.field = field
        self.op = op
        self.value = value
        let literals = op.isRegex ? LiteralAlternatives(value) : nil
        self.literals = literals
        self.regex = op.isRegex && literals == nil ? try Self.compile(value, text: "\(field)\(op.rawValue)\(value)") : nil
    }

    /// A matcher written in code, whose value is known to be valid. An invalid regex here is
    /// a programming error and traps; configuration goes through ``parse(_:)``.
    public init(field: String, op: Operator, value: String) {
        do throws(MatcherError) { try self.init(field, op, value) } catch {
            preconditionFailure(error.description)
        }
    }

    /// Exactly one matcher; see ``parseList(_:)`` for the grammar.
    public static func parse(_ text: String) throws(MatcherError) -> Matcher {
        let list = try parseList(text)
        guard list.count == 1 else {
            throw MatcherError(text: text, reason: list.isEmpty ? "expected a matcher" : "expected one matcher, found \(list.count)")
        }
        return list[0]
    }

    /// The matchers in one line of a `matchers:` list, read as Alertmanager reads it.
    ///
    /// A line holds one matcher or several separated by commas, optionally in braces:
    /// `{team="db", severity!="INFO"}`. Values may be double-quoted, with the escapes `\\`,
    /// `\"` and `\n`. Alertmanager has two grammars, and so does this function, combined as
    /// Alertmanager ≥ 0.27 combines them by default:
    /// - the UTF-8 grammar (`matcher/parse`): names may be quoted (`"service.name"="x"`), so
    ///   any label name can be written; quoted strings use Go's escapes;
    /// - the classic grammar (`pkg/labels`, Alertmanager ≤ 0.26): names are
    ///   `[a-zA-Z_:][a-zA-Z0-9_:]*`; unquoted values run to the end of the matcher, spaces
    ///   and backslashes included, and a `\` before any other character stays literal.
    ///
    /// When both accept a line, or only the classic one does, the classic reading wins
    /// (it is what Alertmanager 0.25 and the 0.27 fallback mode use); a line only the UTF-8
    /// grammar accepts is read with it. One deliberate difference: an unquoted value that
    /// starts with `=`, `!` or `~` (`severity==HIGH`) is refused rather than read as the
    /// value `=HIGH`: it is nearly always a typo for an operator, and would never match.
    public static func parseList(_ text: String) throws(MatcherError) -> [Matcher] {
        try MatcherGrammar.parseList(text)
    }

    /// Whether `actual` (the field's or label's value, `""` if missing) satisfies this matcher.
    public func matches(_ actual: String) -> Bool {
        switch op {
        case .equal: return actual == value
        case .notEqual: return actual != value
        case .matchesRegex: return searches(actual)
        case .notMatchesRegex: return !searches(actual)
        }
    }

    /// Whether `issue` satisfies this matcher.
    public func matches(_ issue: Issue) -> Bool {
        matches(Self.value(of: field, in: issue))
    }

    // Alertmanager calls Go's MatchString, a search, on `^(?:value)$`; a value that closes
    // the group itself (`a)|(b`) is therefore only half-anchored there, and here too.
    private func searches(_ actual: String) -> Bool {
        if let literals { return literals.matches(actual) }
        guard let regex else { return false }  // unreachable: regex operators have one or the other
        return (try? regex.firstMatch(in: actual)) != nil
    }

    /// The value a matcher's left side refers to: an Issue field (``issueFields``), else a
    /// subject label; `labels.X` is always the label X. Missing is `""`.
    public static func value(of field: String, in issue: Issue) -> String {
        if let read = fields[field] { return read(issue) }
        let label = field.hasPrefix("labels.") ? String(field.dropFirst("labels.".count)) : field
        return issue.subject.labels[label] ?? ""
    }

    /// The Issue fields a matcher can name; any other name is a label.
    public static var issueFields: Set<String> { Set(fields.keys) }

    private static let fields: [String: @Sendable (Issue) -> String] = [
        "severity": { $0.severity.rawValue },
        "source": { $0.source.rawValue },
        "type": { $0.type.rawValue },
        "status": { $0.status.rawValue },
        "namespace": { $0.subject.namespace ?? "" },
        "cluster": { $0.cluster ?? "" },
        "kind": { $0.subject.kind ?? "" },
        "name": { $0.subject.name ?? "" },
        "node": { $0.subject.node ?? "" },
        "container": { $0.subject.container ?? "" },
        "aggregation_key": { $0.aggregationKey },
        "title": { $0.title },
    ]

    /// Compiles `^(?:pattern)$` with RE2's meaning (see ``RE2Dialect``).
    static func compile(_ pattern: String, text: String) throws(MatcherError) -> Regex<AnyRegexOutput> {
        let translated: String
        do throws(RE2Dialect.Refusal) { translated = try RE2Dialect.translate(pattern) } catch {
            throw MatcherError(text: text, reason: "invalid regular expression: \(error.reason)")
        }
        do {
            return try Regex("^(?:\(translated))$")
                .matchingSemantics(.unicodeScalar)  // Go matches runes, not grapheme clusters
                .asciiOnlyCharacterClasses()        // Go's \d \w \s are ASCII
                .wordBoundaryKind(.simple)          // Go's \b is the ASCII \w boundary
        } catch {
            throw MatcherError(text: text, reason: "invalid regular expression: \(error)")
        }
    }

    /// Alertmanager's rendering: `name="value"` with `\\`, `\"` and `\n` escaped; a name that
    /// is not a classic label name is quoted, as the UTF-8 form requires.
    public var description: String {
        let name = MatcherGrammar.isClassicName(field) || field.hasPrefix("labels.") ? field : "\"\(MatcherGrammar.escape(field))\""
        return "\(name)\(op.rawValue)\"\(MatcherGrammar.escape(value))\""
    }

    public static func == (a: Matcher, b: Matcher) -> Bool {
        a.field == b.field && a.op == b.op && a.value == b.value
    }
}

/// A matcher that does not parse, or whose regex RE2 would refuse.
public struct MatcherError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The matcher as written (after YAML unescaping).
    public var text: String
    public var reason: String
    /// The 1-based character position of the problem within `text`, when known.
    public var column: Int?

    public init(text: String, reason: String, column: Int? = nil) {
        self.text = text
        self.reason = reason
        self.column = column
    }

    public var description: String {
        "invalid matcher '\(text)': \(reason)" + (column.map { " (at character \($0))" } ?? "")
    }
}

/// A regex that is only alternatives of plain ASCII text, each maybe opened or closed by
/// `.*` (`Watchdog|InfoInhibitor`, `OOMKilled|.*OOMKill.*`), answered by comparing bytes
/// exactly as RE2 answers `^(?:…)$`. The default workflows test several such triggers on
/// every alert, and running the regex engine for them was 5% of ingest's CPU.
struct LiteralAlternatives: Sendable {
    private enum Form: Sendable { case exact, prefix, suffix, contains }
    private let alternatives: [(form: Form, text: [UInt8])]

    /// Nil unless every alternative is plain text (letters, digits, `_`, `-`, space) with
    /// at most a leading and a trailing `.*`.
    init?(_ pattern: String) {
        var alternatives: [(Form, [UInt8])] = []
        for part in pattern.split(separator: "|", omittingEmptySubsequences: false) {
            var body = Substring(part)
            let open = body.hasPrefix(".*")
            if open { body = body.dropFirst(2) }
            let close = body.hasSuffix(".*")
            if close { body = body.dropLast(2) }
            guard body.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_- ".unicodeScalars.contains($0)) })
            else { return nil }
            alternatives.append((open && close ? .contains : open ? .suffix : close ? .prefix : .exact, Array(body.utf8)))
        }
        self.alternatives = alternatives
    }

    /// Whether `actual` matches. `.` matches any character but a newline (RE2 without the
    /// `s` flag), so what a `.*` covers must hold none; the text itself never does.
    func matches(_ actual: String) -> Bool {
        let bytes = Array(actual.utf8)
        let newline = UInt8(ascii: "\n")
        return alternatives.contains { form, text in
            guard bytes.count >= text.count else { return false }
            switch form {
            case .exact: return bytes == text
            case .prefix: return bytes.starts(with: text) && !bytes[text.count...].contains(newline)
            case .suffix: return bytes[(bytes.count - text.count)...].elementsEqual(text) && !bytes[..<(bytes.count - text.count)].contains(newline)
            case .contains:
                return !bytes.contains(newline) && (0...(bytes.count - text.count)).contains { bytes[$0..<($0 + text.count)].elementsEqual(text) }
            }
        }
    }
}
