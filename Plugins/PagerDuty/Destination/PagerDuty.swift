import CanoSDK

/// The `pagerduty` destination (PagerDuty Events API v2) as the host loads it: parses the
/// config and hands deliveries to ``PagerDutyNotifier``, logging through the host.
/// Exported from the `CanoPagerDuty` library by `Plugins/PagerDuty/Entry`.
///
/// - Firing Issues trigger an alert and resolved ones resolve it, with `dedup_key` = the
///   Issue's fingerprint; Helm release Issues become Change Events.
/// - Results: 202 delivered; 429, 408, 5xx and transport failures retry; 400 and other
///   4xx are permanent, with PagerDuty's own error text.
/// - The routing key never appears in a result or log line.
///
/// See docs/pagerduty.md for the config reference.
public final class PagerDuty: DestinationPlugin {
    /// The type name in config: `type: pagerduty`.
    public static let name = "pagerduty"
    /// This plugin's version, also sent in `User-Agent`.
    public static let version = "1.0.0"

    let notifier: PagerDutyNotifier

    /// Validates the config; no network I/O (PagerDuty has no endpoint to check a key
    /// without sending an event).
    public init(config: PluginConfig, host: HostServices) throws(PluginError) {
        let parsed = try PagerDutyConfig(config.json)
        notifier = PagerDutyNotifier(config: parsed) { level, message, fields in host.log(level, message, fields: fields) }
    }

    /// Sends the Issue (blocks; runs on a host delivery thread).
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        notifier.deliver(request)
    }
}
