import CanoSDK

/// A channel reference with optional `{{variable}}` placeholders, e.g. `alerts-{{namespace}}`.
///
/// Variables: `namespace`, `cluster`, `severity` (lower case), `kind`, `name`, `node`,
/// `container`, `source`, `labels.<key>`, `annotations.<key>`. Parsed once (at create() for
/// the default channel), so a typo fails at start-up rather than on the first alert.
public struct ChannelTemplate: Sendable, Equatable, CustomStringConvertible {
    enum Part: Sendable, Equatable {
        case literal(String)
        case variable(String)
    }

    /// Why a template could not be parsed or expanded.
    public struct Failure: Error, Sendable, Equatable {
        public var message: String
    }

    /// The template as written.
    public let text: String
    let parts: [Part]

    static let plainVariables: Set<String> = ["namespace", "cluster", "severity", "kind", "name", "node", "container", "source"]

    /// Parses `text`; throws on an unclosed `{{` or an unknown variable.
    public init(_ text: String) throws(Failure) {
        self.text = text
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.literal(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw Failure(message: "template \"\(text)\" has an unclosed {{")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingSpaces()
            let known = Self.plainVariables.contains(name)
                || (name.hasPrefix("labels.") && name.count > 7)
                || (name.hasPrefix("annotations.") && name.count > 12)
            guard known else {
                throw Failure(message: "template \"\(text)\" uses unknown variable \"\(name)\" (known: \(Self.plainVariables.sorted().joined(separator: ", ")), labels.<key>, annotations.<key>)")
            }
            parts.append(.variable(name))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        self.parts = parts
    }

    public var description: String { text }

    /// The channel for `issue`; throws naming the variable the Issue lacks.
    public func expand(for issue: Issue) throws(Failure) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .variable(let name):
                guard let value = Self.value(name, issue), !value.isEmpty else {
                    throw Failure(message: "channel template \"\(text)\" needs \(name), which this Issue does not have")
                }
                out += value
            }
        }
        return out
    }

    static func value(_ name: String, _ issue: Issue) -> String? {
        switch name {
        case "namespace": return issue.subject.namespace
        case "cluster": return issue.cluster
        case "severity": return issue.severity.rawValue.lowercased()
        case "kind": return issue.subject.kind
        case "name": return issue.subject.name
        case "node": return issue.subject.node
        case "container": return issue.subject.container
        case "source": return issue.source.rawValue
        default:
            if name.hasPrefix("labels.") { return issue.subject.labels[String(name.dropFirst(7))] }
            if name.hasPrefix("annotations.") { return issue.subject.annotations[String(name.dropFirst(12))] }
            return nil
        }
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

/// Picks the channel for an Issue: the annotation override, then the label override, then
/// the destination's default. Overrides are templates too.
struct ChannelRouting: Sendable {
    let config: SlackConfig

    /// A channel an Issue asks for itself, through the annotation or the label.
    struct Override: Sendable, Equatable {
        /// Where it came from, for the message that says it was not found:
        /// `annotation slack/channel` or `label slack_channel`.
        var source: String
        /// The value as written (a template).
        var value: String
    }

    /// The channel reference to post to (an ID or a name, maybe with `#`).
    func channel(for issue: Issue) throws(ChannelTemplate.Failure) -> String {
        if let override = override(for: issue) { return try expand(override, for: issue) }
        return try defaultChannel(for: issue)
    }

    /// The annotation override, else the label override; nil when neither is set.
    func override(for issue: Issue) -> Override? {
        if let key = config.channelAnnotation, let value = issue.subject.annotations[key], !value.isEmpty {
            return Override(source: "annotation \(key)", value: value)
        }
        if let key = config.channelLabel, let value = issue.subject.labels[key], !value.isEmpty {
            return Override(source: "label \(key)", value: value)
        }
        return nil
    }

    /// The override's channel reference; throws when it is not a valid template or the
    /// Issue lacks one of its variables.
    func expand(_ override: Override, for issue: Issue) throws(ChannelTemplate.Failure) -> String {
        try ChannelTemplate(override.value).expand(for: issue).trimmingSpacesAndHash()
    }

    /// The destination's own channel for this Issue: where an override that fails goes.
    func defaultChannel(for issue: Issue) throws(ChannelTemplate.Failure) -> String {
        try config.channel.expand(for: issue).trimmingSpacesAndHash()
    }
}

extension String {
    /// "#alerts " → "alerts"; IDs pass unchanged.
    func trimmingSpacesAndHash() -> String {
        var s = Substring(self).trimmingSpaces()[...]
        if s.first == "#" { s.removeFirst() }
        return String(s)
    }

    /// Slack conversation IDs are upper-case alphanumerics starting with C, G or D; channel
    /// names are always lower case, so the two never collide.
    var looksLikeChannelID: Bool {
        guard count >= 7, let first, "CGD".contains(first) else { return false }
        return allSatisfy { ($0.isASCII && $0.isUppercase) || ($0.isASCII && $0.isNumber) }
    }
}
