#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// One Slack destination's settings, parsed from its snake_case `config` block.
///
/// The host resolves `${ENV}` references and `token_file` before `create()`, so the plugin
/// only ever sees `token`. Unknown keys are refused by name: a typo such as `chanel` must
/// not silently fall back to a default.
public struct SlackConfig: Sendable, Equatable {
    /// The bot token (`xoxb-…`). Never logged, never put in a message or an error.
    public var token: String
    /// The default channel: an ID (`C0123…`), a name (`alerts` or `#alerts`), or a template
    /// such as `alerts-{{namespace}}`.
    public var channel: ChannelTemplate
    /// The Web API base URL, always ending in `/` (default `https://slack.com/api/`).
    public var apiURL: String
    /// The Issue subject label whose value overrides the channel (default `slack_channel`).
    public var channelLabel: String?
    /// The Issue subject annotation whose value overrides the channel; wins over the label.
    public var channelAnnotation: String?
    /// Messages per second per channel; 0 turns pacing off.
    public var pacePerChannel: Double
    /// Upper bound for one HTTP call; the delivery deadline may cut it shorter.
    public var timeout: Duration
    /// A CA bundle to trust for `api_url` (proxies with a private CA). A path: the plugin
    /// declares `ca_file` in its `path_keys`, so the host passes it through unread.
    public var caFile: String?
    /// Call `auth.test` at create, so a token Slack rejects shows at start (default true).
    public var checkToken: Bool

    /// The keys `parse` accepts.
    public static let knownKeys: Set<String> = [
        "token", "channel", "api_url", "channel_label", "channel_annotation",
        "pace_per_channel", "timeout_seconds", "ca_file", "check_token",
    ]

    /// Slack's public Web API.
    public static let defaultAPIURL = "https://slack.com/api/"

    /// Creates a config directly (tests and embedders); ``parse(_:)`` validates user input.
    public init(
        token: String, channel: ChannelTemplate, apiURL: String = SlackConfig.defaultAPIURL,
        channelLabel: String? = "slack_channel", channelAnnotation: String? = nil,
        pacePerChannel: Double = 1, timeout: Duration = .seconds(10), caFile: String? = nil, checkToken: Bool = true
    ) {
        self.token = token
        self.channel = channel
        self.apiURL = apiURL.hasSuffix("/") ? apiURL : apiURL + "/"
        self.channelLabel = channelLabel
        self.channelAnnotation = channelAnnotation
        self.pacePerChannel = pacePerChannel
        self.timeout = timeout
        self.caFile = caFile
        self.checkToken = checkToken
    }

    /// Validates a destination's `config` object. Errors name the key, never a value
    /// (the token must not leak through a config error).
    public static func parse(_ json: JSONValue) throws(PluginError) -> SlackConfig {
        guard let object = json.objectValue else { throw PluginError("slack config must be a JSON object") }
        if let unknown = object.keys.filter({ !knownKeys.contains($0) }).sorted().first {
            throw PluginError("slack config: unknown key \"\(unknown)\" (known keys: \(knownKeys.sorted().joined(separator: ", ")))")
        }

        func string(_ key: String) throws(PluginError) -> String? {
            guard let value = object[key], value != .null else { return nil }
            guard let text = value.stringValue else { throw PluginError("slack config: key \"\(key)\" must be a string") }
            return text
        }
        func number(_ key: String) throws(PluginError) -> Double? {
            guard let value = object[key], value != .null else { return nil }
            guard let n = value.numberValue, n.isFinite else { throw PluginError("slack config: key \"\(key)\" must be a number") }
            return n
        }

        guard let token = try string("token"), !token.isEmpty else {
            throw PluginError("slack config: missing required key \"token\" (set token, or token_file, or token: ${ENV_VAR})")
        }
        // A newline in a header value would let the token smuggle extra headers; whitespace
        // is always a copy-paste accident. The value itself is not echoed.
        guard !token.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw PluginError("slack config: key \"token\" contains whitespace")
        }
        guard let channelText = try string("channel"), !channelText.isEmpty else {
            throw PluginError("slack config: missing required key \"channel\"")
        }
        let channel: ChannelTemplate
        do {
            channel = try ChannelTemplate(channelText)
        } catch {
            throw PluginError("slack config: key \"channel\": \(error.message)")
        }
        let apiURL = try string("api_url") ?? defaultAPIURL
        guard apiURL.hasPrefix("https://") || apiURL.hasPrefix("http://") else {
            throw PluginError("slack config: key \"api_url\" must start with https:// or http://")
        }
        let pace = try number("pace_per_channel") ?? 1
        guard pace >= 0 else { throw PluginError("slack config: key \"pace_per_channel\" must be >= 0 (messages per second; 0 turns pacing off)") }
        let timeoutSeconds = try number("timeout_seconds") ?? 10
        guard timeoutSeconds > 0 else { throw PluginError("slack config: key \"timeout_seconds\" must be > 0") }
        var checkToken = true
        if let value = object["check_token"], value != .null {
            guard let flag = value.boolValue else { throw PluginError("slack config: key \"check_token\" must be true or false") }
            checkToken = flag
        }
        let label = try string("channel_label")
        let annotation = try string("channel_annotation")
        return SlackConfig(
            token: token, channel: channel, apiURL: apiURL,
            channelLabel: label.map { $0.isEmpty ? nil : $0 } ?? "slack_channel",
            channelAnnotation: annotation.flatMap { $0.isEmpty ? nil : $0 },
            pacePerChannel: pace, timeout: .milliseconds(Int64(timeoutSeconds * 1000)),
            caFile: try string("ca_file"), checkToken: checkToken)
    }

    /// What must never appear in a result, an error or a log line: the token and any
    /// credentials in `api_url` (userinfo, keyed query), prepared for ``SecretSafe``.
    var secrets: [[UInt8]] {
        SecretSafe.prepared([token] + SecretSafe.secrets(inURL: apiURL))
    }

    /// The minimum gap between two messages to one channel, or nil when pacing is off.
    var paceInterval: Duration? {
        pacePerChannel > 0 ? .milliseconds(Int64((1000 / pacePerChannel).rounded(.up))) : nil
    }
}

// A config printed by accident (string interpolation, dump, a debugger) must not show the
// token, so every textual form replaces it.
extension SlackConfig: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "SlackConfig(token: <redacted>, channel: \(channel), api_url: \(RedactedURL.origin(of: apiURL)), pace_per_channel: \(pacePerChannel))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["token": "<redacted>", "channel": channel.text, "apiURL": apiURL, "pacePerChannel": pacePerChannel], displayStyle: .struct)
    }
}
