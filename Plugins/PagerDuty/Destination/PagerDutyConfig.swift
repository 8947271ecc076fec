import CanoSDK

/// The `pagerduty` destination's settings, parsed from its `config` block (snake_case keys).
///
/// ```yaml
/// config:
///   routing_key_file: /etc/cano-collector/secrets/pagerduty/routing-key  # or routing_key: ${PD_KEY}
///   routing_key_label: pagerduty_routing_key   # optional: per-Issue key from this label
///   url: https://events.pagerduty.com          # EU accounts: https://events.eu.pagerduty.com
///   severity_map: {HIGH: critical, LOW: warning, INFO: info, DEBUG: info}
///   helm_change_events: true                   # Helm release Issues as Change Events
///   client_url: https://grafana.example.com    # the "View in" link on the alert
///   timeout: 10s
/// ```
///
/// The host turns `routing_key_file` into `routing_key` (the file's content) and resolves
/// `${ENV}` before ``init(_:)`` sees the config. Error messages never repeat the routing
/// key: it is the integration's only credential.
public struct PagerDutyConfig: Sendable {
    /// Keys this destination understands; anything else is a typo and an error.
    static let knownKeys: Set<String> = [
        "url", "routing_key", "routing_key_label", "severity_map", "helm_change_events", "client", "client_url", "timeout",
        "ca", "insecure_skip_verify",
    ]
    /// PagerDuty's US service region.
    public static let defaultURL = "https://events.pagerduty.com"
    static let defaultTimeout: Duration = .seconds(10)
    /// Integration keys (and ruleset keys) are 32 characters (destinations.md §3.1).
    public static let routingKeyLength = 32

    /// PagerDuty's four severities, in descending urgency.
    public static let pagerDutySeverities = ["critical", "error", "warning", "info"]
    /// Issue severity → PagerDuty severity, unless `severity_map` says otherwise.
    public static let defaultSeverityMap: [Severity: String] = [.high: "critical", .low: "warning", .info: "info", .debug: "info"]

    /// Events API base URL, without a trailing slash; events go to `<url>/v2/enqueue`.
    public var url: String
    /// The configured routing key; nil when every Issue must bring its own label.
    public var routingKey: String?
    /// A label on the Issue (`subject.labels`) whose value is the routing key for that Issue.
    public var routingKeyLabel: String?
    public var severityMap: [Severity: String] = PagerDutyConfig.defaultSeverityMap
    /// Helm release Issues go to `/v2/change/enqueue` as Change Events (true by default).
    public var helmChangeEvents = true
    /// Shown on the alert as the sender ("cano-collector").
    public var client = "cano-collector"
    public var clientURL: String?
    public var timeout = PagerDutyConfig.defaultTimeout
    public var tls: TLSOptions?

    /// "scheme://host:port": all that logs and messages show of the URL.
    public var origin: String { RedactedURL.origin(of: url) }

    /// What no result or log line may contain: the configured routing key and any
    /// credentials in the URL. Keys read from labels are added per delivery.
    public var secrets: [String] {
        var values = SecretSafe.secrets(inURL: url)
        if let routingKey { values.append(routingKey) }
        return values
    }

    public init(_ json: JSONValue) throws(PluginError) {
        guard case .object(let object) = json else { throw PluginError("config must be an object") }
        if let unknown = object.keys.sorted().first(where: { !Self.knownKeys.contains($0) }) {
            throw PluginError("unknown config key \"\(BoundedEcho.cap(unknown, limit: 64))\" (known: \(Self.knownKeys.sorted().joined(separator: ", ")))")
        }

        switch object["url"] {
        case nil: url = Self.defaultURL
        case .string(let text)?:
            guard ConfigValues.isUsableURL(text) else {
                throw PluginError("key \"url\": expected the Events API base URL, like https://events.pagerduty.com (http:// or https://, a host, no spaces)")
            }
            var trimmed = Substring(text)
            while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
            url = String(trimmed)
        default: throw PluginError("key \"url\": expected a string")
        }

        switch object["routing_key"] {
        case nil: routingKey = nil
        case .string(let raw)?:
            // A key file written with `echo` ends in a newline; the key itself never has blanks.
            let key = raw.trimming(" \t\r\n")
            guard Self.isRoutingKey(key) else {
                // Deliberately not echoed, not even its length's neighbourhood of characters.
                throw PluginError("key \"routing_key\": expected the \(Self.routingKeyLength)-character Events API v2 integration key (letters and digits; got \(key.count) characters)")
            }
            routingKey = key
        default: throw PluginError("key \"routing_key\": expected a string (or routing_key_file: /path)")
        }

        switch object["routing_key_label"] {
        case nil: routingKeyLabel = nil
        case .string(let label)? where !label.isEmpty && label.count <= 316: routingKeyLabel = label
        default: throw PluginError("key \"routing_key_label\": expected a label name")
        }
        guard routingKey != nil || routingKeyLabel != nil else {
            throw PluginError("missing required key \"routing_key\" (or routing_key_file: /path, or routing_key_label to take it from each Issue's labels)")
        }

        if let value = object["severity_map"] {
            guard case .object(let map) = value else { throw PluginError("key \"severity_map\": expected an object like {HIGH: critical, LOW: warning}") }
            for (from, to) in map.sorted(by: { $0.key < $1.key }) {
                guard let severity = Severity(rawValue: from.uppercased()) else {
                    throw PluginError("key \"severity_map\": \"\(BoundedEcho.cap(from, limit: 32))\" is not an Issue severity (HIGH, LOW, INFO, DEBUG)")
                }
                guard case .string(let target) = to, Self.pagerDutySeverities.contains(target.lowercased()) else {
                    throw PluginError("key \"severity_map.\(from)\": expected one of \(Self.pagerDutySeverities.joined(separator: ", "))")
                }
                severityMap[severity] = target.lowercased()
            }
        }

        switch object["helm_change_events"] {
        case nil: break
        case .bool(let flag)?: helmChangeEvents = flag
        default: throw PluginError("key \"helm_change_events\": expected true or false")
        }

        switch object["client"] {
        case nil: break
        case .string(let text)? where !text.isEmpty: client = text
        default: throw PluginError("key \"client\": expected a non-empty string")
        }
        switch object["client_url"] {
        case nil: break
        case .string(let text)? where ConfigValues.isUsableURL(text, allowQuery: true): clientURL = text
        default: throw PluginError("key \"client_url\": expected an http:// or https:// URL")
        }

        timeout = try ConfigValues.timeout(object["timeout"], fallback: Self.defaultTimeout)
        tls = try ConfigValues.tls(object)
    }

    /// 32 ASCII letters and digits: the shape of every Events v2 integration and ruleset
    /// key. Checked here so a truncated Secret fails at start, not at the first alert.
    public static func isRoutingKey(_ key: String) -> Bool {
        key.utf8.count == routingKeyLength && key.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
        }
    }
}
