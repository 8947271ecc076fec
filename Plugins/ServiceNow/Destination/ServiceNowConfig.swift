#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// The ServiceNow destination's settings, parsed from its `config` block (snake_case keys).
///
/// ```yaml
/// config:
///   instance_url: https://acme.service-now.com
///   username: cano-integration
///   password_file: /etc/cano-collector/secrets/servicenow/password  # the host reads it into password
///   # or, instead of username/password: token_file: ...             # an OAuth 2.0 bearer token
///   # or an OAuth client: client_id + client_secret_file (client credentials grant),
///   #   with username + password as well for the password grant
///   assignment_group: Kubernetes Platform             # the fallback
///   assignment_group_label: team                      # an Issue label naming the group wins...
///   assignment_group_by_namespace: {shop: Shop Team}  # ...over the namespace's group
///   caller_id: cano-integration
///   category: software
///   input_display_value: true        # names above are display values, not sys_ids
///   urgency: {HIGH: 1, LOW: 2}       # merged over the defaults; 1 High, 2 Medium, 3 Low
///   impact: {HIGH: 2}
///   close_code: Resolved by caller
///   close_notes: "Resolved by monitoring: {alert} recovered."
///   timeout: 10s
/// ```
///
/// Every error names the key and never repeats the password or token.
struct ServiceNowConfig: Sendable {
    /// Keys this destination understands; anything else is a typo and an error.
    static let knownKeys: Set<String> = [
        "instance_url", "username", "password", "token", "client_id", "client_secret", "assignment_group",
        "assignment_group_label", "assignment_group_by_namespace", "caller_id", "category", "input_display_value", "urgency",
        "impact", "close_code", "close_notes", "timeout",
    ]
    /// Severity → urgency when `urgency` does not say otherwise (1 High, 2 Medium, 3 Low).
    static let defaultUrgency: [Severity: Int] = [.high: 1, .low: 2, .info: 3, .debug: 3]
    /// Severity → impact when `impact` does not say otherwise. With the default priority
    /// matrix HIGH becomes priority 2 (High), LOW 3 (Moderate), INFO and DEBUG 5 (Planning):
    /// priority 1 (Critical) is left to people, who know the business impact.
    static let defaultImpact: [Severity: Int] = [.high: 2, .low: 2, .info: 3, .debug: 3]
    /// The base system's close code for a problem that went away on the reporter's side
    /// (Utah and later; older instances use "Closed/Resolved by Caller").
    static let defaultCloseCode = "Resolved by caller"
    static let defaultTimeout: Duration = .seconds(10)

    /// How the plugin authenticates.
    enum Auth: Sendable, Equatable {
        /// HTTP Basic with an integration user.
        case basic(username: String, password: String)
        /// An OAuth 2.0 access token (from `/oauth_token.do`), sent as `Bearer`.
        case bearer(token: String)
        /// An OAuth client (ServiceNow's Application Registry) that gets its own access
        /// tokens from `/oauth_token.do`; see ``ServiceNowTokens``.
        case oauth(OAuthClient)
    }

    /// An OAuth client registered on the instance, and the user its tokens act for when the
    /// password grant is used.
    struct OAuthClient: Sendable, Equatable {
        var clientID: String
        var clientSecret: String
        /// With `password`: the password grant. Both nil: the client credentials grant.
        var username: String?
        var password: String?

        /// `grant_type`: `password` when a user is given (the token then carries that user's
        /// roles), else `client_credentials` (the OAuth application's own user).
        var grantType: String { username == nil ? "client_credentials" : "password" }
    }

    /// Without a trailing slash; `/api/now/table/incident` is appended.
    var instanceURL: String
    var auth: Auth
    /// The static group: used when neither the label nor the namespace map gives one.
    var assignmentGroup: String?
    /// An Issue label whose value names the group; first in precedence.
    var assignmentGroupLabel: String?
    /// Namespace → group; second in precedence.
    var assignmentGroupByNamespace: [String: String] = [:]
    var callerID: String?
    var category: String?
    /// Sends `sysparm_input_display_value=true`, so reference fields take names.
    var inputDisplayValue = false
    var urgency = ServiceNowConfig.defaultUrgency
    var impact = ServiceNowConfig.defaultImpact
    var closeCode = ServiceNowConfig.defaultCloseCode
    /// `close_notes` as configured, `{alert}` standing for the alert's title; nil for the
    /// default (``ServiceNowPayload/defaultCloseNotes(_:)``).
    var closeNotes: String?
    var timeout = ServiceNowConfig.defaultTimeout

    /// "scheme://host:port": all that logs and messages show of the instance URL.
    var origin: String { RedactedURL.origin(of: instanceURL) }

    /// The `Authorization` header value for Basic auth and a configured token; nil for an
    /// OAuth client, whose header changes with each access token.
    var authorization: String? {
        switch auth {
        case .basic(let username, let password): HTTPHeader.basicAuthorization(user: username, password: password).value
        case .bearer(let token): "Bearer " + token
        case .oauth: nil
        }
    }

    /// What no result or log line may contain, as text: the password, token or client
    /// secret, the header value carrying it (a proxy may quote `Authorization`, whose Basic
    /// form hides the password in base64), their percent-encoded forms (the token request
    /// is a form, which a proxy may quote) and any credential in the instance URL. Access
    /// tokens are added as they are issued (``ServiceNowTokens``).
    var secretValues: [String] {
        var values = SecretSafe.secrets(inURL: instanceURL)
        switch auth {
        case .basic(let username, let password):
            values += [password, HTTPHeader.basicCredential(user: username, password: password)]
        case .bearer(let token):
            values += [token]
        case .oauth(let client):
            values += [client.clientSecret, PercentEncoding.encode(client.clientSecret)]
            if let password = client.password { values += [password, PercentEncoding.encode(password)] }
        }
        if let authorization { values.append(authorization) }
        return values
    }

    /// ``secretValues`` prepared for ``SecretSafe/redact(_:prepared:)``.
    var secrets: [[UInt8]] { SecretSafe.prepared(secretValues) }

    init(_ json: JSONValue) throws(PluginError) {
        guard case .object(let object) = json else { throw PluginError("config must be an object") }
        if let unknown = object.keys.sorted().first(where: { !Self.knownKeys.contains($0) }) {
            throw PluginError("unknown config key \"\(unknown)\" (known: \(Self.knownKeys.sorted().joined(separator: ", ")))")
        }

        guard case .string(let url)? = object["instance_url"] else {
            throw PluginError(object["instance_url"] == nil
                ? "missing required key \"instance_url\" (like https://acme.service-now.com)"
                : "key \"instance_url\": expected a string like https://acme.service-now.com")
        }
        guard ConfigValues.isUsableURL(url) else {
            throw PluginError("key \"instance_url\": expected an absolute https:// URL with a host, like https://acme.service-now.com, without a query")
        }
        var trimmed = url
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        instanceURL = trimmed

        let username = try Self.optionalString(object, "username")
        let password = try Self.secret(object, "password")
        let token = try Self.secret(object, "token")
        let clientID = try Self.optionalString(object, "client_id")
        let clientSecret = try Self.secret(object, "client_secret")
        if clientID != nil || clientSecret != nil {
            auth = try Self.oauth(clientID: clientID, clientSecret: clientSecret, username: username, password: password, token: token)
        } else {
            auth = try Self.staticAuth(username: username, password: password, token: token)
        }

        assignmentGroup = try Self.optionalString(object, "assignment_group")
        assignmentGroupLabel = try Self.optionalString(object, "assignment_group_label")
        assignmentGroupByNamespace = try Self.groups(object, "assignment_group_by_namespace")
        callerID = try Self.optionalString(object, "caller_id")
        category = try Self.optionalString(object, "category")

        switch object["input_display_value"] {
        case nil: break
        case .bool(let flag)?: inputDisplayValue = flag
        default: throw PluginError("key \"input_display_value\": expected true or false")
        }

        urgency = try Self.levels(object, "urgency", over: Self.defaultUrgency)
        impact = try Self.levels(object, "impact", over: Self.defaultImpact)

        if let code = try Self.optionalString(object, "close_code") { closeCode = code }
        switch object["close_notes"] {
        case nil: break
        // Line breaks are fine here: the notes travel inside JSON, never in a header or a query.
        case .string(let notes)? where !notes.isEmpty: closeNotes = notes
        case .string?: throw PluginError("key \"close_notes\" is empty")
        default: throw PluginError("key \"close_notes\": expected a string ({alert} stands for the alert's title)")
        }

        timeout = try ConfigValues.timeout(object["timeout"], fallback: Self.defaultTimeout)
    }

    /// Basic auth or a configured bearer token.
    private static func staticAuth(username: String?, password: String?, token: String?) throws(PluginError) -> Auth {
        switch (username, password, token) {
        case (let user?, let password?, nil):
            // Basic auth joins them with ":": a colon in the name would shift the split.
            guard !user.contains(":") else { throw PluginError("key \"username\": must not contain \":\"") }
            return .basic(username: user, password: password)
        case (nil, nil, let token?):
            return .bearer(token: token)
        case (_?, _?, _?), (nil, _?, _?), (_?, nil, _?):
            throw PluginError("set either \"username\" and \"password\" (Basic auth) or \"token\" (OAuth bearer), not both")
        case (_?, nil, nil):
            throw PluginError("key \"username\" needs \"password\" (or password_file: /path, or password: \"${ENV_VAR}\")")
        case (nil, _?, nil):
            throw PluginError("key \"password\" needs \"username\"")
        case (nil, nil, nil):
            throw PluginError("missing credentials: set \"username\" and \"password\" (or password_file: /path) for Basic auth, "
                + "\"client_id\" and \"client_secret\" for an OAuth client, or \"token\" for an OAuth bearer token")
        }
    }

    /// An OAuth client: `client_id` and `client_secret`, with `username` and `password` for
    /// the password grant or neither for client credentials.
    private static func oauth(clientID: String?, clientSecret: String?, username: String?, password: String?,
                              token: String?) throws(PluginError) -> Auth {
        guard token == nil else {
            throw PluginError("set either \"client_id\" and \"client_secret\" (an OAuth client) or \"token\" (OAuth bearer), not both")
        }
        guard let clientID else { throw PluginError("key \"client_secret\" needs \"client_id\"") }
        guard let clientSecret else {
            throw PluginError("key \"client_id\" needs \"client_secret\" (or client_secret_file: /path, or client_secret: \"${ENV_VAR}\")")
        }
        switch (username, password) {
        case (nil, nil):
            return .oauth(OAuthClient(clientID: clientID, clientSecret: clientSecret))
        case (let user?, let password?):
            return .oauth(OAuthClient(clientID: clientID, clientSecret: clientSecret, username: user, password: password))
        case (_?, nil):
            throw PluginError("key \"username\" needs \"password\" (or password_file: /path) for the OAuth password grant; "
                + "leave both out for client credentials")
        case (nil, _?):
            throw PluginError("key \"password\" needs \"username\"")
        }
    }

    /// `{namespace: group}`; each group a non-empty one-line string.
    private static func groups(_ object: [String: JSONValue], _ key: String) throws(PluginError) -> [String: String] {
        guard let value = object[key] else { return [:] }
        guard case .object(let entries) = value else {
            throw PluginError("key \"\(key)\": expected a map of namespace to assignment group, like {shop: Shop Team}")
        }
        var groups: [String: String] = [:]
        for (namespace, group) in entries.sorted(by: { $0.key < $1.key }) {
            guard !namespace.isEmpty else { throw PluginError("key \"\(key)\": a namespace is empty") }
            groups[namespace] = try text(group, key: "\(key).\(namespace.prefix(63))")
        }
        return groups
    }

    /// A non-empty string without line breaks, or nil when absent.
    private static func optionalString(_ object: [String: JSONValue], _ key: String) throws(PluginError) -> String? {
        try text(object[key], key: key)
    }

    /// ``optionalString(_:_:)`` for a value already looked up; errors call it `key` (a key,
    /// or a dotted path into a map).
    private static func text(_ value: JSONValue?, key: String) throws(PluginError) -> String? {
        switch value {
        case nil: return nil
        case .string(let text)?:
            guard !text.isEmpty else { throw PluginError("key \"\(key)\" is empty") }
            guard !text.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                throw PluginError("key \"\(key)\": the value contains a line break")
            }
            return text
        default: throw PluginError("key \"\(key)\": expected a string")
        }
    }

    /// A credential: like ``optionalString(_:_:)``, with errors that hint at `_file` and
    /// `${ENV}` and never quote the value.
    private static func secret(_ object: [String: JSONValue], _ key: String) throws(PluginError) -> String? {
        switch object[key] {
        case nil: return nil
        case .string(let text)?:
            guard !text.isEmpty else { throw PluginError("key \"\(key)\" is empty (is the file or environment variable empty?)") }
            // It goes into a header: a line break would inject another one.
            guard !text.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                throw PluginError("key \"\(key)\": the value contains a line break")
            }
            return text
        default: throw PluginError("key \"\(key)\": expected a string (or \(key)_file: /path)")
        }
    }

    /// `{HIGH: 1, low: "2"}` merged over `defaults`; levels 1...3.
    private static func levels(_ object: [String: JSONValue], _ key: String, over defaults: [Severity: Int]) throws(PluginError) -> [Severity: Int] {
        guard let value = object[key] else { return defaults }
        guard case .object(let entries) = value else {
            throw PluginError("key \"\(key)\": expected a map of severity (HIGH, LOW, INFO, DEBUG) to 1, 2 or 3")
        }
        var merged = defaults
        for (name, level) in entries.sorted(by: { $0.key < $1.key }) {
            guard let severity = Severity(rawValue: name.uppercased()) else {
                throw PluginError("key \"\(key).\(name.prefix(32))\": unknown severity (known: HIGH, LOW, INFO, DEBUG)")
            }
            let number: Int?
            switch level {
            case .number(let n) where n == n.rounded(): number = Int(exactly: n)
            case .string(let text): number = Int(text)
            default: number = nil
            }
            guard let number, (1...3).contains(number) else {
                throw PluginError("key \"\(key).\(name)\": expected 1 (High), 2 (Medium) or 3 (Low)")
            }
            merged[severity] = number
        }
        return merged
    }
}
