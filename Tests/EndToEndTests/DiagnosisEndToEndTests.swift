import CanoSDK
import FakeKubeAPIServer
import Foundation
import TestSupport
import Testing

/// Issue 17: a crash-looping pod in the fake API server, watched by the real binary,
/// arrives in Slack (the shipped plugin, the Slack double) with its likely cause first.
@Suite(.serialized) struct DiagnosisEndToEndTests {
    static let slackToken = "xoxb-e2e-0000-DIAGNOSISe2eTOKEN"

    /// The mrkdwn and plain texts of a message's blocks, its attachments' blocks included,
    /// in the order Slack shows them.
    static func texts(_ message: SlackDoubleMessage) -> [String] {
        let blocks = (message.blocks ?? []) + (message.attachments ?? []).flatMap { $0["blocks"]?.arrayValue ?? [] }
        return blocks.flatMap { block -> [String] in
            var out: [String] = []
            if let text = block["text"]?["text"]?.stringValue { out.append(text) }
            for field in block["fields"]?.arrayValue ?? [] { if let t = field["text"]?.stringValue { out.append(t) } }
            return out
        }
    }

    @Test func aCrashLoopingPodArrivesInSlackWithItsLikelyCauseFirst() async throws {
        let token = "kube-e2e-token-\(UUID().uuidString.prefix(6))"
        let server = try await FakeKubeAPIServer.start(tokens: [token])
        try await withStops { (stops: StopList) async throws -> Void in
            stops.add { await server.shutdown() }
            let slack = try await SlackDouble.start(token: GroupingEndToEndTests.slackToken)
            defer { slack.stop() }
            let dir = try TemporaryDirectory(prefix: "cano-diagnosis-e2e")
            defer { dir.remove() }
            // What is checked is the cause, not how fast the cluster answers: the fake API
            // server shares the test process with the whole suite, and under that load the
            // default 1 s budget was seen to run out (the Issue then goes on undiagnosed).
            // 4 s keeps the budgets under the 10 s the config allows (enrichment's is 5 s).
            let collector = try await GroupingEndToEndTests.watchingCollector(server, token: token, slack: slack, dir: dir,
                                                                              settings: "diagnosis: {timeout: 4s}")
            defer { collector.stop() }

            // The captured pod whose container runs "wge" (exit code 127), as a fresh pod.
            server.cluster.apply("pods", try Fixtures.load("pods/pod-crashloopbackoff-managedfields.json")
                .setting("metadata.namespace", to: .string("shop")).setting("metadata.name", to: .string("web-5d4f8-aaaaa"))
                .removing("metadata.resourceVersion"))
            try await waitUntil("the crash loop in Slack", timeout: .seconds(60)) {
                slack.messages.contains { $0.threadTS == nil && Self.texts($0).contains { $0.contains("Likely cause") } }
            }
            let message = try #require(slack.messages.first { $0.threadTS == nil && Self.texts($0).contains { $0.contains("Likely cause") } })
            let texts = Self.texts(message)
            let heading = try #require(texts.firstIndex { $0.contains("Likely cause") })
            #expect(texts[heading + 1].contains("the command `wge` does not exist in nginx's image (exit code 127)"), "\(texts)")
            // No other enrichment comes before it: the only texts above are the title, the
            // context line and the Issue's own description.
            let enrichmentHeadings = texts.indices.filter { texts[$0].hasPrefix("*") && texts[$0].hasSuffix("*") && !texts[$0].contains("\n") }
            #expect(enrichmentHeadings.first == heading, "\(texts)")
            #expect(texts.contains { $0.contains("Next step:") }, "\(texts)")
            let metrics = try await BlockingThread.run(name: "test-metrics") { try collector.get("/metrics").text }
            #expect(metrics.contains(#"cano_diagnoses_total{rule="exit_code"} 1"#), "\(metrics)")
        }
    }

    /// The captured KubeContainerOOMKilled webhook, with `prometheus:` configured: the
    /// memory graph (drawn by the shipped prometheus plugin from the recorded answers) is
    /// uploaded to Slack, and the likely cause reads the climb.
    @Test func anOOMKilledAlertArrivesWithItsMemoryGraphUploaded() async throws {
        let slack = try await SlackDouble.start(token: Self.slackToken)
        defer { slack.stop() }
        let prometheus = try await PrometheusDouble.start(
            recordings: try PrometheusDouble.recordings("leak", namespace: "payments", pod: "worker-5c4b7f9d8-abcde", container: "worker"),
            bearerToken: "prom-e2e-SECRET-token")
        defer { stopLater { await prometheus.stop() } }
        let collector = try await CollectorProcess(configYAML: """
            cluster: e2e
            data_dir: {{data_dir}}
            server: {host: 127.0.0.1, port: {{port}}}
            plugins: {paths: ["\(try BuildProducts.plugin("CanoSlack"))", "\(try BuildProducts.plugin("CanoPrometheus"))"]}
            destinations:
              - {name: slack, type: slack, config: {token: "${E2E_SLACK_TOKEN}", channel: "#alerts", api_url: "\(slack.apiURL)"}}
            default_destinations: [slack]
            prometheus: {url: "\(prometheus.url)", bearer_token: "${E2E_PROM_TOKEN}"}
            """, environment: ["E2E_SLACK_TOKEN": Self.slackToken, "E2E_PROM_TOKEN": "prom-e2e-SECRET-token"])
        defer { collector.stop() }

        let response = try await BlockingThread.run(name: "test-post") {
            try collector.postAlerts(try Fixtures.data("alertmanager/am-0.25-captured/firing-oomkilled.json"))
        }
        #expect(response.status == 200)
        try await waitUntil("the memory graph in Slack", timeout: .seconds(60)) {
            slack.files.contains { $0.filename == "memory-worker-5c4b7f9d8-abcde.png" }
        }
        let graph = try #require(slack.files.first { $0.filename == "memory-worker-5c4b7f9d8-abcde.png" })
        #expect(Array(graph.bytes.prefix(4)) == [0x89, 0x50, 0x4E, 0x47], "not a PNG")
        let texts = slack.messages.flatMap(Self.texts)
        let heading = try #require(texts.firstIndex { $0.contains("Likely cause") }, "\(texts)")
        #expect(texts[heading + 1] == "worker's memory grew steadily for 45 min up to its 512Mi limit: likely a leak", "\(texts)")
        #expect(texts.contains { $0.contains("Peak 511Mi against a 512Mi limit (100%)") }, "\(texts)")
        #expect(!collector.log.contains("SECRET"), "the Prometheus token leaked into the log")
    }
}
