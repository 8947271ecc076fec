@testable import Collector
import CanoSDK
import FakeKubeAPIServer
import Foundation
import KubeClient
import KubeSources
import Logging
import Testing
import TestSupport

/// From the cluster to the Slack message: the OOMKilled pod's Issue is enriched through the
/// HTTPS fake API server, then delivered by the shipped `libCanoSlack.so` (loaded by the
/// host's loader) to the Slack Web API double. Needs `swift build` (the .so) first.
@Suite struct SlackEndToEndTests {
    static let slackToken = "xoxb-0000-1111-enrichmentE2Esecret"

    @Test func anOOMKilledPodsSlackMessageShowsTheLimitTheEventsAndTheLog() async throws {
        _ = ProcessCurl.initialized
        let api = try await FakeKubeAPIServer.start(tokens: [FakeAPIServerEnrichmentTests.token])
        defer { stopLater { await api.shutdown() } }
        let slack = try await SlackDouble.start(token: Self.slackToken)
        defer { slack.stop() }

        _ = api.cluster.apply("pods", try KubeFixtures.object("pods/pod-oomkilled-laststate-restarted.yaml"))
        // No Event for this pod was captured: the real Killing event, retargeted at it.
        _ = api.cluster.apply("events", try KubeFixtures.object("events/event-killing-liveness.json")
            .setting(["metadata", "namespace"], .string(KubeEnricherTests.oomNamespace))
            .setting(["involvedObject", "name"], .string(KubeEnricherTests.oomPod))
            .setting(["involvedObject", "kind"], .string("Pod")))
        api.cluster.setLog(namespace: KubeEnricherTests.oomNamespace, pod: KubeEnricherTests.oomPod,
                           "08:07:08 INFO raylet started\n08:07:09 ERROR object store: out of memory allocating 1.9GiB password=hunter2\n")
        let connection = KubeConnection(server: api.url, tls: TLSOptions(caPEM: Array(api.certificates.caPEM.utf8)),
                                        token: TokenSource(token: FakeAPIServerEnrichmentTests.token), namespace: "cano")
        let sink = RecordingSink()
        let stage = try EnrichmentStage(config: .roomy, enrichers: .builtins(kube: KubeAPIReader(client: KubeClient(connection: connection))),
                                        next: sink, metrics: Metrics(), logger: Logger(label: "t"))
        var issue = Issues.kubernetes("OOMKilled", name: KubeEnricherTests.oomPod, namespace: KubeEnricherTests.oomNamespace, container: "ray-head")
        issue.title = "Pod \(KubeEnricherTests.oomNamespace)/\(KubeEnricherTests.oomPod) OOMKilled"
        _ = try await stage.submit([issue])
        let enriched = try #require(sink.issues.first)

        let plugin = try PluginLoader.load(path: try BuildProducts.plugin("CanoSlack"))
        let config: JSONValue = .object(["token": .string(Self.slackToken), "channel": .string("#alerts"), "api_url": .string(slack.apiURL)])
        // Off Swift's cooperative pool: create() calls auth.test on the in-process double.
        let configJSON = try IssueCoding.encode(config)
        let destination = try await BlockingThread.run {
            Result { () throws(DestinationSetupError) in
                try PluginDestination(name: "slack", plugin: plugin, config: configJSON,
                                      services: PluginServices(logger: Logger(label: "t"), store: InMemoryKeyValueStore(), metrics: Metrics()))
            }
        }.get()
        let json = try IssueCoding.encode(enriched)
        let context = DeliveryContext(attempt: 1, deadlineUnixMillis: Int64(Date().timeIntervalSince1970 * 1000) + 10_000,
                                      deadline: .now + .seconds(10), idempotencyKey: "e2e-1", reference: nil)
        let outcome = await BlockingThread.run { destination.deliver(issueJSON: json, context: context) }
        #expect(outcome.status == .delivered, "\(outcome.message)")

        // What the message shows: the limit that was hit, the exit code, the events.
        let message = try #require(slack.messages.first)
        let shown = String(decoding: try IssueCoding.encode(JSONValue.array(slack.messages.flatMap { ($0.blocks ?? []) + ($0.attachments ?? []) })),
                           as: UTF8.self)
        for expected in ["OOMKilled", "1953125Ki", "137", "Killing", "ray-head"] {
            #expect(shown.contains(expected), "the message does not show \(expected)")
        }
        // The previous container's log, attached in the thread, redacted.
        let log = try #require(slack.files.first { $0.filename == "\(KubeEnricherTests.oomPod)-ray-head-previous.log" })
        let text = String(decoding: log.bytes, as: UTF8.self)
        #expect(text.contains("out of memory allocating 1.9GiB password=[REDACTED]"))
        #expect(log.threadTS == message.ts)
        #expect(!shown.contains("hunter2"))
        for file in slack.files { #expect(!String(decoding: file.bytes, as: UTF8.self).contains("hunter2")) }
    }
}
