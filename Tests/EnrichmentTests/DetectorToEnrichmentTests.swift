@testable import Collector
import CanoSDK
import FakeKubeAPIServer
import Foundation
import KubeClient
import KubeSources
import Logging
import Testing
import TestSupport

/// The whole chain with no enrichment config: the pod watcher sees an OOM kill happen,
/// its Issue goes through the enrichment stage (built-in workflows, reading through
/// KubeAPIReader over HTTPS), and reaches the sink with the pod's context.
@Suite struct DetectorToEnrichmentTests {
    @Test func anOOMKillTheWatcherSeesArrivesWithItsContext() async throws {
        _ = ProcessCurl.initialized
        let token = FakeAPIServerEnrichmentTests.token
        let api = try await FakeKubeAPIServer.start(tokens: [token])
        defer { stopLater { await api.shutdown() } }
        let connection = KubeConnection(server: api.url, tls: TLSOptions(caPEM: Array(api.certificates.caPEM.utf8)),
                                        token: TokenSource(token: token), namespace: "cano")
        let sink = RecordingSink()
        let stage = try EnrichmentStage(config: .roomy, enrichers: .builtins(kube: KubeAPIReader(client: KubeClient(connection: connection))),
                                        next: sink, metrics: Metrics(), logger: Logger(label: "t"))
        var config = KubernetesConfig(enabled: true, clusterName: "test", resolveAfterSeconds: 0)
        config.leaderElection.enabled = false
        config.events.enabled = false
        config.jobs.enabled = false
        config.helm.enabled = false
        let sources = KubernetesSources(config: config, sink: stage, connection: connection, tickInterval: .milliseconds(20))
        let task = Task { try await sources.run() }
        defer { task.cancel() }
        try await waitUntil("the pod watch to open") { api.cluster.openWatches("pods") >= 1 }

        // The captured OOMKilled pod, its kill happening now (the watcher ignores history).
        let pod = try KubeFixtures.object("pods/pod-oomkilled-laststate-restarted.yaml")
            .setting(["metadata", "namespace"], .string("ml"))
            .setting(["status", "containerStatuses"], .array((try KubeFixtures.object("pods/pod-oomkilled-laststate-restarted.yaml")
                .at("status", "containerStatuses")?.arrayValue ?? []).map {
                    $0.setting(["lastState", "terminated", "finishedAt"], .string(RFC3339.format(Date())))
                }))
        api.cluster.setLog(namespace: "ml", pod: KubeEnricherTests.oomPod, "08:07:09 ERROR object store: cannot allocate 1.9GiB\n")
        _ = api.cluster.apply("pods", pod)

        try await waitUntil("the enriched OOMKilled Issue") { sink.issues.contains { $0.aggregationKey == "OOMKilled" } }
        let issue = try #require(sink.issues.first { $0.aggregationKey == "OOMKilled" })
        #expect(issue.subject.name == KubeEnricherTests.oomPod)
        #expect(issue.enrichments("pod_logs").first?.markdown.first?.contains("cannot allocate 1.9GiB") == true)
        #expect(issue.enrichments("resources").first?.markdown.first?.contains("memory limit of **1953125Ki**") == true)
        #expect(issue.enrichments("container_status").first?.tables.first?.rows.first?[2] == "OOMKilled")
    }
}
