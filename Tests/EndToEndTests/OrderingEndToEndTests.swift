import CanoSDK
import Foundation
import TestSupport
import Testing

/// Issue 12, part 6, through the whole product: "20 alerts under rate limiting arrived as
/// 00 02 04 … 01 05 09 …". The real collector binary loads the Slack plugin and posts to
/// the Slack Web API double, which answers some `chat.postMessage` calls with HTTP 429 and
/// `Retry-After: 1`. Slack destinations are ordered by default, so the channel's root
/// messages must read 00…19.
@Suite(.serialized) struct OrderingEndToEndTests {
    static let slackToken = "xoxb-e2e-0000-ORDERINGe2eTOKEN"
    static let alertCount = 20

    /// The i-th alert's fingerprint: 16 hex digits ending in the index, so no fingerprint
    /// is found inside another's message.
    static func fingerprint(_ i: Int) -> String { "0de7e2e000000" + String(format: "%03d", i) }

    @Test(.timeLimit(.minutes(1))) func twentyAlertsReachTheChannelInOrderThrough429s() async throws {
        let slack = try await SlackDouble.start(token: Self.slackToken)
        defer { slack.stop() }
        let workspace = try EndToEndWorkspace(plugins: ["CanoSlack"])
        defer { workspace.remove() }
        // Plugin pacing off (the double answers 429s itself), two delivery threads as by
        // default, and no `ordered:` key: the Slack default must order. One notification
        // per Issue, at once (no group wait), so the channel shows the 20 Issues themselves.
        let collector = try await CollectorProcess(configYAML: """
            \(workspace.configHead)
            destinations:
              - name: slack
                type: slack
                config: {token: "${E2E_SLACK_TOKEN}", channel: "#alerts", api_url: "\(slack.apiURL)", pace_per_channel: 0}
                delivery: {workers: 2, initial_backoff: 100ms, max_backoff: 500ms}
            default_destinations: [slack]
            default_notify: {group_by: [], group_wait: 0s}
            """, directory: workspace.directory, environment: ["E2E_SLACK_TOKEN": Self.slackToken])
        defer { collector.stop() }

        // The first two posts are throttled (a burst hitting the limit) …
        slack.inject(.http429(retryAfter: 1), method: "chat.postMessage", times: 2)
        let fingerprints = (0..<Self.alertCount).map(Self.fingerprint)
        let body = WebhookBody.firing(alertname: "OrderingBurst", fingerprints: fingerprints)
        let auth = HTTPHeader(name: "Authorization", value: "Bearer \(EndToEndWorkspace.intakeToken)")
        let response = try await BlockingThread.run(name: "test-post") { try collector.postAlerts(body, headers: [auth]) }
        try #require(response.status == 200, "the intake refused the alerts: \(response.status) \(response.text)")

        // … and once a few messages are in, the limit is hit again mid-stream.
        try await waitUntil("the first messages in the channel", timeout: .seconds(30), poll: .milliseconds(2)) { Self.roots(slack).count >= 5 }
        slack.inject(.http429(retryAfter: 1), method: "chat.postMessage", times: 1)

        do {
            try await waitUntil("all \(Self.alertCount) alerts in the channel", timeout: .seconds(40), poll: .milliseconds(50)) {
                guard collector.isRunning else { throw CollectorExited() }
                return Self.roots(slack).count >= Self.alertCount
            }
        } catch {
            Testing.Issue.record("\(error): \(Self.roots(slack).count) root messages; collector log tail:\n\(collector.log.suffix(3000))")
            throw error
        }

        let order = Self.roots(slack)
        let throttled = slack.calls("chat.postMessage").filter { $0.status == 429 }.count
        print("OrderingEndToEnd: \(order.count) root messages, \(throttled) posts answered 429: \(order.map { String($0.suffix(2)) }.joined(separator: " "))")
        #expect(order == fingerprints, "the channel shows \(order.map { String($0.suffix(2)) }.joined(separator: " "))")
        #expect(throttled >= 2, "the double throttled \(throttled) posts")
    }

    /// The collector ended during the run.
    struct CollectorExited: Error {}

    /// The fingerprints of the channel's root messages (not thread replies), in posting order.
    static func roots(_ slack: SlackDouble) -> [String] {
        let fingerprints = (0..<alertCount).map(fingerprint)
        return slack.messages.filter { $0.threadTS == nil }.compactMap { message in
            let text = "\(message.text ?? "") \(message.blocks.map { "\($0)" } ?? "") \(message.attachments.map { "\($0)" } ?? "")"
            return fingerprints.first { text.contains($0) }
        }
    }
}
