import CanoSDK

/// One condition of a route, written like an Alertmanager matcher:
/// `severity="HIGH"`, `namespace=~"prod-.*"`, `team!="infra"`, `alertname!~"Watchdog|InfoInhibitor"`.
///
/// The left side names an Issue field (`severity`, `source`, `type`, `status`, `namespace`,
/// `cluster`, `kind`, `name`, `node`, `container`, `aggregation_key`, `title`) or else a
/// subject label. `labels.X` always means the label X, for labels named like a field.
/// Regexes are anchored (they must match the whole value), as in Alertmanager. A missing
/// field or label is the empty string.
public struct Matcher: Sendable, Equatable, CustomStringConvertible {
    public enum Operator: String, Sendable, CaseIterable {
        case equal = "="
        case notEqual = "!="
        case matchesRegex = "=~"
        case notMatchesRegex = "!~"
    }

    public var field: String
    public var op: Operator
    public var value: String

    public init(field: String, op: Operator, value: String) {
        self.field = field
        self.op = op
        self.value = value
    }

    /// Parses `name<op>"value"` (quotes optional).
    public static func parse(_ text: String) throws(MatcherError) -> Matcher {
        let trimmed = text.trimmingSpaces
        // Find the operator: the first of = ! ~ after a name.
        guard let opStart = trimmed.firstIndex(where: { $0 == "=" || $0 == "!" }) else {
            throw MatcherError(text: text, reason: "expected an operator (=, !=, =~, !~)")
        }
        let field = String(trimmed[..<opStart]).trimmingSpaces
        guard !field.isEmpty, field.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "/" || $0 == "-" }) else {
            throw MatcherError(text: text, reason: "expected a field or label name before the operator")
        }
        let rest = trimmed[opStart...]
        let op: Operator
        if rest.hasPrefix("=~") { op = .matchesRegex } else if rest.hasPrefix("!=") { op = .notEqual } else if rest.hasPrefix("!~") { op = .notMatchesRegex } else if rest.hasPrefix("=") { op = .equal } else {
            throw MatcherError(text: text, reason: "expected an operator (=, !=, =~, !~)")
        }
        var value = String(rest.dropFirst(op.rawValue.count)).trimmingSpaces
        if value.count >= 2, value.first == "\"", value.last == "\"" {
            value = String(value.dropFirst().dropLast())
        } else if value.first == "\"" || value.last == "\"" {
            throw MatcherError(text: text, reason: "unbalanced quotes in the value")
        }
        let matcher = Matcher(field: field, op: op, value: value)
        if op == .matchesRegex || op == .notMatchesRegex {
            do { _ = try Regex("^(?:\(value))$") } catch {
                throw MatcherError(text: text, reason: "invalid regular expression: \(error)")
            }
        }
        return matcher
    }

    public var description: String { "\(field)\(op.rawValue)\"\(value)\"" }
}

/// A matcher that does not parse.
public struct MatcherError: Error, Sendable, Equatable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "invalid matcher '\(text)': \(reason)" }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
