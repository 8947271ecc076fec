import CanoSDK

/// The `slack` destination as the host loads it: parses the config and hands deliveries to
/// ``SlackNotifier`` with state, logs and counters going through the host's services.
/// Exported from the `CanoSlack` library by `Plugins/Slack/Entry`.
public final class SlackDestinationPlugin: DestinationPlugin {
    /// The type name users write in config: `type: slack`.
    public static let name = "slack"
    /// This plugin's version.
    public static let version = "1.0.0"

    let notifier: SlackNotifier
    /// The token and `api_url` credentials: no result leaves the plugin holding them.
    private let secrets: [[UInt8]]

    /// Validates the config; makes no network calls.
    public init(config: PluginConfig, host: HostServices) throws(PluginError) {
        let parsed = try SlackConfig.parse(config.json)
        notifier = SlackNotifier(config: parsed, environment: SlackEnvironment(host: host))
        secrets = parsed.secrets
    }

    /// Delivers one Issue (blocks; runs on a host delivery thread). The web API layer
    /// already cleans remote text; this is the last check before the host sees a message.
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        notifier.deliver(request).redacting(secrets: secrets)
    }
}
