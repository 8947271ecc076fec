import CanoSDK

/// The `msteams` destination's settings, parsed from its `config` block (snake_case keys).
///
/// ```yaml
/// config:
///   url_file: /etc/cano-collector/secrets/teams/webhook-url   # or url: ${TEAMS_WEBHOOK_URL}
///   timeout: 10s
/// ```
///
/// `url` is the Power Automate **Workflows** webhook URL ("Post to a channel when a webhook
/// request is received"). It is the credential (its `sig` query parameter signs it), so no
/// error message, result or log line repeats it: they name its origin at most.
///
/// A legacy Office 365 connector URL (`https://<tenant>.webhook.office.com/webhookb2/…` or
/// `https://outlook.office.com/webhook/…`) is refused: Microsoft retired those connectors
/// (destinations.md §2.1), so a config that still holds one would only dead-letter.
public struct TeamsConfig: Sendable {
    /// Keys this destination understands; anything else is a typo and an error.
    static let knownKeys: Set<String> = ["url", "timeout", "ca", "insecure_skip_verify"]
    static let defaultTimeout: Duration = .seconds(10)

    /// The Workflows webhook URL, as configured (query included: it carries the signature).
    public var url: String
    /// Per-request timeout (also bounded by each delivery's deadline).
    public var timeout = TeamsConfig.defaultTimeout
    /// `ca` / `insecure_skip_verify`, for a proxy with its own CA; nil for the defaults.
    public var tls: TLSOptions?

    /// "scheme://host:port": all that logs and messages show of the URL.
    public var origin: String { RedactedURL.origin(of: url) }

    /// What no result or log line may contain: the whole URL, and its signature on its own
    /// (a service or proxy may quote just the query).
    public var secrets: [String] { [url] + SecretSafe.secrets(inURL: url) }

    /// Parses and checks a config object.
    /// - Throws: ``PluginError`` naming the key at fault, never echoing the URL.
    public init(_ json: JSONValue) throws(PluginError) {
        guard case .object(let object) = json else { throw PluginError("config must be an object") }
        if let unknown = object.keys.sorted().first(where: { !Self.knownKeys.contains($0) }) {
            throw PluginError("unknown config key \"\(BoundedEcho.cap(unknown, limit: 64))\" (known: \(Self.knownKeys.sorted().joined(separator: ", ")))")
        }
        switch object["url"] {
        case nil, .null?:
            throw PluginError("missing required key \"url\" (the Teams Workflows webhook URL; or url_file: /path, or url: ${ENV_VAR})")
        case .string(let raw)?:
            // A URL file written with `echo` ends in a newline; a URL never has blanks.
            let text = raw.trimming(" \t\r\n")
            // The retired connector first: its message says what to do, which beats "bad URL".
            if Self.isLegacyConnectorURL(text) {
                throw PluginError(
                    "key \"url\": this is an Office 365 connector (Incoming Webhook) URL, and Microsoft retired those connectors; "
                        + "create a Workflows webhook in Teams (\"Post to a channel when a webhook request is received\") and use its URL (docs/msteams.md)")
            }
            guard ConfigValues.isUsableURL(text, allowQuery: true) else {
                throw PluginError("key \"url\": expected the Workflows webhook URL (https://…/workflows/…/triggers/manual/paths/invoke?…&sig=…)")
            }
            url = text
        default:
            throw PluginError("key \"url\": expected a string (or url_file: /path)")
        }
        timeout = try ConfigValues.timeout(object["timeout"], fallback: Self.defaultTimeout)
        tls = try ConfigValues.tls(object)
    }

    /// True for the retired connector URL shapes of destinations.md §2.1:
    /// `https://<tenant>.webhook.office.com/webhookb2/…` and `https://outlook.office.com/webhook/…`
    /// (also `outlook.office365.com`). Workflows URLs live on `*.logic.azure.com`,
    /// `*.api.powerplatform.com` or `api.powerautomate.com`, so nothing current matches.
    public static func isLegacyConnectorURL(_ url: String) -> Bool {
        let origin = RedactedURL.origin(of: url).lowercased()
        guard let schemeEnd = origin.firstRange(of: "://") else { return false }
        var host = Substring(origin[schemeEnd.upperBound...])
        if let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        let lowered = url.lowercased()
        let afterScheme = lowered.firstRange(of: "://").map { lowered[$0.upperBound...] } ?? Substring(lowered)
        let pathOnly = afterScheme.drop { $0 != "/" }
        if host == "webhook.office.com" || host.hasSuffix(".webhook.office.com") { return true }
        if host == "outlook.office.com" || host == "outlook.office365.com" { return pathOnly.hasPrefix("/webhook") }
        return false
    }
}
