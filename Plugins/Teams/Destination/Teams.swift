import CanoSDK

/// The `msteams` destination (Microsoft Teams through a Power Automate Workflows webhook)
/// as the host loads it. Exported from the `CanoTeams` library by `Plugins/Teams/Entry`.
///
/// - Each Issue becomes one Adaptive Card (``TeamsCardBuilder``); a resolve posts a short
///   card naming the firing one, because webhooks cannot edit a message.
/// - Results: 202/200 delivered; 429 (Retry-After), 408, 5xx and transport failures retry;
///   400, 413 and other 4xx are permanent, with the service's text.
/// - The webhook URL (the credential) never appears in a result or log line.
///
/// See docs/msteams.md for the config reference.
public final class Teams: DestinationPlugin {
    /// The type name in config: `type: msteams`.
    public static let name = "msteams"
    /// This plugin's version, also sent in `User-Agent`.
    public static let version = "1.0.0"

    private let notifier: TeamsNotifier

    /// Validates the config (see ``TeamsConfig``); no network I/O: a Workflows webhook has
    /// no endpoint to check a URL without posting a message to the channel.
    public init(config: PluginConfig, host: HostServices) throws(PluginError) {
        let parsed = try TeamsConfig(config.json)
        let secrets = SecretSafe.prepared(parsed.secrets)
        notifier = TeamsNotifier(config: parsed) { level, message, fields in
            // Already clean at the source; redacted again because a field may quote a remote answer.
            host.log(level, SecretSafe.redact(message, prepared: secrets),
                     fields: fields.mapValues { SecretSafe.redact($0, prepared: secrets) })
        }
    }

    /// Posts the Issue's card (blocks; runs on a host delivery thread).
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        notifier.deliver(request)
    }
}
