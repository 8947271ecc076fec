#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Testing
import TestSupport
@testable import SlackDestination

@Suite("Slack rate limits and errors")
struct SlackErrorTests {
    @Test("HTTP 429 with Retry-After: retry no earlier than that, and the channel stays paused")
    func http429WithRetryAfter() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        h.slack.inject(.http429(retryAfter: 7), method: "chat.postMessage")
        let notifier = try h.notifier()
        let result = await h.deliver(notifier, makeIssue())
        #expect(result.retryAfter == .some(.seconds(7)), "\(result)")
        #expect(result.text.contains("429"))

        // The next Issue to that channel is held back without calling Slack.
        // 6 s away is past the 5 s the pacer will block for: the Issue goes back to the host.
        h.clock.advance(1)
        let held = await h.deliver(notifier, makeIssue(fingerprint: "other"))
        let wait = try #require(held.retryAfter ?? nil)
        #expect(wait == .seconds(6))
        #expect(h.slack.calls("chat.postMessage").count == 1)

        // 4 s away: the pacer waits on the delivery thread instead of spending an attempt.
        h.clock.advance(2)
        #expect(await h.deliver(notifier, makeIssue(fingerprint: "other")).isDelivered)
        #expect(h.clock.sleeps == [4])
    }

    @Test("HTTP 429 without Retry-After: retry after the default wait")
    func http429WithoutHeader() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        h.slack.inject(.http429(retryAfter: nil), method: "chat.postMessage")
        let result = await h.deliver(try h.notifier(), makeIssue())
        #expect(result.retryAfter == .some(SlackAPIError.defaultRateLimitWait), "\(result)")
    }

    @Test("ok:false ratelimited: retry after Retry-After")
    func okFalseRatelimited() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        h.slack.inject(.ratelimited(retryAfter: 3), method: "chat.postMessage")
        let result = await h.deliver(try h.notifier(), makeIssue())
        #expect(result.retryAfter == .some(.seconds(3)), "\(result)")
        #expect(result.text.contains("ratelimited"))
    }

    @Test("5xx with an HTML body: retry with the host's backoff")
    func serverError() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        h.slack.inject(.serverError(503), method: "chat.postMessage")
        let result = await h.deliver(try h.notifier(), makeIssue())
        #expect(result.retryAfter == .some(nil), "\(result)")
        #expect(result.text == "Slack chat.postMessage: HTTP 503")
    }

    @Test("a timeout: retry")
    func timeout() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        h.slack.inject(.delay(.seconds(3)), method: "chat.postMessage")
        let result = await h.deliver(try h.notifier(["timeout_seconds": .number(0.3)]), makeIssue())
        #expect(result.retryAfter == .some(nil), "\(result)")
        #expect(result.text.contains("timeout"))
    }

    @Test("permanent Slack errors carry Slack's code and the channel", arguments: [
        ("#nope", "channel_not_found", "#nope"),
        ("C0MISSING9", "channel_not_found", "C0MISSING9"),
        ("#not-joined", "not_in_channel", "C0OUTSIDE1"),
    ])
    func channelErrors(channel: String, code: String, named: String) async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let result = await h.deliver(try h.notifier(["channel": .string(channel)]), makeIssue())
        #expect(result.isPermanent, "\(result)")
        #expect(result.text.contains(code))
        #expect(result.text.contains(named))
    }

    @Test("invalid_auth and invalid_blocks are permanent with Slack's code")
    func permanentCodes() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        var config = try SlackConfig.parse(h.configJSON())
        config.token = "xoxb-wrong"
        let wrong = SlackNotifier(config: config, environment: SlackEnvironment(state: h.state, clock: h.clock))
        let auth = await h.deliver(wrong, makeIssue())
        #expect(auth.isPermanent && auth.text.contains("invalid_auth"), "\(auth)")

        h.slack.inject(.error("invalid_blocks"), method: "chat.postMessage")
        let blocks = await h.deliver(try h.notifier(), makeIssue())
        #expect(blocks.isPermanent && blocks.text.contains("invalid_blocks"), "\(blocks)")
    }

    @Test("pacing: a second message to the same channel waits one interval; another channel does not")
    func pacing() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let notifier = try h.notifier(["pace_per_channel": .number(2)])
        #expect(await h.deliver(notifier, makeIssue(fingerprint: "a")).isDelivered)
        #expect(await h.deliver(notifier, makeIssue(fingerprint: "b")).isDelivered)
        #expect(h.clock.sleeps == [0.5])
        #expect(await h.deliver(notifier, makeIssue(fingerprint: "c", labels: ["slack_channel": "alerts-payments"])).isDelivered)
        #expect(h.clock.sleeps == [0.5])
        #expect(h.slack.messages.map(\.channel) == ["C0ALERTS01", "C0ALERTS01", "C0PAYMENT1"])
    }

    @Test("pacing with the real clock keeps a 1 msg/s double from ever answering 429")
    func pacingAgainstEnforcingDouble() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        // Exactly Slack's 1 s: the pacer counts from Slack's answer, which follows arrival.
        h.slack.enforcePostingRate(.seconds(1))
        let clock = SystemSlackClock()
        let notifier = try h.notifier(clock: clock)
        for n in 1...3 {
            let result = await h.deliver(notifier, makeIssue(fingerprint: "fp-\(n)"), clock: clock)
            #expect(result.isDelivered, "\(result)")
        }
        #expect(h.slack.calls("chat.postMessage").allSatisfy { $0.status == 200 })
        #expect(h.slack.messages.count == 3)
    }

    @Test("channel names resolve through paginated conversations.list, cached")
    func channelResolution() async throws {
        let channels = SlackDouble.defaultChannels + (1...450).map { SlackDoubleChannel(id: "C1" + String(repeating: "0", count: 8 - String($0).count) + String($0), name: "team-\($0)") }
        let h = try await Harness.start(channels: channels)
        defer { h.stop() }
        let notifier = try h.notifier(["channel": "team-{{labels.team}}"])
        #expect(await h.deliver(notifier, makeIssue(fingerprint: "x", labels: ["team": "420"])).isDelivered)
        #expect(await h.deliver(notifier, makeIssue(fingerprint: "y", labels: ["team": "7"])).isDelivered)
        let lists = h.slack.calls("conversations.list")
        #expect(lists.count == 3)  // 454 channels at 200 a page, listed once
        #expect(lists.allSatisfy { $0.error == nil })
        #expect(h.slack.messages.map(\.channel) == ["C100000420", "C100000007"])
    }
}
