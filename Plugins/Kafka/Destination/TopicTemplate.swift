import CanoSDK

/// The `topic` key: a topic name, or a template with `{{placeholder}}`s filled from each
/// Issue, e.g. `alerts-{{namespace}}`.
///
/// Placeholders (the same names as Slack's channel templates, plus `status` and `type`):
/// `namespace`, `cluster`, `source`, `severity` (lower case), `status`, `type`, `kind`,
/// `labels.<name>` and `annotations.<name>` (the subject's). Parsed at create, so a typo
/// fails at start-up, by name, rather than dead-lettering every Issue.
///
/// Topic name rules (Kafka: `[a-zA-Z0-9._-]`, at most 249 characters, not `.` or `..`):
/// - the literal text must follow them, checked at create;
/// - in a value, each character outside them becomes `_` (`payments/eu west` →
///   `payments_eu_west`): label values are free text, and a refused alert helps nobody.
///   Two values that differ only there share a topic; that is documented, not prevented;
/// - a missing or empty value, or a result longer than 249 characters, makes no topic:
///   ``resolve(for:)`` says why, and the notifier uses `default_topic` or fails the
///   delivery permanently (no retry would change the Issue).
public struct TopicTemplate: Sendable, Equatable, CustomStringConvertible {
    enum Part: Sendable, Equatable {
        case literal(String)
        case placeholder(String)
    }

    /// What one Issue's topic came to.
    public enum Resolution: Sendable, Equatable {
        /// A legal topic name.
        case topic(String)
        /// No legal topic: the reason, naming the template and the placeholder.
        case unresolved(String)
    }

    /// Kafka's longest topic name.
    public static let maxLength = 249
    /// Placeholders other than `labels.<name>` and `annotations.<name>`.
    static let plainPlaceholders: Set<String> = ["namespace", "cluster", "source", "severity", "status", "type", "kind"]
    static var knownList: String { plainPlaceholders.sorted().joined(separator: ", ") + ", labels.<name>, annotations.<name>" }

    /// The template as written.
    public let text: String
    let parts: [Part]

    /// True when there is no placeholder: every Issue goes to `text`.
    public var isLiteral: Bool { placeholders.isEmpty }

    /// The placeholder names, in order.
    var placeholders: [String] {
        parts.compactMap { part in
            guard case .placeholder(let name) = part else { return nil }
            return name
        }
    }

    public var description: String { text }

    /// Parses `text` (the `topic` key's value).
    /// - Throws: ``PluginError`` for `key "topic"`: an unclosed `{{`, an unknown placeholder
    ///   (by name), a character Kafka refuses outside the placeholders, or a template whose
    ///   shortest expansion is already longer than 249 characters.
    public init(_ text: String) throws(PluginError) {
        self.text = text
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.literal(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw PluginError("key \"topic\": the template has an unclosed {{")
            }
            let name = String(rest[open.upperBound..<close.lowerBound]).trimmedOfWhitespace
            guard Self.isKnown(name) else {
                throw PluginError("key \"topic\": unknown placeholder \"\(BoundedEcho.cap(name, limit: 64))\" (known: \(Self.knownList))")
            }
            parts.append(.placeholder(name))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        self.parts = parts

        if isLiteral {
            guard KafkaConfig.isTopicName(text) else {
                throw PluginError("key \"topic\": expected 1-249 characters of a-z, A-Z, 0-9, '.', '_' or '-' (or a template with {{placeholders}})")
            }
            return
        }
        for case .literal(let literal) in parts where !literal.allSatisfy(Self.isTopicCharacter) {
            throw PluginError("key \"topic\": outside {{...}} a topic name may hold only a-z, A-Z, 0-9, '.', '_' or '-'")
        }
        // Each placeholder adds at least one character: a template already too long for
        // every Issue is a config mistake, not 249-character surprises later.
        var shortest = placeholders.count
        for case .literal(let literal) in parts { shortest += literal.utf8.count }
        guard shortest <= Self.maxLength else {
            throw PluginError("key \"topic\": the template makes names longer than Kafka's limit of \(Self.maxLength) characters")
        }
    }

    /// The topic for `issue`, or why there is none.
    public func resolve(for issue: Issue) -> Resolution {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let literal):
                out += literal
            case .placeholder(let name):
                guard let value = Self.value(name, issue), !value.isEmpty else {
                    return .unresolved("the topic template \"\(text)\" needs \(name), which this Issue does not have")
                }
                out += Self.sanitized(value)
            }
        }
        guard out.utf8.count <= Self.maxLength else {
            return .unresolved("the topic template \"\(text)\" made a name of \(out.utf8.count) characters, over Kafka's limit of \(Self.maxLength)")
        }
        // Only a template that is nothing but placeholders can come to these two.
        guard out != ".", out != ".." else {
            return .unresolved("the topic template \"\(text)\" made \"\(out)\", which Kafka does not allow as a topic name")
        }
        return .topic(out)
    }

    static func isKnown(_ name: String) -> Bool {
        plainPlaceholders.contains(name)
            || (name.hasPrefix("labels.") && name.count > 7)
            || (name.hasPrefix("annotations.") && name.count > 12)
    }

    /// The Issue's value for a placeholder; nil when it has none.
    static func value(_ name: String, _ issue: Issue) -> String? {
        switch name {
        case "namespace": return issue.subject.namespace
        case "cluster": return issue.cluster
        case "source": return issue.source.rawValue
        // Lower case like Slack's channel templates (and most topic naming schemes); the
        // `cano-severity` header keeps the Issue JSON's `HIGH`.
        case "severity": return issue.severity.rawValue.lowercased()
        case "status": return issue.status.rawValue
        case "type": return issue.type.rawValue
        case "kind": return issue.subject.kind
        default:
            if name.hasPrefix("labels.") { return issue.subject.labels[String(name.dropFirst(7))] }
            if name.hasPrefix("annotations.") { return issue.subject.annotations[String(name.dropFirst(12))] }
            return nil
        }
    }

    /// `value` with every character Kafka refuses in a topic name replaced by `_`.
    static func sanitized(_ value: String) -> String {
        String(value.map { isTopicCharacter($0) ? $0 : "_" })
    }

    static func isTopicCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "_" || c == "-")
    }
}
