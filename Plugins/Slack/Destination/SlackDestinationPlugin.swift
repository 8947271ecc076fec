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

    /// Validates the config; makes no network calls.
    public init(config: PluginConfig, host: HostServices) throws(PluginError) {
        notifier = SlackNotifier(config: try SlackConfig.parse(config.json), environment: SlackEnvironment(host: host))
    }

    /// Delivers one Issue (blocks; runs on a host delivery thread).
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        notifier.deliver(request)
    }
}
