#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// The `slack` destination as the host loads it: parses the config and hands deliveries to
/// ``SlackNotifier`` with state, logs and counters going through the host's services.
/// Exported from the `CanoSlack` library by `Plugins/Slack/Entry`.
public final class SlackDestinationPlugin: PreviewableDestination {
    /// The type name users write in config: `type: slack`.
    public static let name = "slack"
    /// This plugin's version.
    public static let version = "1.1.0"
    /// `ca_file` is a path the plugin opens (libcurl's CAINFO), not a Secret to read.
    public static let pathKeys = ["ca_file"]
    /// Renders grouped Issues: one root message edited in place as members join and
    /// resolve (``GroupRenderer``, docs/slack.md).
    public static let capabilities: PluginCapabilities = [.groups]
    /// auth.test answers that mean the token itself is refused. Anything else (a proxy or
    /// a Slack-compatible gateway that lacks the method, an odd answer) is only a warning:
    /// the token may still post, and the deliveries will tell.
    static let rejectedTokenErrors: Set<String> = [
        "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
        "not_allowed_token_type", "no_permission", "ekm_access_denied", "team_access_not_granted",
        "org_login_required",
    ]

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
            // Bounded like any call, by timeout_seconds (default 10 s). The host creates
            // destinations in parallel, so this bounds the start whatever their number.
            try Self.checkToken(notifier.api, timeout: parsed.timeout, host: host)
        }
    }

    /// `auth.test`, once: a wrong or revoked token fails create with Slack's answer, so the
    /// destination shows unready at start (the host retries create with backoff, picking
    /// up a rotated Secret) instead of at the first dead letter. When Slack cannot be
    /// reached or answers oddly, only a warning: that must not hold the start, and
    /// deliveries retry on their own.
    static func checkToken(_ api: SlackWebAPI, timeout: Duration, host: HostServices) throws(PluginError) {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        do {
            let answer = try api.call("auth.test", form: [], deadline: api.clock.now().addingTimeInterval(seconds))
            var fields = ["team": answer["team"]?.stringValue ?? "", "user": answer["user"]?.stringValue ?? ""]
            if let bot = answer["bot_id"]?.stringValue { fields["bot_id"] = bot }
            host.log(.info, "slack token checked with auth.test", fields: fields)
        } catch {
            guard error.code == .slack, let code = error.slackError, rejectedTokenErrors.contains(code) else {
                host.log(.warning, "slack auth.test could not check the token; deliveries will tell", fields: ["reason": error.message])
                return
            }
            throw PluginError("Slack auth.test rejected the token: \(code) "
                + "(token, token_file or ${VAR} must hold a bot token xoxb-… of an app installed in this workspace; "
                + "set check_token: false to skip this check)")
        }
    }

    /// The `chat.postMessage` bodies, root then thread replies, as a JSON array, posted
    /// nowhere (the console's preview); the summary names the files it would upload.
    public func render(_ issue: Issue) throws(PluginError) -> RenderedRequest {
        let (channel, messages, files) = notifier.preview(issue)
        guard let bytes = try? IssueCoding.encode(JSONValue.array(messages)) else { throw PluginError("the Slack message does not encode as JSON") }
        let replies = messages.count > 1 ? " and \(messages.count - 1) thread repl\(messages.count == 2 ? "y" : "ies")" : ""
        let uploads = files.isEmpty ? "" : ", uploading \(files.joined(separator: ", "))"
        return RenderedRequest(summary: "chat.postMessage to \(channel)\(replies)\(uploads)", body: bytes)
    }

    /// Delivers one Issue (blocks; runs on a host delivery thread). The web API layer
    /// already cleans remote text; this is the last check before the host sees a message.
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        notifier.deliver(request).redacting(secrets: secrets)
    }
}
