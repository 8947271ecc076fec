@testable import Collector
import CanoSDK
import Foundation
import Logging
import PrometheusAPI
import Testing
import TestSupport

/// Prometheus in the diagnosis and in the graph plugin, against the double serving answers
/// recorded from a real Prometheus (Tests/Fixtures/prometheus).
@Suite struct PrometheusTests {
    static let worker = (namespace: "payments", pod: "worker-5c4b7f9d8-abcde", container: "worker")
    static let ray = (namespace: "test-ns-5msxm", pod: "raycluster-auth-token-head-vbjrq", container: "ray-head")

    static func leak() throws -> [String: [UInt8]] {
        try PrometheusDouble.recordings("leak", namespace: worker.namespace, pod: worker.pod, container: worker.container)
    }

    static func spike() throws -> [String: [UInt8]] {
        try PrometheusDouble.recordings("spike", namespace: ray.namespace, pod: ray.pod, container: ray.container)
    }

    static func memory(_ recordings: [String: [UInt8]], _ c: (namespace: String, pod: String, container: String)) throws -> [Series.Sample] {
        let body = try #require(recordings[ContainerQueries.memoryWorkingSet(namespace: c.namespace, pod: c.pod, container: c.container)])
        return try #require(try PrometheusClient.parseMatrix(body).first).points
    }

    @Test func aSteadyClimbIsALeakAndAStartupSpikeIsNot() throws {
        let leak = try Self.memory(try Self.leak(), Self.worker)
        // The run that ended in the kill at 08:45 (it started at 08:00).
        guard case .leak(let minutes, let from, let peak)? = MemoryTrend.classify(leak, start: 1_796_025_600, end: 1_796_028_300) else {
            Testing.Issue.record("not a leak: \(String(describing: MemoryTrend.classify(leak)))")
            return
        }
        #expect(minutes == 45)
        #expect(Units.bytes(from) == "150Mi")
        #expect(Units.bytes(peak) == "511Mi")

        let spike = try Self.memory(try Self.spike(), Self.ray)
        let started = try #require(RFC3339.parse("2026-01-08T08:06:41Z")).timeIntervalSince1970
        let killed = try #require(RFC3339.parse("2026-01-08T08:07:10Z")).timeIntervalSince1970
        #expect(MemoryTrend.classify(spike, start: started, end: killed) == .startupSpike(seconds: 19, peak: 1.55e9))
    }

    @Test func anOOMKillWithPrometheusSaysSpikeAtStartup() async throws {
        let prometheus = try await PrometheusDouble.start(recordings: try Self.spike())
        defer { stopLater { await prometheus.stop() } }
        let kube = FixtureKube()
        kube.add(try KubeFixtures.object("pods/pod-oomkilled-laststate-restarted.yaml"))
        let h = DiagnosisStageTests.Harness(kube: kube, prometheus: PrometheusConfig(url: prometheus.url), config: DiagnosisStageTests.roomy)
        let out = try await h.run(Issues.kubernetes("OOMKilled", name: Self.ray.pod, namespace: Self.ray.namespace, container: Self.ray.container))
        let d = try #require(out.diagnosis)
        #expect(d.blocks.first == .markdown("ray-head's memory spiked at start-up: the 2G limit is too low for its warm-up"))
        #expect(out.diagnosisLines.contains("- Prometheus: the working set reached 1.4Gi (78% of the limit) 19s after the container started"))
        #expect(prometheus.queries.contains(ContainerQueries.memoryWorkingSet(namespace: Self.ray.namespace, pod: Self.ray.pod, container: Self.ray.container)))
    }

    /// The captured KubeContainerOOMKilled alert, with no cluster access: the limit comes
    /// from kube-state-metrics, the climb from cAdvisor.
    @Test func anOOMAlertWithoutClusterAccessSaysLikelyALeak() async throws {
        let prometheus = try await PrometheusDouble.start(recordings: try Self.leak(), bearerToken: "prom-token-1")
        defer { stopLater { await prometheus.stop() } }
        var config = PrometheusConfig(url: prometheus.url)
        config.bearerToken = "prom-token-1"
        let h = DiagnosisStageTests.Harness(kube: nil, prometheus: config, config: DiagnosisStageTests.roomy)
        let out = try await h.run(try await Self.capturedAlert())
        let cause = try #require(out.diagnosis?.blocks.first)
        #expect(cause == .markdown("worker's memory grew steadily for 45 min up to its 512Mi limit: likely a leak"), "\(out.diagnosisLines)")
        #expect(out.diagnosisLines.contains("- memory limit 512Mi (kube_pod_container_resource_limits)"))
    }

    /// The real Alertmanager body's first alert, as the intake maps it.
    static func capturedAlert() async throws -> Issue {
        let sink = RecordingSink()
        let intake = AlertmanagerIntake(config: CollectorConfig(), sink: sink, metrics: Metrics(), logger: Logger(label: "t"))
        _ = await intake.handle(body: try Fixtures.data("alertmanager/am-0.25-captured/firing-oomkilled.json"), authorization: nil)
        return try #require(sink.issues.first)
    }

    @Test func thePluginDrawsTheWorkingSetAgainstTheLimit() async throws {
        let prometheus = try await PrometheusDouble.start(recordings: try Self.leak())
        defer { stopLater { await prometheus.stop() } }
        let plugin = try Self.plugin(PrometheusConfig(url: prometheus.url))
        let issue = try await Self.capturedAlert()
        let enrichments = try await BlockingThread.run { try plugin.enrich(issue, parameters: EnricherParameters([:]), deadline: .now + .seconds(30)) }
        let memory = try #require(enrichments.first)
        #expect(enrichments.count == 1, "an OOM alert gets the memory graph only")
        #expect(memory.type == "prometheus")
        #expect(memory.title == "Memory working set, last 1h (Prometheus)")
        #expect(memory.blocks.first == .markdown("Peak 511Mi against a 512Mi limit (100%), request 256Mi."))
        guard case .file(let file)? = memory.blocks.last else { Testing.Issue.record("no image"); return }
        #expect(file.name == "memory-worker-5c4b7f9d8-abcde.png")
        #expect(file.mimeType == "image/png")
        let png = try #require(file.bytes)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR: width and height, big-endian, at bytes 16..<24.
        #expect(Array(png[16..<24]) == [0, 0, 3, 0x20, 0, 0, 1, 0x40])
        try Data(png).write(to: URL(fileURLWithPath: NSTemporaryDirectory() + "cano-memory-graph.png"))
        #expect(Set(prometheus.queries) == [
            ContainerQueries.memoryWorkingSet(namespace: Self.worker.namespace, pod: Self.worker.pod, container: Self.worker.container),
            ContainerQueries.resource("limits", "memory", namespace: Self.worker.namespace, pod: Self.worker.pod, container: Self.worker.container),
            ContainerQueries.resource("requests", "memory", namespace: Self.worker.namespace, pod: Self.worker.pod, container: Self.worker.container),
        ])
    }

    @Test func aFailingPrometheusIsANoteThatNamesTheHostOnly() async throws {
        let prometheus = try await PrometheusDouble.start(recordings: try Self.leak(), bearerToken: "prom-token-secret")
        defer { stopLater { await prometheus.stop() } }
        var config = PrometheusConfig(url: prometheus.url)
        config.bearerToken = "wrong-token-SECRET"
        let plugin = try Self.plugin(config)
        let issue = try await Self.capturedAlert()
        let outcome = await BlockingThread.run { () -> Result<[Enrichment], EnricherFailure> in
            Result { () throws(EnricherFailure) in try plugin.enrich(issue, parameters: EnricherParameters([:]), deadline: .now + .seconds(30)) }
        }
        guard case .failure(let failure) = outcome else { Testing.Issue.record("a 401 was not a failure"); return }
        #expect(failure.message == "failed: Prometheus at \(prometheus.url) answered HTTP 401")
        #expect(!failure.message.contains("SECRET"))
    }

    static func plugin(_ config: PrometheusConfig) throws -> PluginEnricher {
        var catalog = PluginCatalog()
        catalog.add(try BuildProducts.plugin("CanoPrometheus"))
        let services = PluginServices(logger: Logger(label: "t"), store: InMemoryKeyValueStore(), metrics: Metrics())
        return try #require(try PluginEnricher.make([EnricherPluginConfig(name: "prometheus", type: "prometheus", config: config.json)],
                                                    catalog: catalog, services: services).first)
    }

    @Test func aCPUAlertGetsTheCPUGraph() async throws {
        let prometheus = try await PrometheusDouble.start(recordings: try Self.leak())
        defer { stopLater { await prometheus.stop() } }
        let plugin = try Self.plugin(PrometheusConfig(url: prometheus.url))
        var issue = try await Self.capturedAlert()
        issue.aggregationKey = "CPUThrottlingHigh"
        issue.title = "CPUThrottlingHigh"
        let cpuIssue = issue
        let enrichments = try await BlockingThread.run { try plugin.enrich(cpuIssue, parameters: EnricherParameters([:]), deadline: .now + .seconds(30)) }
        #expect(enrichments.map(\.title) == ["CPU usage (cores), last 1h (Prometheus)"])
        #expect(enrichments.first?.blocks.first == .markdown("Peak 218m against a 500m limit (44%), request 250m."), "\(enrichments)")
    }

    /// `prometheus:` without the plugin: the host says so at start, and enrichment runs without it.
    @Test func withoutThePluginTheHostSaysThereWillBeNoGraphs() throws {
        let logs = LogCapture()
        let logger = Logger(label: "t") { JSONLogHandler(label: $0, level: .debug, output: .capture(logs)) }
        _ = try EnrichmentStage.make(config: EnrichmentConfig(), kube: nil, catalog: PluginCatalog(),
                                     services: PluginServices(logger: logger, store: InMemoryKeyValueStore(), metrics: Metrics()),
                                     next: RecordingSink(), metrics: Metrics(), logger: logger, prometheus: PrometheusConfig(url: "http://127.0.0.1:1"))
        #expect(logs.lines.contains { $0.contains("prometheus: no graphs") && $0.contains("libCanoPrometheus.so") })
    }

    @Test func aPrometheusWithoutURLIsRefused() throws {
        do {
            _ = try ConfigLoader.parse("""
                destinations: [{name: out, type: file, config: {path: "-"}}]
                default_destinations: [out]
                prometheus: {bearer_token: abc}
                """)
            Testing.Issue.record("accepted")
        } catch {
            #expect("\(error)".contains("3:13") && "\(error)".contains("prometheus needs url"), "\(error)")
            #expect(!"\(error)".contains("abc"))
        }
    }

    @Test func aFailingPrometheusLeavesTheDiagnosisWithoutTheTrendAndSaysSo() async throws {
        let prometheus = try await PrometheusDouble.start(recordings: try Self.spike())
        defer { stopLater { await prometheus.stop() } }
        prometheus.fail(with: 503)
        let kube = FixtureKube()
        kube.add(try KubeFixtures.object("pods/pod-oomkilled-laststate-restarted.yaml"))
        let h = DiagnosisStageTests.Harness(kube: kube, prometheus: PrometheusConfig(url: prometheus.url), config: DiagnosisStageTests.roomy)
        let out = try await h.run(Issues.kubernetes("OOMKilled", name: Self.ray.pod, namespace: Self.ray.namespace, container: Self.ray.container))
        #expect(out.diagnosis?.blocks.first == .markdown("ray-head used its whole 2G memory limit and was killed; it is scheduled for 1G only, so its node reserves less than it uses"))
        #expect(h.metrics.counter("cano_diagnosis_prometheus_errors_total") == 1)
        #expect(h.logs.lines.contains { $0.contains("Prometheus gave no memory history") && $0.contains("answered HTTP 503") })
    }

    /// Prometheus gets what is left of diagnosis.timeout, less a margin, so a slow one costs
    /// the memory history only: the pod, its events and its node are still read and used.
    @Test func aSlowPrometheusCostsTheMemoryHistoryNotTheClusterFacts() async throws {
        let prometheus = try await PrometheusDouble.start(recordings: try Self.spike())
        defer { stopLater { await prometheus.stop() } }
        prometheus.answerAfter(.seconds(5))
        let kube = FixtureKube()
        kube.add(try KubeFixtures.object("pods/pod-oomkilled-laststate-restarted.yaml"))
        var config = DiagnosisConfig()
        config.timeout = .seconds(2)  // Prometheus gets up to 1.75 s of it
        let h = DiagnosisStageTests.Harness(kube: kube, prometheus: PrometheusConfig(url: prometheus.url), config: config)
        let out = try await h.run(Issues.kubernetes("OOMKilled", name: Self.ray.pod, namespace: Self.ray.namespace, container: Self.ray.container))
        #expect(out.diagnosis?.blocks.first == .markdown("ray-head used its whole 2G memory limit and was killed; it is scheduled for 1G only, so its node reserves less than it uses"),
                "\(out.diagnosisLines)")
        #expect(h.metrics.counter("cano_diagnosis_timeouts_total") == 0)
        #expect(h.metrics.counter("cano_diagnosis_prometheus_errors_total") == 1)
        #expect(h.logs.lines.contains { $0.contains("Prometheus gave no memory history") && $0.contains("did not answer: timeout") }, "\(h.logs.lines)")
    }
}
