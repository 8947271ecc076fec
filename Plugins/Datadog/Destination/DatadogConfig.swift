import CanoSDK

/// A Datadog site: where an organisation's data lives, and so which hosts take its events
/// (destinations.md §6.1). An API key works only on its own organisation's site.
struct DatadogSite: Sendable, Equatable {
    /// The name users write: "US1", "EU1", "US1-FED"...
    var name: String
    /// The v1 (and general) API host; nil where Datadog lists none (UK1).
    var apiHost: String?
    /// The v2 event intake host.
    var intakeHost: String?

    /// Every site §6.1 lists, in its order.
    static let all: [DatadogSite] = [
        DatadogSite(name: "US1", apiHost: "api.datadoghq.com", intakeHost: "event-management-intake.datadoghq.com"),
        DatadogSite(name: "US3", apiHost: "api.us3.datadoghq.com", intakeHost: "event-management-intake.us3.datadoghq.com"),
        DatadogSite(name: "US5", apiHost: "api.us5.datadoghq.com", intakeHost: "event-management-intake.us5.datadoghq.com"),
        DatadogSite(name: "EU1", apiHost: "api.datadoghq.eu", intakeHost: "event-management-intake.datadoghq.eu"),
        DatadogSite(name: "AP1", apiHost: "api.ap1.datadoghq.com", intakeHost: "event-management-intake.ap1.datadoghq.com"),
        DatadogSite(name: "AP2", apiHost: "api.ap2.datadoghq.com", intakeHost: "event-management-intake.ap2.datadoghq.com"),
        DatadogSite(name: "UK1", apiHost: nil, intakeHost: "event-management-intake.uk1.datadoghq.com"),
        DatadogSite(name: "US1-FED", apiHost: "api.ddog-gov.com", intakeHost: "event-management-intake.ddog-gov.com"),
        DatadogSite(name: "US2-FED", apiHost: "api.us2.ddog-gov.com", intakeHost: "event-management-intake.us2.ddog-gov.com"),
    ]

    /// Other spellings users bring: "EU" (the UI's name), and the `DD_SITE` domains the
    /// Datadog Agent is configured with ("datadoghq.eu", "us3.datadoghq.com").
    static let aliases: [String: String] = [
        "EU": "EU1", "GOV": "US1-FED",
        "DATADOGHQ.COM": "US1", "US3.DATADOGHQ.COM": "US3", "US5.DATADOGHQ.COM": "US5", "DATADOGHQ.EU": "EU1",
        "AP1.DATADOGHQ.COM": "AP1", "AP2.DATADOGHQ.COM": "AP2", "UK1.DATADOGHQ.COM": "UK1",
        "DDOG-GOV.COM": "US1-FED", "US2.DDOG-GOV.COM": "US2-FED",
    ]

    /// The site named `text` (case-insensitive, aliases accepted), or nil.
    static func named(_ text: String) -> DatadogSite? {
        let upper = text.trimming(" ").uppercased()
        let name = aliases[upper] ?? upper
        return all.first { $0.name == name }
    }

    /// The API versions this site serves events on.
    var versions: [DatadogAPIVersion] {
        (intakeHost == nil ? [] : [.v2]) + (apiHost == nil ? [] : [.v1])
    }

    /// The base URL (no path) for `version`; nil when the site has no host for it.
    func baseURL(for version: DatadogAPIVersion) -> String? {
        switch version {
        case .v1: apiHost.map { "https://" + $0 }
        case .v2: intakeHost.map { "https://" + $0 }
        }
    }
}

/// Datadog's key validation endpoint, on the site's API host.
enum DatadogKeyCheck {
    static let path = "/api/v1/validate"
}

/// Which Events API the plugin posts to.
enum DatadogAPIVersion: String, Sendable {
    /// `POST /api/v1/events`: `alert_type`, and Datadog notifications (`@`-mentions in text).
    case v1
    /// `POST /api/v2/events` on the intake host: alert events whose `aggregation_key`
    /// deduplicates firing and resolve into one alert, with `status` error/warn/ok.
    case v2

    /// The request path, appended to the base URL.
    var path: String { "/api/\(rawValue)/events" }
}

/// Datadog Events API limits (destinations.md §6.2, §6.3), in characters, counted as
/// Unicode scalars as Datadog's (Go and JSON) clients do.
enum DatadogLimits {
    /// v1 `title`: the client model gives none; 100 is the limit third-party schemas cite.
    static let v1Title = 100
    /// v2 `title`.
    static let v2Title = 500
    /// v1 `text` and v2 `message`.
    static let text = 4_000
    static let aggregationKey = 100
    /// v2 `tags`; v1 states none, and the same cap keeps both versions alike.
    static let tags = 100
    /// Datadog's tagging rules: a tag is at most 200 characters.
    static let tagLength = 200
    /// v2 `attributes.custom` properties.
    static let customProperties = 100
}

/// The `datadog` destination's settings, parsed from its `config` block (snake_case keys).
///
/// ```yaml
/// config:
///   api_key_file: /etc/cano-collector/secrets/datadog/api-key  # or api_key: ${DD_API_KEY}
///   site: EU1                 # US1 (default), US3, US5, EU1 (or EU), AP1, AP2, UK1, US1-FED, US2-FED
///   api_version: auto         # auto (v2 where the site has it), v1 or v2
///   tags: [team:platform, source:cano-collector]
///   tag_labels: [alertname, severity]     # besides namespace and cluster, always sent
///   timeout: 10s
///   # api_url: http://127.0.0.1:8080     # tests and proxies: replaces the site's host
/// ```
///
/// Every error names the key and never repeats the API key.
struct DatadogConfig: Sendable {
    /// Keys this destination understands; anything else is a typo and an error.
    static let knownKeys: Set<String> = [
        "api_key", "site", "api_url", "api_version", "tags", "tag_labels", "timeout", "ca", "insecure_skip_verify",
    ]
    static let defaultTimeout: Duration = .seconds(10)

    var apiKey: String
    var site: DatadogSite
    var version: DatadogAPIVersion
    /// Base URL without a trailing slash; ``DatadogAPIVersion/path`` is appended.
    var baseURL: String
    /// Where create checks the key (`GET`): `/api/v1/validate` on the site's API host, or
    /// under `api_url` when set (as the events are). Nil where Datadog lists no API host
    /// (UK1) and no `api_url` is set: there is nothing documented to call.
    var keyCheckURL: String?
    /// Static tags, already in Datadog's tag form.
    var tags: [String] = []
    /// Labels sent as `name:value` tags, besides `namespace` and `cluster`.
    var tagLabels: [String] = []
    var timeout = DatadogConfig.defaultTimeout
    var tls: TLSOptions?

    /// The URL events are posted to.
    var eventsURL: String { baseURL + version.path }
    /// "scheme://host:port": all that logs and messages show of the URL.
    var origin: String { RedactedURL.origin(of: baseURL) }

    /// What no result or log line may contain: the key and any credential in `api_url`.
    var secrets: [[UInt8]] {
        SecretSafe.prepared([apiKey] + SecretSafe.secrets(inURL: baseURL))
    }

    init(_ json: JSONValue) throws(PluginError) {
        guard case .object(let object) = json else { throw PluginError("config must be an object") }
        if let unknown = object.keys.sorted().first(where: { !Self.knownKeys.contains($0) }) {
            throw PluginError("unknown config key \"\(BoundedEcho.cap(unknown, limit: 64))\" (known: \(Self.knownKeys.sorted().joined(separator: ", ")))")
        }
        apiKey = try Self.apiKey(object["api_key"])

        switch object["site"] {
        case nil: site = DatadogSite.all[0]
        case .string(let text)?:
            guard let named = DatadogSite.named(text) else {
                throw PluginError("key \"site\": expected one of \(DatadogSite.all.map(\.name).joined(separator: ", ")) (the site in your Datadog URL, e.g. app.datadoghq.eu is EU1)")
            }
            site = named
        default: throw PluginError("key \"site\": expected a site name like US1 or EU1")
        }

        let requested: String?
        switch object["api_version"] {
        case nil: requested = "auto"
        case .string(let text)?: requested = text.lowercased()
        default: requested = nil
        }
        switch requested {
        case "auto"?:
            // v2 wherever the site has the intake: its aggregation_key folds firing and
            // resolve into one alert (§6.3, §6.4). v1 only where there is no v2.
            guard let preferred = site.versions.first else { throw PluginError("key \"site\": \(site.name) has no events host") }
            version = preferred
        case "v1"?, "1"?:
            guard site.apiHost != nil else {
                throw PluginError("key \"api_version\": site \(site.name) has no v1 API host (Datadog lists only the v2 intake there); use api_version: v2")
            }
            version = .v1
        case "v2"?, "2"?:
            guard site.intakeHost != nil else { throw PluginError("key \"api_version\": site \(site.name) has no v2 event intake; use api_version: v1") }
            version = .v2
        default: throw PluginError("key \"api_version\": expected auto, v1 or v2")
        }

        switch object["api_url"] {
        case nil:
            baseURL = site.baseURL(for: version) ?? ""
            // The API host even when events go to the v2 intake host: the intake does not
            // serve /api/v1/validate.
            keyCheckURL = site.baseURL(for: .v1).map { $0 + DatadogKeyCheck.path }
        case .string(let text)?:
            guard ConfigValues.isUsableURL(text) else {
                throw PluginError("key \"api_url\": expected an absolute http:// or https:// URL with a host, no spaces, query or fragment (it replaces the site's host; /api/v1/events or /api/v2/events is appended)")
            }
            var trimmed = Substring(text)
            while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
            baseURL = String(trimmed)
            // A proxy or double in front of Datadog stands for both hosts.
            keyCheckURL = baseURL + DatadogKeyCheck.path
        default: throw PluginError("key \"api_url\": expected a string")
        }

        if let value = object["tags"] {
            for tag in try ConfigValues.strings(value, key: "tags") {
                guard let normalised = DatadogTags.normalise(tag) else {
                    throw PluginError("key \"tags\": \"\(BoundedEcho.cap(tag, limit: 64))\" has no letter to start a Datadog tag with")
                }
                tags.append(normalised)
            }
            guard tags.count <= DatadogLimits.tags / 2 else {
                throw PluginError("key \"tags\": at most \(DatadogLimits.tags / 2) static tags, so the Issue's own fit in Datadog's \(DatadogLimits.tags)")
            }
        }
        if let value = object["tag_labels"] {
            tagLabels = try ConfigValues.strings(value, key: "tag_labels")
            if tagLabels.contains(where: { $0.isEmpty }) { throw PluginError("key \"tag_labels\": a label name is empty") }
        }
        timeout = try ConfigValues.timeout(object["timeout"], fallback: Self.defaultTimeout)
        tls = try ConfigValues.tls(object)
    }

    /// The key alone: it goes into a header, so a line break would inject another one. The
    /// value is never echoed, whatever is wrong with it.
    private static func apiKey(_ value: JSONValue?) throws(PluginError) -> String {
        switch value {
        case nil:
            throw PluginError("missing required key \"api_key\" (or api_key_file: /path, or api_key: \"${DD_API_KEY}\")")
        case .string(let raw)?:
            // A key file written with `echo` ends in a newline; a key itself has no blanks.
            let key = raw.trimming(" \t\r\n")
            guard !key.isEmpty else { throw PluginError("key \"api_key\" is empty (is the file or environment variable empty?)") }
            guard !key.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x21 || $0.value >= 0x7f }) else {
                throw PluginError("key \"api_key\" contains whitespace, control or non-ASCII characters (the value is not shown)")
            }
            return key
        default:
            throw PluginError("key \"api_key\": expected a string")
        }
    }
}
