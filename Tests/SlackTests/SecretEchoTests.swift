import CanoSDK
import Testing
import TestSupport
@testable import SlackDestination

/// Issue #19: a Slack API or proxy that quotes the request's Authorization header in its
/// error must not get the token into the plugin's result or its log lines.
@Suite("Slack secret echo")
struct SlackSecretEchoTests {
    @Test("an error that echoes the token is redacted in the result and the logs")
    func echoedTokenIsRedacted() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        h.slack.inject(.echoCredentials, method: "chat.postMessage")
        let result = await h.deliver(try h.notifier(), makeIssue())
        #expect(result.isPermanent, "invalid_auth stays permanent: \(result)")
        #expect(result.text.contains("invalid_auth") && result.text.contains(SecretSafe.placeholder), "\(result.text)")
        assertNoSecret(testToken, in: [LeakSurface("result message", result.text)] + h.logs.all.map { LeakSurface("plugin log", $0) })
    }

    @Test("the plugin's own results are cleaned of the token and api_url credentials")
    func pluginResultsAreRedacted() throws {
        let config = try SlackConfig.parse(.object([
            "token": .string(testToken), "channel": "#alerts", "api_url": .string("https://proxy:PROXYPASS99@slack.example.com/api/"),
        ]))
        let dirty = DeliveryResult.retry(message: "proxy said \(testToken) for proxy:PROXYPASS99")
        let clean = dirty.redacting(secrets: config.secrets)
        #expect(clean == .retry(message: "proxy said <redacted> for <redacted>"))
    }
}
