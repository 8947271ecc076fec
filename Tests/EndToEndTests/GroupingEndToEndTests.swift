import CanoSDK
import FakeKubeAPIServer
import Foundation
import TestSupport
import Testing

/// Issue 12's two floods, through the real binary and the Slack plugin against the Slack
/// double: a real Alertmanager's group of 60 alerts, and 500 pods crash-looping in the fake
/// API server. Each must be a handful of Slack messages that still name every member.
@Suite(.serialized) struct GroupingEndToEndTests {
    static let slackToken = "xoxb-e2e-0000-GROUPe2eTOKEN"

    static func slackDestination(_ slack: SlackDouble, extra: String = "") throws -> String {
        """
        plugins: {paths: ["\(try BuildProducts.plugin("CanoSlack"))"]}
        destinations:
          - name: slack
            type: slack
            config: {token: "${E2E_SLACK_TOKEN}", channel: "#alerts", api_url: "\(slack.apiURL)"}\(extra)
        default_destinations: [slack]
        """
    }

    /// A collector watching the fake API server (through a kubeconfig in `dir`) and posting
    /// to `slack`, started once it watches pods. `extra` follows the destination's config;
    /// `settings` are more top-level config keys.
    static func watchingCollector(_ server: FakeKubeAPIServer, token: String, slack: SlackDouble, dir: TemporaryDirectory,
                                  extra: String = "", settings: String = "") async throws -> CollectorProcess {
        let kubeconfig = dir.file("kubeconfig")
        try server.kubeconfig(token: token).write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        let collector = try await CollectorProcess(configYAML: """
            cluster: e2e
            data_dir: {{data_dir}}
            server: {host: 127.0.0.1, port: {{port}}}
            \(try slackDestination(slack, extra: extra))
            kubernetes:
              enabled: true
              kubeconfig: \(kubeconfig)
              leader_election: {enabled: false}
            \(settings)
            """, environment: ["E2E_SLACK_TOKEN": slackToken])
        try await waitUntil("the collector to watch pods", timeout: .seconds(30)) { server.cluster.openWatches("pods") >= 1 }
        return collector
    }

    /// Top-level messages (not thread replies).
    static func roots(_ slack: SlackDouble) -> [SlackDoubleMessage] { slack.messages.filter { $0.threadTS == nil } }

    /// Everything a reader sees in `message`: its fallback text, blocks and attachments.
    static func allText(_ message: SlackDoubleMessage?) -> String {
        guard let message else { return "" }
        let json = JSONValue.array((message.blocks ?? []) + (message.attachments ?? []))
        return (message.text ?? "") + "\n" + String(decoding: (try? IssueCoding.encode(json)) ?? [], as: UTF8.self)
    }

    @Test func anAlertmanagerGroupOf60IsOneSlackMessageUpdatedAsMembersResolve() async throws {
        let slack = try await SlackDouble.start(token: Self.slackToken)
        defer { slack.stop() }
        let collector = try await CollectorProcess(configYAML: """
            cluster: e2e
            data_dir: {{data_dir}}
            server: {host: 127.0.0.1, port: {{port}}}
            \(try Self.slackDestination(slack))
            """, environment: ["E2E_SLACK_TOKEN": Self.slackToken])
        defer { collector.stop() }
        let am = try await AlertmanagerProcess(webhookURL: "http://127.0.0.1:\(collector.port)/api/alerts")
        defer { am.stop() }
        func alert(_ i: Int, resolved: Bool = false) -> [String: JSONValue] {
            var alert: [String: JSONValue] = ["labels": .object([
                "alertname": .string("KubePodCrashLooping"), "namespace": .string("payments"), "pod": .string("api-\(i)"), "severity": .string("critical"),
            ])]
            if resolved { alert["endsAt"] = .string(RFC3339.format(Date())) }
            return alert
        }

        try am.post(alerts: (0..<60).map { alert($0) })
        try await waitUntil("the group's message in Slack", timeout: .seconds(30)) {
            Self.roots(slack).contains { Self.allText($0).contains("60 pods KubePodCrashLooping in payments") }
        }
        let root = try #require(Self.roots(slack).first)
        #expect(Self.roots(slack).count == 1)
        #expect(Self.allText(root).contains("60 firing"))

        // Ten pods recover: Alertmanager notifies the group again; the same message is edited.
        try am.post(alerts: (0..<10).map { alert($0, resolved: true) })
        try await waitUntil("the root edited and a note of the 10 resolved in its thread", timeout: .seconds(30)) {
            slack.messages.contains { $0.threadTS == root.ts && ($0.text ?? "").contains("✅ 10 resolved") }
        }
        #expect(Self.allText(slack.messages.first { $0.ts == root.ts }).contains("50 firing"))

        // All recover: the group resolves in the same message.
        try am.post(alerts: (10..<60).map { alert($0, resolved: true) })
        try await waitUntil("the root shown resolved", timeout: .seconds(30)) {
            slack.messages.first { $0.ts == root.ts }?.attachments?.first?["color"]?.stringValue == "#2EB67D"
        }
        #expect(Self.roots(slack).count == 1, "one message for the group, not 60")
        #expect(slack.calls("chat.postMessage").count <= 5, "the root and a few thread notes, not one post per alert")
        #expect(slack.calls.allSatisfy { $0.error == nil }, "\(slack.calls.compactMap(\.error))")
        #expect(!collector.log.contains("GROUPe2eTOKEN"))
    }

    @Test(.timeLimit(.minutes(3))) func aStormOf500CrashLoopingPodsIsAHandfulOfMessagesListingEveryPod() async throws {
        let token = "kube-storm-token-\(UUID().uuidString.prefix(6))"
        let server = try await FakeKubeAPIServer.start(tokens: [token])
        // The body is a method of its own: inline in this closure it crashed the compiler
        // (Swift 6.3.1, SendNonSendable pass).
        try await withStops { (stops: StopList) async throws -> Void in
            stops.add { await server.shutdown() }
            try await storm(server, token: token)
        }
    }

    private func storm(_ server: FakeKubeAPIServer, token: String) async throws {
        let slack = try await SlackDouble.start(token: Self.slackToken)
        defer { slack.stop() }
        let dir = try TemporaryDirectory(prefix: "cano-storm-e2e")
        defer { dir.remove() }
        // A small threshold and a short window keep the test quick; the behaviour is the
        // default guard's (20 a minute), scaled down.
        let collector = try await Self.watchingCollector(server, token: token, slack: slack, dir: dir,
                                                          extra: "\n    storm: {threshold: 5, window: 10s, update_interval: 1s}")
        defer { collector.stop() }

        // 500 pods of 500 workloads crash-loop at once (a node failure): 500 problems.
        let names = (0..<500).map { String(format: "svc-%03d-7d9f-x2", $0) }
        let fixture = try Fixtures.load("pods/pod-crashloopbackoff-managedfields.json")
        for name in names {
            server.cluster.apply("pods", fixture
                .setting("metadata.namespace", to: .string("storm")).setting("metadata.name", to: .string(name))
                .removing("metadata.resourceVersion").removing("metadata.uid")
                .setting("metadata.ownerReferences", to: .array([.object([
                    "apiVersion": .string("apps/v1"), "kind": .string("ReplicaSet"), "name": .string(name + "-rs"),
                    "uid": .string(UUID().uuidString.lowercased()), "controller": .bool(true),
                ])])))
        }

        // The storm ends when a window passes quietly: the closing summary, with the list.
        try await waitUntil("the storm's closing summary", timeout: .seconds(150)) {
            Self.roots(slack).contains { Self.allText($0).contains("The storm is over.") }
        }
        let roots = Self.roots(slack)
        #expect(roots.count <= 6, "5 posted alone before the guard, then one summary: \(roots.count) roots")
        let summary = try #require(roots.first { Self.allText($0).contains("The storm is over.") })
        let list = try #require(slack.files.last { $0.threadTS == summary.ts }, "the full member list in the summary's thread")
        let csv = String(decoding: list.bytes, as: UTF8.self)
        let alone = roots.filter { $0.ts != summary.ts }
        var listed = Set<String>()
        for name in names where csv.contains(",\(name),") || alone.contains(where: { Self.allText($0).contains(name) }) { listed.insert(name) }
        #expect(listed.count == 500, "every pod is in a message or the storm's list; missing: \(Set(names).subtracting(listed).sorted().prefix(10))")
        #expect(slack.calls.allSatisfy { $0.error == nil }, "\(slack.calls.compactMap(\.error))")
        let metrics = try collector.get("/metrics").text
        #expect(!metrics.contains(#"cano_dead_letters_total{destination="slack"} "#) || metrics.contains(#"cano_dead_letters_total{destination="slack"} 0"#),
                "nothing dead-lettered")
    }
}
