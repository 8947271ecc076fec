import CanoSDK
import Foundation
import TestSupport
import Testing

/// The whole product with the Slack plugin: a real Alertmanager posts webhooks to the real
/// `cano-collector` binary, which loads `libCanoSlack.so` and talks to the Slack Web API
/// double. The collector is restarted between firing and resolving: the resolve must still
/// update the original message, so the thread handle survived in the host's store.
@Suite(.serialized) struct SlackEndToEndTests {
    static let slackToken = "xoxb-e2e-0000-SLACKe2eTOKEN"

    @Test func alertmanagerToSlackResolvesTheOriginalAcrossARestart() async throws {
        let slack = try await SlackDouble.start(token: Self.slackToken)
        defer { slack.stop() }
        let pluginDir = FileManager.default.temporaryDirectory.appendingPathComponent("cano-plugins-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: pluginDir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: pluginDir.appendingPathComponent("libCanoSlack.so").path,
                                                   withDestinationPath: try BuildProducts.plugin("CanoSlack"))
        let yaml = """
            cluster: e2e
            data_dir: {{data_dir}}
            server: {host: 127.0.0.1, port: {{port}}, auth: {bearer_token: e2e-intake-token}}
            plugins: {directories: ["\(pluginDir.path)"]}
            destinations:
              - name: slack
                type: slack
                config: {token: "${E2E_SLACK_TOKEN}", channel: "#alerts", api_url: "\(slack.apiURL)"}
            default_destinations: [slack]
            """
        let environment = ["E2E_SLACK_TOKEN": Self.slackToken]
        let first = try await CollectorProcess(configYAML: yaml, environment: environment)
        let am = try await AlertmanagerProcess(webhookURL: "http://127.0.0.1:\(first.port)/api/alerts", bearerToken: "e2e-intake-token")
        defer { am.stop() }
        let labels: [String: JSONValue] = [
            "alertname": .string("KubePodCrashLooping"), "namespace": .string("shop"), "pod": .string("cart-7d9f-x2"),
            "container": .string("cart"), "severity": .string("critical"),
        ]
        try am.post(alerts: [[
            "labels": .object(labels),
            "annotations": .object(["description": .string("Pod shop/cart-7d9f-x2 is crash looping"), "runbook_url": .string("https://runbooks.example/crashloop")]),
        ]])
        try await waitUntil("the firing message in Slack", timeout: .seconds(30)) { !slack.calls("chat.postMessage").isEmpty }
        let root = try #require(slack.messages.first)
        #expect(root.channel == "C0ALERTS01")
        #expect(root.threadTS == nil)
        #expect(root.attachments?.first?["color"]?.stringValue == "#E01E5A")
        let blocks = root.attachments?.first?["blocks"]?.arrayValue ?? []
        // Alertmanager's notification is a group of one: the root is the group's message.
        let header = blocks.first?["text"]?["text"]?.stringValue ?? ""
        #expect(header.contains("Firing · HIGH") && header.contains("KubePodCrashLooping"), "\(header)")
        #expect(blocks.contains { $0["type"]?.stringValue == "actions" })
        #expect((root.text ?? "").contains("KubePodCrashLooping"))
        #expect(slack.calls("chat.postMessage").allSatisfy { $0.error == nil && $0.tokenSource == "header" })

        // Restart the collector on the same data directory and port, then resolve.
        first.signal(SIGTERM)
        try await first.waitForExit(timeout: 15)
        let second = try await CollectorProcess(configYAML: yaml, directory: first.directory, port: first.port, environment: environment)
        defer { second.stop() }
        try am.post(alerts: [[
            "labels": .object(labels),
            "endsAt": .string(RFC3339.format(Date())),
        ]])
        try await waitUntil("the original updated and a reply in its thread", timeout: .seconds(30)) {
            !slack.calls("chat.update").isEmpty && slack.messages.contains { $0.threadTS == root.ts }
        }
        let update = try #require(slack.calls("chat.update").first)
        #expect(update.error == nil)
        #expect(update.fields["ts"]?.stringValue == root.ts)
        let original = try #require(slack.messages.first)
        #expect(original.attachments?.first?["color"]?.stringValue == "#2EB67D")
        #expect(original.attachments?.first?["blocks"]?.arrayValue?.first?["text"]?["text"]?.stringValue?.contains("Resolved · HIGH") == true)
        #expect(slack.messages.filter { $0.threadTS == nil }.count == 1, "no second root message")

        let metrics = try second.get("/metrics").text
        for text in [first.log, second.log, metrics] {
            #expect(!text.contains("SLACKe2eTOKEN"), "the Slack token leaked")
        }
    }
}
