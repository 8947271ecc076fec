import CanoSDK

/// The `jira` destination: one Jira Cloud issue per firing alert, commented on while it
/// keeps firing, commented on and transitioned (`resolve_transition`) when it resolves,
/// and, with `reopen_transition`, commented on and reopened when it fires again after that.
///
/// Issues are found again by a label derived from the Issue's fingerprint, so there is
/// never a second open issue for one alert, across repeats and restarts. The API token
/// travels only in `Authorization: Basic`; results and log lines are cleaned of it. See
/// ``JiraConfig`` for the settings and ``JiraNotifier`` for what is sent; docs/jira.md for
/// users.
public final class Jira: DestinationPlugin {
    /// The type name in config: `type: jira`.
    public static let name = "jira"
    /// This plugin's version, also sent in `User-Agent`.
    public static let version = "1.1.0"

    private let notifier: JiraNotifier

    /// Validates the config (see ``JiraConfig``), then checks the credentials once with
    /// `GET /rest/api/3/myself` (skipped by `cano-collector validate`): a rejected token
    /// fails create; an unreachable Jira only logs a warning.
    public init(config: PluginConfig, host: HostServices) throws(PluginError) {
        let parsed = try JiraConfig(config.json)
        let secrets = parsed.secrets
        notifier = JiraNotifier(config: parsed, state: HostJiraState(host: host)) { level, message, fields in
            // Already clean at the source; redacted again because a field may quote a remote answer.
            host.log(level, SecretSafe.redact(message, prepared: secrets),
                     fields: fields.mapValues { SecretSafe.redact($0, prepared: secrets) })
        }
        if !host.isValidateOnly { try notifier.checkCredentials() }
    }

    /// Creates, comments on or resolves the Issue's Jira issue.
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        notifier.deliver(request)
    }
}

/// The host's key-value store (per instance, kept across restarts) as ``JiraStateStore``.
struct HostJiraState: JiraStateStore {
    let host: HostServices
    func get(_ key: String) -> String? { host.get(key).map { String(decoding: $0, as: UTF8.self) } }
    func put(_ key: String, _ value: String) { host.put(key, Array(value.utf8)) }
    func delete(_ key: String) { host.delete(key) }
}
