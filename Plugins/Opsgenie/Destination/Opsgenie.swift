import CanoSDK

/// The `opsgenie` destination: opens an Opsgenie alert (Alert API v2) when an Issue fires
/// and closes it when the Issue resolves, keyed by `alias` = the Issue's fingerprint.
///
/// The API key travels only in `Authorization: GenieKey <key>`; results and log lines are
/// cleaned of it. See ``OpsgenieConfig`` for the settings and ``OpsgenieNotifier`` for
/// what is sent and how answers map to results; docs/opsgenie.md for users.
public final class Opsgenie: DestinationPlugin {
    /// The type name in config: `type: opsgenie`.
    public static let name = "opsgenie"
    /// This plugin's version, also sent in `User-Agent`.
    public static let version = "1.1.0"

    private let notifier: OpsgenieNotifier

    /// Validates the config (see ``OpsgenieConfig``); no network I/O.
    public init(config: PluginConfig, host: HostServices) throws(PluginError) {
        let parsed = try OpsgenieConfig(config.json)
        let secrets = parsed.secrets
        notifier = OpsgenieNotifier(config: parsed) { level, message, fields in
            // Already clean at the source; redacted again because a field may quote a remote answer.
            host.log(level, SecretSafe.redact(message, prepared: secrets),
                     fields: fields.mapValues { SecretSafe.redact($0, prepared: secrets) })
        }
    }

    /// Creates (firing) or closes (resolved) the Issue's alert.
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        notifier.deliver(request)
    }
}
