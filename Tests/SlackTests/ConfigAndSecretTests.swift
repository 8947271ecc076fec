#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Testing
import TestSupport
@testable import SlackDestination

@Suite("Slack config, routing and secrets")
struct SlackConfigTests {
    func parseError(_ json: JSONValue) -> String? {
        do {
            _ = try SlackConfig.parse(json)
            return nil
        } catch {
            return error.message
        }
    }

    @Test("unknown keys, missing keys and bad values are refused by name")
    func configErrors() throws {
        #expect(parseError(["token": "xoxb-1", "channel": "#a", "chanel_label": "x"])?.contains("unknown key \"chanel_label\"") == true)
        #expect(parseError(["channel": "#a"])?.contains("\"token\"") == true)
        #expect(parseError(["token": "xoxb-1"])?.contains("\"channel\"") == true)
        #expect(parseError(["token": "xoxb-1", "channel": "#a", "api_url": "ftp://x"])?.contains("api_url") == true)
        #expect(parseError(["token": "xoxb-1", "channel": "#a", "pace_per_channel": -1])?.contains("pace_per_channel") == true)
        #expect(parseError(["token": "xoxb-1", "channel": "alerts-{{namspace}}"])?.contains("unknown variable \"namspace\"") == true)
        #expect(parseError(["token": "xoxb-1", "channel": "#a", "timeout_seconds": "10"])?.contains("timeout_seconds") == true)
        let spaced = parseError(["token": "xoxb-secret value", "channel": "#a"])
        #expect(spaced?.contains("whitespace") == true)
        #expect(spaced?.contains("secret") == false)

        let ok = try? SlackConfig.parse(["token": "xoxb-1", "channel": "#a", "api_url": "http://proxy.local/slack/api"])
        #expect(ok?.apiURL == "http://proxy.local/slack/api/")
        #expect(ok?.channelLabel == "slack_channel")
        #expect(ok?.paceInterval == .seconds(1))
        #expect(try SlackConfig.parse(["token": "t", "channel": "c"]).apiURL == "https://slack.com/api/")
    }

    @Test("channel routing: annotation, then label, then default; templates expand")
    func routing() throws {
        let config = try SlackConfig.parse(["token": "t", "channel": "alerts-{{namespace}}", "channel_annotation": "slack/channel"])
        let routing = ChannelRouting(config: config)
        #expect(try routing.channel(for: makeIssue()) == "alerts-payments")
        #expect(try routing.channel(for: makeIssue(labels: ["slack_channel": "#team-{{labels.team}}", "team": "db"])) == "team-db")
        #expect(try routing.channel(for: makeIssue(labels: ["slack_channel": "from-label"], annotations: ["slack/channel": "C0ANNOTATE"])) == "C0ANNOTATE")
        var noNamespace = makeIssue()
        noNamespace.subject.namespace = nil
        #expect(throws: ChannelTemplate.Failure.self) { try routing.channel(for: noNamespace) }
    }

    @Test("a template variable the Issue lacks is a permanent error naming it")
    func missingTemplateValue() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let result = await h.deliver(try h.notifier(["channel": "alerts-{{labels.team}}"]), makeIssue())
        #expect(result.isPermanent)
        #expect(result.text.contains("labels.team"))
        #expect(h.slack.calls.isEmpty)
    }

    @Test("the token appears in no log line, result, error or request body")
    func secretNeverLeaks() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        var results: [DeliveryResult] = []
        let notifier = try h.notifier()
        results.append(await h.deliver(notifier, makeIssue(enrichments: SlackRenderingTests.allKinds)))
        h.slack.inject(.http429(retryAfter: 1), method: "chat.postMessage")
        results.append(await h.deliver(notifier, makeIssue(fingerprint: "b")))
        h.clock.advance(5)
        h.slack.inject(.serverError(500), method: "chat.postMessage")
        results.append(await h.deliver(notifier, makeIssue(fingerprint: "c")))
        h.slack.inject(.delay(.seconds(2)), method: "chat.postMessage")
        results.append(await h.deliver(try h.notifier(["timeout_seconds": .number(0.3)]), makeIssue(fingerprint: "d")))
        h.slack.inject(.error("invalid_blocks"), method: "chat.postMessage")
        results.append(await h.deliver(notifier, makeIssue(fingerprint: "e")))
        results.append(await h.deliver(try h.notifier(["channel": "#missing"]), makeIssue(fingerprint: "f")))
        results.append(await h.deliver(notifier, makeIssue(status: .resolved)))
        var wrong = try SlackConfig.parse(h.configJSON())
        wrong.token = testToken + "x"
        results.append(await h.deliver(SlackNotifier(config: wrong, environment: SlackEnvironment(state: h.state, clock: h.clock, log: { h.logs.record($0, $1, $2) })), makeIssue(fingerprint: "g")))
        // An unreachable API: the transport error names the origin only.
        var unreachable = try SlackConfig.parse(h.configJSON(["api_url": "http://127.0.0.1:9/api/"]))
        unreachable.token = testToken
        results.append(await h.deliver(SlackNotifier(config: unreachable, environment: SlackEnvironment(state: h.state, clock: h.clock, log: { h.logs.record($0, $1, $2) })), makeIssue(fingerprint: "h")))

        #expect(results.contains { $0.isDelivered }, "\(results)")
        #expect(results.contains { $0.isPermanent })
        #expect(results.contains { $0.retryAfter != nil })
        let secretPart = "SECRETsecretSECRET"
        for result in results { #expect(!result.text.contains(secretPart), "\(result)") }
        #expect(!h.logs.all.isEmpty)
        for line in h.logs.all { #expect(!line.contains(secretPart), "\(line)") }
        #expect(parseErrorMentionsNoToken())
        // On the wire the token travels only in the Authorization header of API calls.
        for call in h.slack.calls {
            #expect(!String(decoding: call.body, as: UTF8.self).contains(secretPart))
            #expect(call.method == "upload" ? call.headers["authorization"] == nil : call.tokenSource == "header")
        }
    }

    @Test("a config printed by accident shows no token")
    func configDescriptionRedacts() throws {
        let config = try SlackConfig.parse(["token": .string(testToken), "channel": "#a"])
        var dumped = ""
        dump(config, to: &dumped)
        for text in ["\(config)", String(describing: config), String(reflecting: config), dumped] {
            #expect(!text.contains("SECRET"), "\(text)")
            #expect(text.contains("redacted"))
        }
    }

    func parseErrorMentionsNoToken() -> Bool {
        let error = parseError(["token": .string(testToken), "channel": "#a", "bogus": true]) ?? ""
        return !error.isEmpty && !error.contains("SECRET")
    }
}
