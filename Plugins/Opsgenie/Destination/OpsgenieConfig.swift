import CanoSDK

/// The Opsgenie destination's settings, parsed from its `config` block (snake_case keys).
///
/// ```yaml
/// config:
///   api_key_file: /etc/cano-collector/secrets/opsgenie/api-key   # the host reads it into api_key
///   region: eu                       # or api_url: https://api.eu.opsgenie.com
///   priorities: {HIGH: P1, LOW: P3}  # merged over the defaults
///   tags: [k8s]
///   tag_labels: [alertname, cluster, namespace, severity]
///   details: {runbook_index: "https://runbooks.example.com"}
///   source: cano-collector
///   team: platform                   # the team paged when no rule below names one
///   team_annotation: opsgenie.com/team   # an Issue annotation naming the team (first)
///   team_label: team                 # an Issue label naming the team (second)
///   team_by_namespace: {shop: payments}  # the team of the Issue's namespace (third)
///   responders: [{type: schedule, name: platform-oncall}]
///   visible_to: [{type: team, name: sre}]
///   timeout: 10s
/// ```
///
/// Every error names the key and never repeats the API key.
struct OpsgenieConfig: Sendable {
    /// Keys this destination understands; anything else is a typo and an error.
    static let knownKeys: Set<String> = [
        "api_key", "api_url", "region", "priorities", "tags", "tag_labels", "details", "include_labels",
        "include_annotations", "source", "team", "team_label", "team_annotation", "team_by_namespace", "responders", "visible_to", "timeout",
    ]
    /// The US (default) API host.
    static let usURL = "https://api.opsgenie.com"
    /// The EU API host: an EU account's key gets 401 from the US host.
    static let euURL = "https://api.eu.opsgenie.com"
    /// Severity → priority when `priorities` does not say otherwise: HIGH pages (P1), LOW is
    /// a normal alert (P3), INFO and DEBUG are informational (P5).
    static let defaultPriorities: [Severity: String] = [.high: "P1", .low: "P3", .info: "P5", .debug: "P5"]
    /// Labels (or Issue fields of that name) turned into `name:value` tags by default.
    static let defaultTagLabels = ["alertname", "cluster", "namespace", "severity"]
    static let defaultSource = "cano-collector"
    static let defaultTimeout: Duration = .seconds(10)

    var apiKey: String
    /// Without a trailing slash; `/v2/alerts` is appended.
    var apiURL = OpsgenieConfig.usURL
    var priorities = OpsgenieConfig.defaultPriorities
    var tags: [String] = []
    var tagLabels = OpsgenieConfig.defaultTagLabels
    /// Fixed details sent with every alert, before the Issue's own.
    var details: [(key: String, value: String)] = []
    var includeLabels = true
    var includeAnnotations = true
    var source = OpsgenieConfig.defaultSource
    /// `responders`: always added, after the routed team.
    var responders: [OpsgenieResponder] = []
    /// The team paged when no annotation, label or namespace names one (the last fallback
    /// of ``OpsgeniePayload/team(_:config:)``).
    var team: String?
    /// An annotation whose value names the Issue's team (first in precedence).
    var teamAnnotation: String?
    /// A label whose value names the Issue's team (second).
    var teamLabel: String?
    /// Namespace → team name (third).
    var teamByNamespace: [String: String] = [:]
    var visibleTo: [OpsgenieResponder] = []
    var timeout = OpsgenieConfig.defaultTimeout

    /// "scheme://host:port": all that logs and messages show of the API URL.
    var origin: String { RedactedURL.origin(of: apiURL) }

    /// What no result or log line may contain: the key, the header value carrying it, and
    /// any credential in the API URL (a proxy's userinfo or keyed query).
    var secrets: [[UInt8]] {
        SecretSafe.prepared([apiKey, "GenieKey " + apiKey] + SecretSafe.secrets(inURL: apiURL))
    }

    init(_ json: JSONValue) throws(PluginError) {
        guard case .object(let object) = json else { throw PluginError("config must be an object") }
        if let unknown = object.keys.sorted().first(where: { !Self.knownKeys.contains($0) }) {
            throw PluginError("unknown config key \"\(unknown)\" (known: \(Self.knownKeys.sorted().joined(separator: ", ")))")
        }

        // The key goes into a header: a line break would inject another one. The value is
        // never echoed, whatever is wrong with it.
        switch object["api_key"] {
        case nil:
            throw PluginError("missing required key \"api_key\" (or api_key_file: /path, or api_key: \"${ENV_VAR}\")")
        case .string(let key)?:
            guard !key.isEmpty else { throw PluginError("key \"api_key\" is empty (is the file or environment variable empty?)") }
            guard !key.hasPrefix("GenieKey ") else {
                throw PluginError("key \"api_key\": give the key alone; the plugin adds the \"GenieKey \" prefix itself")
            }
            guard !key.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7f }) else {
                throw PluginError("key \"api_key\" contains whitespace or control characters (the value is not shown)")
            }
            apiKey = key
        default:
            throw PluginError("key \"api_key\": expected a string")
        }

        switch (object["api_url"], object["region"]) {
        case (nil, nil): break
        case (.some, .some):
            throw PluginError("keys \"api_url\" and \"region\" are both set: region picks Opsgenie's host, api_url replaces it; keep one")
        case (let url?, nil):
            guard case .string(let text) = url, ConfigValues.isUsableURL(text) else {
                throw PluginError("key \"api_url\": expected an absolute http:// or https:// URL with a host, no spaces, query or fragment (like \(Self.euURL))")
            }
            var trimmed = text
            while trimmed.hasSuffix("/") { trimmed.removeLast() }
            apiURL = trimmed
        case (nil, let region?):
            switch region.stringValue?.lowercased() {
            case "us": apiURL = Self.usURL
            case "eu": apiURL = Self.euURL
            default: throw PluginError("key \"region\": expected \"us\" or \"eu\"")
            }
        }

        if let value = object["priorities"] {
            guard case .object(let map) = value else { throw PluginError("key \"priorities\": expected an object like {HIGH: P1, LOW: P3}") }
            for (name, priority) in map.sorted(by: { $0.key < $1.key }) {
                guard let severity = Severity(rawValue: name.uppercased()) else {
                    throw PluginError("key \"priorities.\(name.prefix(64))\": not a severity (expected HIGH, LOW, INFO or DEBUG)")
                }
                guard case .string(let p) = priority, OpsgenieLimits.priorities.contains(p.uppercased()) else {
                    throw PluginError("key \"priorities.\(name)\": expected one of P1, P2, P3, P4, P5")
                }
                priorities[severity] = p.uppercased()
            }
        }

        if let value = object["tags"] {
            tags = try ConfigValues.strings(value, key: "tags")
            guard tags.count <= OpsgenieLimits.tags else { throw PluginError("key \"tags\": at most \(OpsgenieLimits.tags) tags (Opsgenie's limit)") }
            if let long = tags.first(where: { $0.unicodeScalars.count > OpsgenieLimits.tagLength }) {
                throw PluginError("key \"tags\": \"\(long.prefix(60))…\" is longer than \(OpsgenieLimits.tagLength) characters (Opsgenie's limit)")
            }
            if tags.contains(where: \.isEmpty) { throw PluginError("key \"tags\": a tag is empty") }
        }
        if let value = object["tag_labels"] { tagLabels = try ConfigValues.strings(value, key: "tag_labels") }

        switch object["details"] {
        case nil: break
        case .object(let map)?:
            var total = 0
            for (key, value) in map.sorted(by: { $0.key < $1.key }) {
                guard case .string(let text) = value else { throw PluginError("key \"details.\(key.prefix(64))\": expected a string (Opsgenie details are string to string)") }
                details.append((key, text))
                total += key.unicodeScalars.count + text.unicodeScalars.count
            }
            guard total <= OpsgenieLimits.detailsTotal / 2 else {
                throw PluginError("key \"details\": \(total) characters; keep fixed details under \(OpsgenieLimits.detailsTotal / 2) so the Issue's own fit in Opsgenie's \(OpsgenieLimits.detailsTotal)")
            }
        default: throw PluginError("key \"details\": expected an object of string values")
        }

        includeLabels = try ConfigValues.bool(object["include_labels"], key: "include_labels") ?? true
        includeAnnotations = try ConfigValues.bool(object["include_annotations"], key: "include_annotations") ?? true

        if let value = object["source"] {
            guard case .string(let text) = value, !text.isEmpty, text.unicodeScalars.count <= OpsgenieLimits.source else {
                throw PluginError("key \"source\": expected a string of 1 to \(OpsgenieLimits.source) characters")
            }
            source = text
        }

        switch object["team"] {
        case nil: break
        case .string(let name)? where Self.isTeamName(name): team = name
        default: throw PluginError("key \"team\": expected a team name")
        }
        switch object["team_label"] {
        case nil: break
        case .string(let name)? where !name.isEmpty: teamLabel = name
        default: throw PluginError("key \"team_label\": expected a label name")
        }
        switch object["team_annotation"] {
        case nil: break
        case .string(let name)? where !name.isEmpty: teamAnnotation = name
        default: throw PluginError("key \"team_annotation\": expected an annotation name")
        }
        switch object["team_by_namespace"] {
        case nil: break
        case .object(let map)?:
            for (namespace, value) in map.sorted(by: { $0.key < $1.key }) {
                guard !namespace.isEmpty else { throw PluginError("key \"team_by_namespace\": a namespace is empty") }
                guard case .string(let name) = value, Self.isTeamName(name) else {
                    throw PluginError("key \"team_by_namespace.\(namespace.prefix(64))\": expected a team name")
                }
                teamByNamespace[namespace] = name
            }
        default: throw PluginError("key \"team_by_namespace\": expected an object of namespace: team name, like {shop: payments}")
        }

        if let value = object["responders"] { responders = try Self.responders(value, key: "responders") }
        if let value = object["visible_to"] { visibleTo = try Self.responders(value, key: "visible_to") }
        // The routed team takes one of Opsgenie's 50 places whenever a source may name one.
        let routed = team != nil || teamLabel != nil || teamAnnotation != nil || !teamByNamespace.isEmpty
        guard responders.count + (routed ? 1 : 0) <= OpsgenieLimits.responders else {
            throw PluginError(routed
                ? "key \"responders\": at most \(OpsgenieLimits.responders - 1) entries next to the routed team (team, team_label, team_annotation, team_by_namespace): \(OpsgenieLimits.responders) in all is Opsgenie's limit"
                : "key \"responders\": at most \(OpsgenieLimits.responders) responders (Opsgenie's limit)")
        }
        guard visibleTo.count <= OpsgenieLimits.responders else {
            throw PluginError("key \"visible_to\": at most \(OpsgenieLimits.responders) entries (Opsgenie's limit)")
        }

        timeout = try ConfigValues.timeout(object["timeout"], fallback: Self.defaultTimeout)
    }

    /// A team name as configured: not blank, no control characters.
    static func isTeamName(_ name: String) -> Bool {
        !name.unicodeScalars.allSatisfy(\.properties.isWhitespace)
            && !name.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    /// `[{type: team, name: x}, {type: user, username: a@b.c}, ...]`: each entry has a type
    /// Opsgenie knows and exactly one identifying field that type accepts.
    static func responders(_ value: JSONValue, key: String) throws(PluginError) -> [OpsgenieResponder] {
        guard case .array(let items) = value else { throw PluginError("key \"\(key)\": expected a list like [{type: team, name: platform}]") }
        var out: [OpsgenieResponder] = []
        for (index, item) in items.enumerated() {
            let at = "key \"\(key)[\(index)]\""
            guard case .object(let fields) = item else { throw PluginError("\(at): expected an object like {type: team, name: platform}") }
            guard case .string(let type)? = fields["type"], let allowed = OpsgenieResponder.identifiers[type] else {
                throw PluginError("\(at): \"type\" must be team, user, escalation or schedule")
            }
            let given = fields.keys.filter { $0 != "type" }.sorted()
            guard given.count == 1, let field = given.first, allowed.contains(field), case .string(let text)? = fields[field], !text.isEmpty else {
                throw PluginError("\(at): a \(type) needs exactly one of \(allowed.sorted().joined(separator: " or ")) (a non-empty string)")
            }
            out.append(OpsgenieResponder(type: type, field: field, value: text))
        }
        return out
    }
}

/// One entry of `responders` or `visibleTo`: `{"type": "team", "name": "platform"}`.
struct OpsgenieResponder: Sendable, Hashable {
    /// team, user, escalation or schedule.
    var type: String
    /// id, name or username.
    var field: String
    var value: String

    /// Which identifying fields each responder type accepts.
    static let identifiers: [String: Set<String>] = [
        "team": ["id", "name"], "user": ["id", "username"], "escalation": ["id", "name"], "schedule": ["id", "name"],
    ]

    var json: JSONValue { .object(["type": .string(type), field: .string(value)]) }
}
