import CanoSDK

/// The `servicenow` destination: opens a ServiceNow incident (Table API) when an Issue
/// fires, adds a work note when it fires again, and resolves it when the Issue resolves,
/// keyed by `correlation_id` = the Issue's fingerprint, so neither a repeat nor a restart
/// creates a duplicate.
///
/// The password (or token) travels only in `Authorization`, an OAuth client's secret only
/// in the token request's body; results and log lines are cleaned of them and of the
/// access tokens issued. See ``ServiceNowConfig`` for the settings and ``ServiceNowNotifier`` for
/// what is sent and how answers map to results; docs/servicenow.md for users.
public final class ServiceNow: DestinationPlugin {
    /// The type name in config: `type: servicenow`.
    public static let name = "servicenow"
    /// This plugin's version, also sent in `User-Agent`.
    public static let version = "1.0.0"

    private let notifier: ServiceNowNotifier

    /// Validates the config (see ``ServiceNowConfig``), then checks the credentials once
    /// with `GET /api/now/table/incident?sysparm_limit=1`, bounded by `timeout` (skipped by
    /// `cano-collector validate`): a rejection (401, 403, a refused OAuth client) fails
    /// create; an unreachable ServiceNow only logs a warning (plugins.md §2).
    public init(config: PluginConfig, host: HostServices) throws(PluginError) {
        let parsed = try ServiceNowConfig(config.json)
        let secrets = parsed.secrets
        notifier = ServiceNowNotifier(config: parsed) { level, message, fields in
            // The notifier cleans its lines (access tokens included); redacted again here
            // because a field may quote a remote answer.
            host.log(level, SecretSafe.redact(message, prepared: secrets),
                     fields: fields.mapValues { SecretSafe.redact($0, prepared: secrets) })
        }
        if !host.isValidateOnly { try notifier.checkCredentials() }
    }

    /// Creates, notes on, or resolves the Issue's incident.
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        notifier.deliver(request)
    }
}
