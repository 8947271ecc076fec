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
/// - a key `name_file: PATH` stands for `name:` with the file's content, so secrets can
///   come from mounted Secret files. In a destination's `config:` the file is not read
///   here: the key becomes a placeholder that the destination's create resolves
///   (``resolveFiles(in:pathKeys:readFile:)``), once the plugin is known. A plugin may
///   declare keys that are paths it opens itself (`ca_file`, ABI v1.1 `path_keys`); those
///   are passed through. A file that cannot be read yet is retried with the create, so a
///   Secret mounted after the start still works.
/// - file contents and `${VAR}` values lose trailing whitespace and newlines
///   (``secret(_:)``), for every plugin and the intake's auth alike.
final class YAMLReader {
    /// Composes YAML text into a node tree for the reader, or throws Yams' `YamlError`.
    ///
    /// With Yams' `.basic` resolver, not its `.default`: the reader types every scalar
    /// itself (``int(_:range:)``, ``bool(_:)``, ``json(_:)``), and `.default`'s rules are
    /// `NSRegularExpression`s whose compilation loads ICU's regex and Unicode-property data,
    /// about 1 MiB kept resident for the life of the process (docs/benchmarks.md, "RSS idle").
    static func compose(_ text: String) throws -> Node? {
        try Yams.compose(yaml: text, .basic)
    }

    /// The tag of the nodes the reader makes itself; Yams' `Tag.implicit` would also bring
    /// in the `.default` resolver (``compose(_:)``). (A new one each time: `Tag` is a class,
    /// not `Sendable`.)
    private static var implicitTag: Tag { Tag(.implicit, .basic) }

    /// A node with the key path that led to it.
    struct Located {
        let node: Node
        let path: String
        var location: String { node.mark.map { "\($0.line):\($0.column)" } ?? "" }
    }

    private(set) var problems: [ConfigError.Problem] = []
    /// Resolved values that only the reader sees as secret: every `*_file` content (by
    /// convention a mounted Secret) and every `${VAR}` value whose variable name looks
    /// secret (``SecretSafe/isSecretKey(_:)``). ``ConfigLoader`` registers them with
    /// ``SecretScrubber`` before any error is reported.
    private(set) var secretValues: [String] = []
    private let environment: [String: String]
    private let readFile: (String) throws -> String
    /// Relative `*_file` paths are read from here (the config file's directory).
    private let baseDirectory: String?

    /// A reader substituting from `environment`; `readFile` reads a `*_file` (its path
    /// made absolute against `baseDirectory` when relative and a base is given).
    init(environment: [String: String], baseDirectory: String? = nil, readFile: @escaping (String) throws -> String) {
        self.environment = environment
        self.baseDirectory = baseDirectory
        self.readFile = readFile
    }

    /// `path` against ``baseDirectory`` when it is relative.
    private func absolute(_ path: String) -> String {
        guard let baseDirectory, !path.hasPrefix("/") else { return path }
        return baseDirectory + "/" + path
    }

    func problem(_ at: Located, _ message: String) {
        problems.append(.init(location: at.location, path: at.path, message: message))
    }

    func problem(path: String, _ message: String) {
        problem(path: path, locatedAt: path, message)
    }

    /// A problem named by `path`, placed at the line:column recorded for `locatedAt`.
    func problem(path: String, locatedAt: String, _ message: String) {
        problems.append(.init(location: locations[locatedAt] ?? locations[path] ?? "", path: path, message: message))
    }

    /// line:column of every mapping value and list element read so far, by key path, so
    /// that cross-checks made after reading (ConfigLoader's validate) can say where.
    private(set) var locations: [String: String] = [:]

    /// True while reading a destination's `config:` (``pluginConfig(_:deferFiles:)``):
    /// `*_file` values become placeholders instead of being read.
    private var deferFiles = false

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
                guard let path = string(value).map(absolute) else { continue }
                if deferFiles {
                    // Whether it is a secret to read or a path to pass on is the plugin's
                    // call (path_keys), and a Secret may be mounted after the start: the
                    // destination's create resolves it (DestinationFactory), retrying.
                    // Read now all the same when it can be, only to register the content
                    // with the scrubber from the start (a path key's file, a CA, costs
                    // nothing there); a file not there yet is no problem here.
                    if let content = try? readFile(path) { secretValues.append(Self.secret(content)) }
                    value = Located(node: .mapping(.init([(Node(Self.unreadFileMarker, Self.implicitTag), .scalar(.init(path, Self.implicitTag, .doubleQuoted, valueNode.mark)))],
                                                                 Self.implicitTag)),
                                    path: join(at.path, key))
                } else {
                    do {
                        let content = Self.secret(try readFile(path))
                        secretValues.append(content)
                        value = Located(node: .scalar(.init(content, Self.implicitTag, .doubleQuoted, valueNode.mark)), path: join(at.path, key))
                    } catch {
                        problem(value, "cannot read file \"\(path)\" for \"\(key)\": \(Self.reason(reading: path, error))")
                        continue
                    }
                }
            } else if let allowed, !allowed.contains(rawKey) {
                problem(Located(node: keyNode, path: value.path), "unknown key \"\(rawKey)\"\(suggestion(for: rawKey, in: allowed))")
                continue
            }
            locations[value.path] = Located(node: valueNode, path: value.path).location
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
        return sequence.enumerated().map {
            let element = Located(node: $0.element, path: "\(at.path)[\($0.offset)]")
            locations[element.path] = element.location
            return element
        }
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

    /// An http(s) URL with a host and no credentials in it (they would show wherever the
    /// URL does); anything else is a problem naming `name` and an `example`.
    func httpURL(_ at: Located, name: String, example: String) -> String? {
        guard let text = string(at) else { return nil }
        let rest = text.hasPrefix("https://") ? text.dropFirst(8) : text.hasPrefix("http://") ? text.dropFirst(7) : nil
        guard let rest, let authority = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first, !authority.isEmpty else {
            problem(at, "\(name) must be an http(s) URL with a host, e.g. \(example)")
            return nil
        }
        guard !authority.contains("@") else {
            problem(at, "\(name) must not carry credentials; use the section's own keys for them")
            return nil
        }
        return text
    }

    /// A non-negative number ("0.15", "2").
    func double(_ at: Located) -> Double? {
        guard let text = string(at) else { return nil }
        guard let value = Double(text), value >= 0, value.isFinite else {
            problem(at, "expected a number of 0 or more, got \"\(text)\"")
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

    /// A `matchers:` list as Alertmanager reads it: each line holds one matcher or several,
    /// comma-separated (``Matcher/parseList(_:)``). YAML unescapes the line first (in a
    /// double-quoted scalar), then the matcher grammar unescapes the quoted value: the two
    /// layers of alertmanager.yml. A bad line is a problem at its line:column.
    func matchers(_ at: Located) -> [Matcher] {
        sequence(at).flatMap { item -> [Matcher] in
            guard let text = string(item) else { return [] }
            do throws(MatcherError) { return try Matcher.parseList(text) } catch {
                problem(item, error.description)
                return []
            }
        }
    }

    /// A route's legacy `match:` (`op` is `=`) or `match_re:` (`=~`) map. As in Alertmanager
    /// the values are used as YAML gives them, without matcher unescaping, and the keys must
    /// be label names (`[a-zA-Z_][a-zA-Z0-9_]*`); `labels.` and a label name is also allowed.
    /// Not read through ``mapping(_:allowed:)``: a label may well be named `config_file`.
    func matchMap(_ at: Located, op: Matcher.Operator) -> [Matcher] {
        guard case .mapping(let mapping) = at.node else {
            if !isNull(at.node) { problem(at, "expected a mapping of label names to values") }
            return []
        }
        return mapping.compactMap { keyNode, valueNode -> Matcher? in
            let key = keyNode.scalar?.string ?? ""
            let value = Located(node: valueNode, path: join(at.path, key))
            let label = key.hasPrefix("labels.") ? String(key.dropFirst("labels.".count)) : key
            guard let first = label.unicodeScalars.first, first != ":", MatcherGrammar.isNameStart(first),
                  label.unicodeScalars.allSatisfy({ $0 != ":" && (MatcherGrammar.isNameStart($0) || ("0"..."9").contains($0)) }) else {
                problem(value, "invalid label name \"\(key)\"")
                return nil
            }
            guard let text = string(value) else { return nil }
            do throws(MatcherError) { return try Matcher(key, op, text) } catch {
                problem(value, error.description)
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

    /// A ``duration(_:)`` that must be more than zero (a zero would quietly turn something
    /// off or spin); `name` and `hint` go into the problem.
    func positiveDuration(_ at: Located, name: String, hint: String = "") -> Duration? {
        guard let value = duration(at) else { return nil }
        guard value > .zero else {
            problem(at, "\(name) must be positive\(hint)")
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
            switch text.lowercased() {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: break
            }
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

    /// A plugin's `config:` block as a JSON object (absent or null means `{}`). With
    /// `deferFiles` (a destination's config), `*_file` keys are left as placeholders for
    /// ``resolveFiles(in:pathKeys:readFile:)``; otherwise files are read now.
    func pluginConfig(_ at: Located, deferFiles: Bool = false) -> JSONValue {
        self.deferFiles = deferFiles
        defer { self.deferFiles = false }
        let config = json(at)
        if config == .null { return .object([:]) }
        if config.objectValue == nil { problem(at, "config must be a mapping") }
        return config
    }

    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// The one place where a secret read from a `*_file` or a `${VAR}` is cleaned: trailing
    /// whitespace and line ends (`\n`, `\r\n`, spaces, tabs) are removed. A Secret created
    /// from a file (`kubectl create secret --from-file`, `echo token > f`) ends in a newline
    /// that no service accepts as part of a token; no config value needs trailing blanks.
    static func secret(_ raw: String) -> String {
        var end = raw.unicodeScalars.endIndex
        while end > raw.unicodeScalars.startIndex {
            let before = raw.unicodeScalars.index(before: end)
            guard raw.unicodeScalars[before].properties.isWhitespace else { break }
            end = before
        }
        return String(raw.unicodeScalars[..<end])
    }

    /// The key of the placeholder object that stands for a destination's `X_file: PATH`
    /// under the key `X`: `{"$cano_unread_file_path": "PATH"}` (its key does not end in
    /// `_file`, so it is never read again). ``resolveFiles(in:pathKeys:readFile:)``
    /// replaces it.
    static let unreadFileMarker = "$cano_unread_file_path"

    /// `config` with every file placeholder under a key `X` replaced: by `X_file: PATH`
    /// when `X_file` is one of the plugin's `pathKeys` (a path it opens itself, such as
    /// `ca_file`), else by `X:` holding the file's content (cleaned by ``secret(_:)``).
    /// Also returns the contents read, to register as secrets. Throws a message naming the
    /// key and the file when one cannot be read.
    static func resolveFiles(
        in config: JSONValue, pathKeys: Set<String> = [],
        readFile: (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }
    ) throws -> (config: JSONValue, secrets: [String]) {
        var secrets: [String] = []
        func placeholder(_ value: JSONValue) -> String? {
            guard case .object(let members) = value, members.count == 1, case .string(let path)? = members[unreadFileMarker] else { return nil }
            return path
        }
        func walk(_ value: JSONValue, key: String) throws -> JSONValue {
            switch value {
            case .object(let members):
                if let path = placeholder(value) {
                    do {
                        let content = secret(try readFile(path))
                        secrets.append(content)
                        return .string(content)
                    } catch {
                        throw UnreadFileError(key: key, path: (error as? CocoaError)?.filePath ?? path, underlying: reason(reading: path, error))
                    }
                }
                var out: [String: JSONValue] = [:]
                for (k, v) in members {
                    if let path = placeholder(v), pathKeys.contains(k + "_file") {
                        out[k + "_file"] = .string(path)
                    } else {
                        out[k] = try walk(v, key: k)
                    }
                }
                return .object(out)
            case .array(let items):
                return .array(try items.map { try walk($0, key: key) })
            default:
                return value
            }
        }
        let resolved = try walk(config, key: "")
        return (resolved, secrets)
    }

    /// Why `path` could not be read, in words: "no such file", "permission denied", or the
    /// error's own description, never Foundation's NSError dump.
    static func reason(reading path: String, _ error: any Error) -> String {
        let files = FileManager.default
        if !files.fileExists(atPath: path) { return "no such file" }
        if !files.isReadableFile(atPath: path) { return "permission denied" }
        return error.localizedDescription
    }

    /// A destination's `*_file` that still cannot be read.
    struct UnreadFileError: Error, CustomStringConvertible {
        let key: String
        let path: String
        let underlying: String
        var description: String { "cannot read file \"\(path)\" for \"\(key)\": \(underlying)" }
    }

    /// The longest duration a config or request may give, in ms: 10,000 years.
    static let longestDurationMillis: Double = 10_000 * 31_536_000 * 1000

    /// A duration like `500ms`, `90s`, `1h30m`, `2d`, `1w` or `1y` (Prometheus' units; a
    /// year is 365 days), or nil when it is not one or is longer than 10,000 years.
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
            case "w": scale = 604_800  // Prometheus' and Alertmanager's units
            case "y": scale = 31_536_000
            default: return false
            }
            // Bounded before the conversion: a huge value (a typo, or a silence duration
            // sent to the API) must be refused, not trap the process converting to Int64.
            let millis = (n * scale * 1000).rounded()
            guard millis.isFinite, millis <= Self.longestDurationMillis else { return false }
            total += .milliseconds(Int64(millis))
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
                if let raw = environment[name] ?? fallback {
                    let value = Self.secret(raw)
                    if SecretSafe.isSecretKey(name) { secretValues.append(value) }
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
        if let close = Suggestion.closest(to: key, in: allowed) { return "; did you mean \"\(close)\"?" }
        return "; expected one of: " + allowed.sorted().joined(separator: ", ")
    }
}
