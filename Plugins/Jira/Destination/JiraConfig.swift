#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// The Jira destination's settings, parsed from its `config` block (snake_case keys).
///
/// ```yaml
/// config:
///   url: https://example.atlassian.net      # the site; /rest/api/3/... is appended
///   project: OPS                            # project key
///   issue_type: Bug                         # default "Bug"
///   user: alerts@example.com                # the Atlassian account's email
///   api_token_file: /etc/cano-collector/secrets/jira/token   # the host reads it into api_token
///   resolve_transition: Done                # unset: a resolve only comments
///   reopen_transition: Reopen               # unset: a firing after done creates a new issue
///   labels: [k8s, alerts]
///   priorities: {HIGH: Highest, LOW: Low}   # unset: no priority is sent (the project's default)
///   components: [platform]
///   timeout: 10s
/// ```
///
/// Every error names the key and never repeats the token.
struct JiraConfig: Sendable {
    /// Keys this destination understands; anything else is a typo and an error.
    static let knownKeys: Set<String> = [
        "url", "project", "issue_type", "user", "api_token", "resolve_transition", "reopen_transition", "labels", "priorities", "components", "timeout",
    ]
    static let defaultIssueType = "Bug"
    static let defaultTimeout: Duration = .seconds(10)

    /// The site's base URL, without a trailing slash; `/rest/api/3/...` is appended.
    var url: String
    var project: String
    var issueType = JiraConfig.defaultIssueType
    var user: String
    var apiToken: String
    /// The transition (by name) that closes the issue on resolve; nil: comment only.
    var resolveTransition: String?
    /// The transition (by name) that reopens a done issue when its fingerprint fires again;
    /// nil: a firing after done creates a new issue.
    var reopenTransition: String?
    /// Added to every created issue, before the dedup label.
    var labels: [String] = []
    /// Severity → Jira priority name; a severity without an entry sends no priority.
    var priorities: [Severity: String] = [:]
    var components: [String] = []
    var timeout = JiraConfig.defaultTimeout

    /// "scheme://host:port": all that logs and messages show of the URL.
    var origin: String { RedactedURL.origin(of: url) }

    /// `Authorization: Basic base64(user:api_token)`, as Jira Cloud wants for API tokens.
    var authorization: String {
        HTTPHeader.basicAuthorization(user: user, password: apiToken).value
    }

    /// What no result or log line may contain: the token, the Basic credential built from
    /// it (alone and with its scheme), and any credential in the URL.
    var secrets: [[UInt8]] {
        let basic = authorization
        return SecretSafe.prepared([apiToken, basic, String(basic.dropFirst("Basic ".count))] + SecretSafe.secrets(inURL: url))
    }

    init(_ json: JSONValue) throws(PluginError) {
        guard case .object(let object) = json else { throw PluginError("config must be an object") }
        if let unknown = object.keys.sorted().first(where: { !Self.knownKeys.contains($0) }) {
            throw PluginError("unknown config key \"\(unknown)\" (known: \(Self.knownKeys.sorted().joined(separator: ", ")))")
        }

        guard case .string(let url)? = object["url"] else {
            throw PluginError(object["url"] == nil ? "missing required key \"url\" (the site, like https://example.atlassian.net)" : "key \"url\": expected a string")
        }
        guard ConfigValues.isUsableURL(url) else {
            throw PluginError("key \"url\": expected the site's base URL, like https://example.atlassian.net (http(s), a host, no spaces, query or fragment)")
        }
        var trimmed = url
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        if trimmed.hasSuffix("/rest/api/3") || trimmed.hasSuffix("/rest/api/2") {
            throw PluginError("key \"url\": give the site's base URL only; the plugin appends /rest/api/3 itself")
        }
        self.url = trimmed

        switch object["project"] {
        case nil: throw PluginError("missing required key \"project\" (the project key, like OPS)")
        case .string(let key)? where Self.isProjectKey(key): project = key
        default: throw PluginError("key \"project\": expected a project key: an uppercase letter, then uppercase letters, digits or _ (like OPS)")
        }

        switch object["issue_type"] {
        case nil: break
        case .string(let name)? where !name.allSatisfy(\.isWhitespace) && !Self.hasControl(name): issueType = name
        default: throw PluginError("key \"issue_type\": expected an issue type name, like Bug or Task")
        }

        switch object["user"] {
        case nil: throw PluginError("missing required key \"user\" (the email of the Atlassian account that owns the API token)")
        case .string(let email)? where !email.isEmpty && !email.contains(":") && !Self.hasControl(email) && !email.contains(" "):
            user = email
        default: throw PluginError("key \"user\": expected the account's email address (no spaces or colons)")
        }

        // The token goes into a header: a line break would inject another one. The value is
        // never echoed, whatever is wrong with it.
        switch object["api_token"] {
        case nil:
            throw PluginError("missing required key \"api_token\" (or api_token_file: /path, or api_token: \"${ENV_VAR}\")")
        case .string(let token)?:
            guard !token.isEmpty else { throw PluginError("key \"api_token\" is empty (is the file or environment variable empty?)") }
            guard !token.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7f }) else {
                throw PluginError("key \"api_token\" contains whitespace or control characters (the value is not shown)")
            }
            apiToken = token
        default:
            throw PluginError("key \"api_token\": expected a string")
        }

        resolveTransition = try Self.transitionName(object["resolve_transition"], key: "resolve_transition", example: "Done")
        reopenTransition = try Self.transitionName(object["reopen_transition"], key: "reopen_transition", example: "Reopen")

        if let value = object["labels"] {
            labels = try ConfigValues.strings(value, key: "labels")
            if let bad = labels.first(where: { $0.isEmpty || $0.contains(where: \.isWhitespace) || $0.unicodeScalars.count > JiraLimits.label }) {
                throw PluginError("key \"labels\": \"\(bad.prefix(60))\" is not a Jira label (1 to \(JiraLimits.label) characters, no spaces)")
            }
        }

        if let value = object["priorities"] {
            guard case .object(let map) = value else { throw PluginError("key \"priorities\": expected an object like {HIGH: Highest, LOW: Low}") }
            for (name, priority) in map.sorted(by: { $0.key < $1.key }) {
                guard let severity = Severity(rawValue: name.uppercased()) else {
                    throw PluginError("key \"priorities.\(name.prefix(64))\": not a severity (expected HIGH, LOW, INFO or DEBUG)")
                }
                guard case .string(let p) = priority, !p.isEmpty, !Self.hasControl(p) else {
                    throw PluginError("key \"priorities.\(name)\": expected a Jira priority name, like High")
                }
                priorities[severity] = p
            }
        }

        if let value = object["components"] {
            components = try ConfigValues.strings(value, key: "components")
            if components.contains(where: \.isEmpty) { throw PluginError("key \"components\": a component name is empty") }
        }

        timeout = try ConfigValues.timeout(object["timeout"], fallback: Self.defaultTimeout)
    }

    /// A transition's name (or its target status's), nil when absent.
    /// - Throws: ``PluginError`` naming `key` for a blank name, one with control characters,
    ///   or anything not a string.
    static func transitionName(_ value: JSONValue?, key: String, example: String) throws(PluginError) -> String? {
        switch value {
        case nil: return nil
        case .string(let name)? where !name.allSatisfy(\.isWhitespace) && !hasControl(name): return name
        default: throw PluginError("key \"\(key)\": expected a transition name, like \(example)")
        }
    }

    /// Jira's default project key pattern: `[A-Z][A-Z0-9_]+`. Checking it also keeps the
    /// key safe to quote in JQL.
    static func isProjectKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard bytes.count >= 2, bytes.count <= 255, let first = bytes.first, first >= UInt8(ascii: "A"), first <= UInt8(ascii: "Z") else { return false }
        return bytes.allSatisfy { ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "_") }
    }

    static func hasControl(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
    }
}
