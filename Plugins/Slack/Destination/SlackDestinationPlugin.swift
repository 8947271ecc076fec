#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// The `slack` destination as the host loads it: parses the config and hands deliveries to
/// ``SlackNotifier`` with state, logs and counters going through the host's services.
/// Exported from the `CanoSlack` library by `Plugins/Slack/Entry`.
public final class SlackDestinationPlugin: DestinationPlugin {
    /// The type name users write in config: `type: slack`.
    public static let name = "slack"
    /// This plugin's version.
    public static let version = "1.1.0"
    /// `ca_file` is a path the plugin opens (libcurl's CAINFO), not a Secret to read.
    public static let pathKeys = ["ca_file"]
    /// The longest `auth.test` may hold create (and so the collector's start).
    static let tokenCheckTimeout: Duration = .seconds(3)

    let notifier: SlackNotifier
    /// The token and `api_url` credentials: no result leaves the plugin holding them.
    private let secrets: [[UInt8]]

    /// Validates the config, then checks the token with `auth.test` (unless `check_token:
    /// false`, or this is `validate`'s dry run, which must work offline).
    /// - Throws: ``PluginError`` for a bad config, or when Slack rejects the token.
    public init(config: PluginConfig, host: HostServices) throws(PluginError) {
        let parsed = try SlackConfig.parse(config.json)
        notifier = SlackNotifier(config: parsed, environment: SlackEnvironment(host: host))
        secrets = parsed.secrets
        if parsed.checkToken, !host.isValidateOnly {
            try Self.checkToken(notifier.api, host: host)
        }
    }

    /// `auth.test`, once: a wrong or revoked token fails create with Slack's answer, so the
    /// destination shows unready at start (the host retries create with backoff, picking
    /// up a rotated Secret) instead of at the first dead letter. When Slack cannot be
    /// reached or answers oddly, only a warning: that must not hold the start, and
    /// deliveries retry on their own.
    static func checkToken(_ api: SlackWebAPI, host: HostServices) throws(PluginError) {
        do {
            let answer = try api.call("auth.test", form: [], deadline: Date().addingTimeInterval(Double(tokenCheckTimeout.components.seconds)))
            var fields = ["team": answer["team"]?.stringValue ?? "", "user": answer["user"]?.stringValue ?? ""]
            if let bot = answer["bot_id"]?.stringValue { fields["bot_id"] = bot }
            host.log(.info, "slack token checked with auth.test", fields: fields)
        } catch {
            guard error.code == .slack, !error.retryable else {
                host.log(.warning, "slack auth.test could not check the token; deliveries will tell", fields: ["reason": error.message])
                return
            }
            throw PluginError("Slack auth.test rejected the token: \(error.slackError ?? error.message) "
                + "(token, token_file or ${VAR} must hold a bot token xoxb-… of an app installed in this workspace; "
                + "set check_token: false to skip this check)")
        }
    }

    /// Delivers one Issue (blocks; runs on a host delivery thread). The web API layer
    /// already cleans remote text; this is the last check before the host sees a message.
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        notifier.deliver(request).redacting(secrets: secrets)
    }
}
