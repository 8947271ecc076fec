#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Yams

/// Walks a composed YAML tree and collects problems instead of stopping at the first one.
///
/// It applies the two file-wide rules of the config format in one place:
/// - `${VAR}` (and `${VAR:-default}`) in scalar values are replaced from the environment;
///   `$$` is a literal `$`. An unset variable without a default is a problem.
/// - a key `name_file: PATH` stands for `name:` with the file's content (one trailing
///   newline removed), so secrets can come from mounted Secret files.
final class YAMLReader {
    /// A node with the key path that led to it.
    struct Located {
        let node: Node
        let path: String
        var location: String { node.mark.map { "\($0.line):\($0.column)" } ?? "" }
    }

    private(set) var problems: [ConfigError.Problem] = []
    private let environment: [String: String]
    private let readFile: (String) throws -> String

    init(environment: [String: String], readFile: @escaping (String) throws -> String) {
        self.environment = environment
        self.readFile = readFile
    }

    func problem(_ at: Located, _ message: String) {
        problems.append(.init(location: at.location, path: at.path, message: message))
    }

    func problem(path: String, _ message: String) {
        problems.append(.init(location: "", path: path, message: message))
    }

    /// The members of a mapping, in file order, with `*_file` keys resolved. Keys not in
    /// `allowed` are problems (unknown keys are errors); `nil` allows any key.
    func mapping(_ at: Located, allowed: Set<String>?) -> [(key: String, value: Located)] {
        guard case .mapping(let mapping) = at.node else {
            if !isNull(at.node) { problem(at, "expected a mapping") }
            return []
        }
        var result: [(key: String, value: Located)] = []
        var seen: Set<String> = []
        for (keyNode, valueNode) in mapping {
            guard let rawKey = keyNode.scalar?.string else {
                problem(Located(node: keyNode, path: at.path), "keys must be strings")
                continue
            }
            var key = rawKey
            var value = Located(node: valueNode, path: join(at.path, rawKey))
            if rawKey.hasSuffix("_file"), rawKey.count > 5, allowed.map({ !$0.contains(rawKey) }) ?? true {
                key = String(rawKey.dropLast(5))
                guard allowed?.contains(key) ?? true else {
                    problem(Located(node: keyNode, path: value.path), "unknown key \"\(rawKey)\"\(suggestion(for: rawKey, in: allowed))")
                    continue
                }
                guard let path = string(value) else { continue }
                do {
                    var content = try readFile(path)
                    if content.hasSuffix("\n") { content.removeLast() }
                    value = Located(node: .scalar(.init(content, .implicit, .doubleQuoted, valueNode.mark)), path: join(at.path, key))
                } catch {
                    problem(value, "cannot read file \"\(path)\" for \"\(key)\": \(error)")
                    continue
                }
            } else if let allowed, !allowed.contains(rawKey) {
                problem(Located(node: keyNode, path: value.path), "unknown key \"\(rawKey)\"\(suggestion(for: rawKey, in: allowed))")
                continue
            }
            guard seen.insert(key).inserted else {
                problem(value, "\"\(key)\" is given more than once (directly and as \(key)_file?)")
                continue
            }
            result.append((key, value))
        }
        return result
    }

    /// The elements of a sequence.
    func sequence(_ at: Located) -> [Located] {
        guard case .sequence(let sequence) = at.node else {
            if !isNull(at.node) { problem(at, "expected a list") }
            return []
        }
        return sequence.enumerated().map { Located(node: $0.element, path: "\(at.path)[\($0.offset)]") }
    }

    /// A scalar as a string, with `${VAR}` substituted.
    func string(_ at: Located) -> String? {
        guard case .scalar(let scalar) = at.node else {
            problem(at, "expected a string")
            return nil
        }
        return substitute(scalar.string, at)
    }

    func strings(_ at: Located) -> [String] {
        sequence(at).compactMap { string($0) }
    }

    func int(_ at: Located, range: ClosedRange<Int>) -> Int? {
        guard let text = string(at) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            problem(at, "expected a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
            return nil
        }
        return value
    }

    func bool(_ at: Located) -> Bool? {
        guard let text = string(at) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            problem(at, "expected true or false, got \"\(text)\"")
            return nil
        }
    }

    /// HIGH, LOW, INFO or DEBUG, in any case.
    func severity(_ at: Located) -> Severity? {
        guard let text = string(at) else { return nil }
        guard let s = Severity(rawValue: text.uppercased()) else {
            problem(at, "unknown severity \"\(text)\"; expected HIGH, LOW, INFO or DEBUG")
            return nil
        }
        return s
    }

    /// A list of route matchers (`severity="HIGH"`...), each checked where it is written.
    func matchers(_ at: Located) -> [Matcher] {
        sequence(at).compactMap { item -> Matcher? in
            guard let text = string(item) else { return nil }
            do throws(MatcherError) { return try Matcher.parse(text) } catch {
                problem(item, error.description)
                return nil
            }
        }
    }

    /// "500ms", "10s", "5m", "1h30m", "2d".
    func duration(_ at: Located) -> Duration? {
        guard let text = string(at) else { return nil }
        guard let value = Self.parseDuration(text) else {
            problem(at, "expected a duration like 500ms, 10s, 5m or 1h, got \"\(text)\"")
            return nil
        }
        return value
    }

    /// The subtree as JSON, for plugin configs. YAML's implicit types are kept (a plain
    /// `8080` is a number, a quoted `"8080"` a string).
    func json(_ at: Located) -> JSONValue {
        switch at.node {
        case .scalar(let scalar):
            let text = substitute(scalar.string, at) ?? ""
            guard scalar.style == .plain else { return .string(text) }
            if isNull(at.node) { return .null }
            if let b = Node(text).bool, ["true", "false"].contains(text.lowercased()) { return .bool(b) }
            if let i = Int(text) { return .number(Double(i)) }
            if let d = Double(text), text.contains(".") { return .number(d) }
            return .string(text)
        case .mapping:
            var members: [String: JSONValue] = [:]
            for (key, value) in mapping(at, allowed: nil) { members[key] = json(value) }
            return .object(members)
        case .sequence:
            return .array(sequence(at).map { json($0) })
        case .alias:
            problem(at, "YAML aliases are not supported here")
            return .null
        }
    }

    /// A plugin's `config:` block as a JSON object (absent or null means `{}`).
    func pluginConfig(_ at: Located) -> JSONValue {
        let config = json(at)
        if config == .null { return .object([:]) }
        if config.objectValue == nil { problem(at, "config must be a mapping") }
        return config
    }

    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    static func parseDuration(_ text: String) -> Duration? {
        var total = Duration.zero
        var number = ""
        var unit = ""
        var parsedAny = false
        func flush() -> Bool {
            guard let n = Double(number) else { return false }
            let scale: Double
            switch unit {
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d": scale = 86_400
            default: return false
            }
            total += .milliseconds(Int64((n * scale * 1000).rounded()))
            number = ""
            unit = ""
            parsedAny = true
            return true
        }
        for c in text {
            if c.isNumber || c == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(c)
            } else if c.isLetter {
                guard !number.isEmpty else { return nil }
                unit.append(c)
            } else {
                return nil
            }
        }
        if !number.isEmpty { guard flush() else { return nil } }
        return parsedAny ? total : nil
    }

    private func substitute(_ text: String, _ at: Located) -> String? {
        guard text.contains("$") else { return text }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            let next = text.index(after: i)
            if c == "$", next < text.endIndex, text[next] == "$" {
                out.append("$")
                i = text.index(after: next)
            } else if c == "$", next < text.endIndex, text[next] == "{", let close = text[next...].firstIndex(of: "}") {
                let inner = String(text[text.index(after: next)..<close])
                let (name, fallback): (String, String?) = {
                    if let r = inner.firstRange(of: ":-") { return (String(inner[..<r.lowerBound]), String(inner[r.upperBound...])) }
                    return (inner, nil)
                }()
                if let value = environment[name] ?? fallback {
                    out += value
                } else {
                    problem(at, "environment variable \(name) is not set (use ${\(name):-default} for a default)")
                    return nil
                }
                i = text.index(after: close)
            } else {
                out.append(c)
                i = next
            }
        }
        return out
    }

    private func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    private func suggestion(for key: String, in allowed: Set<String>?) -> String {
        guard let allowed, !allowed.isEmpty else { return "" }
        let close = allowed.min { editDistance($0, key) < editDistance($1, key) }
        if let close, editDistance(close, key) <= 2 { return "; did you mean \"\(close)\"?" }
        return "; expected one of: " + allowed.sorted().joined(separator: ", ")
    }

    private func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}
