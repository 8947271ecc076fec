@testable import Collector
import CanoSDK
import Foundation
import Logging
import PrometheusAPI
import Testing
import TestSupport

/// What a newcomer found by feeding the diagnosis nonsense (see the issue 17 note): each
/// case once crashed the collector, claimed what its evidence contradicted, or accepted a
/// config it should refuse.
@Suite struct DiagnosisEdgeTests {
    /// A query_range answer with one series of `values` (as Prometheus writes them: strings).
    static func matrix(_ values: [(Double, String)], container: String = "worker") -> [UInt8] {
        let pairs = values.map { "[\(Int($0.0)),\"\($0.1)\"]" }.joined(separator: ",")
        return Array(#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"container":"\#(container)"},"values":[\#(pairs)]}]}}"#.utf8)
    }

    static let worker = PrometheusTests.worker

    static func recordings(memory: [(Double, String)], limit: String) -> [String: [UInt8]] {
        [
            ContainerQueries.memoryWorkingSet(namespace: worker.namespace, pod: worker.pod, container: worker.container): matrix(memory),
            ContainerQueries.resource("limits", "memory", namespace: worker.namespace, pod: worker.pod, container: worker.container): matrix([(1_796_028_900, limit)]),
        ]
    }

    @Test func absurdSamplesNeitherCrashNorCount() async throws {
        #expect(Units.bytes(1e300).hasSuffix("Ei"))
        #expect(Units.bytes(.infinity) == "?")
        #expect(Units.cores(.nan) == "?")
        #expect(Units.bytes(0) == "0B")
        let body = Self.matrix([(1_796_025_600, "1e300"), (1_796_025_615, "-5"), (1_796_025_630, "NaN"), (-1, "1"), (1_796_025_645, "1048576")])
        #expect(try PrometheusClient.parseMatrix(body).first?.points == [Series.Sample(time: 1_796_025_645, value: 1_048_576)])

        // Through the stage and the plugin, with a limit of 0: a diagnosis, and no crash.
        let prometheus = try await PrometheusDouble.start(recordings: Self.recordings(memory: [(1_796_025_600, "1e300"), (1_796_025_615, "1e300")], limit: "0"))
        defer { stopLater { await prometheus.stop() } }
        let h = DiagnosisStageTests.Harness(kube: nil, prometheus: PrometheusConfig(url: prometheus.url), config: DiagnosisStageTests.roomy)
        let out = try await h.run(try await PrometheusTests.capturedAlert())
        #expect(out.diagnosis?.blocks.first == .markdown("worker was killed by the out-of-memory killer"))
        #expect(h.metrics.counter("cano_diagnosis_prometheus_errors_total") == 1, "no usable samples is worth saying")
        let plugin = try PrometheusTests.plugin(PrometheusConfig(url: prometheus.url))
        let issue = try await PrometheusTests.capturedAlert()
        let graphs = try await BlockingThread.run { try plugin.enrich(issue, parameters: EnricherParameters([:]), deadline: .now + .seconds(30)) }
        #expect(graphs.first?.blocks.first == .markdown("_no samples for payments/worker-5c4b7f9d8-abcde container worker in Prometheus_"))
    }

    @Test func aClimbFarBelowTheLimitIsNotCalledALeak() async throws {
        // 51Mi to 205Mi over 50 minutes against 512Mi, then the kill: the surge that hit the
        // limit was between two scrapes.
        let mi = 1_048_576.0
        var climb: [(Double, String)] = []
        for i in 0...200 {
            let bytes: Double = (51 + 154 * Double(i) / 200) * mi
            climb.append((1_796_025_600 + Double(i) * 15, String(Int(bytes))))
        }
        climb.append((1_796_028_630, String(Int(20 * mi))))
        let prometheus = try await PrometheusDouble.start(recordings: Self.recordings(memory: climb, limit: String(Int(512 * mi))))
        defer { stopLater { await prometheus.stop() } }
        let h = DiagnosisStageTests.Harness(kube: nil, prometheus: PrometheusConfig(url: prometheus.url), config: DiagnosisStageTests.roomy)
        let out = try await h.run(try await PrometheusTests.capturedAlert())
        let lines = out.diagnosisLines
        #expect(lines.first == "Likely cause: worker used its whole 512Mi memory limit and was killed", "\(lines)")
        #expect(lines.contains { $0.contains("peaked at 205Mi (40% of the limit) in the samples: the kill came from a surge shorter than the scrape interval") }, "\(lines)")

        // A flat line in a window whose start is not the container's: no "start-up spike".
        let flat = (0...10).map { Series.Sample(time: 1_796_025_600 + Double($0) * 60, value: 150 * mi) }
        #expect(MemoryTrend.classify(flat) == .peak(minutes: 0, peak: 150 * mi))
    }

    @Test func theLLMIgnoresNonsenseUsageAndSaysTooLargeIsMalformed() async throws {
        let double = try await ChatCompletionsDouble.start(apiKey: LLMAnalysisTests.key)
        defer { stopLater { await double.stop() } }
        double.setBehaviour(.answer("fine", promptTokens: -100_000_000, completionTokens: 2_000_000_000))
        let h = LLMAnalysisTests.harness(double, prices: true)
        _ = try await h.run(LLMAnalysisTests.issue)
        #expect(h.metrics.counter("cano_llm_requests_total", ["result": "ok"]) == 1)
        #expect(h.metrics.counter("cano_llm_tokens_total", ["kind": "prompt"]) == 0)
        #expect(h.metrics.counter("cano_llm_cost_total") == 0)

        double.setBehaviour(.answer(String(repeating: "x", count: 2 << 20)))
        var other = LLMAnalysisTests.issue
        other.fingerprint = "another"
        _ = try await h.run(other)
        #expect(h.metrics.counter("cano_llm_requests_total", ["result": "malformed"]) == 1)
    }

    @Test func aLongDescriptionLeavesRoomForTheRuleBasedDiagnosis() async throws {
        let double = try await ChatCompletionsDouble.start(apiKey: LLMAnalysisTests.key)
        defer { stopLater { await double.stop() } }
        var config = DiagnosisStageTests.roomy
        var llm = LLMConfig(url: double.baseURL, model: "m", apiKey: Secret(LLMAnalysisTests.key))
        llm.maxPromptBytes = 1024
        config.llm = llm
        let kube = FixtureKube()
        let pod = try KubeFixtures.object("pods/pod-crashloopbackoff-managedfields.json")
        kube.add(pod)
        let h = DiagnosisStageTests.Harness(kube: kube, config: config)
        var issue = Issues.kubernetes("CrashLoopBackOff", name: PodLookup.name(pod), namespace: PodLookup.namespace(pod))
        issue.description = String(repeating: "a very long description ", count: 200)
        _ = try await h.run(issue)
        let prompt = try #require(double.requests.first?.prompt)
        #expect(prompt.utf8.count <= 1024)
        #expect(prompt.contains("Rule-based diagnosis:\nLikely cause: the command `wge` does not exist"))
    }

    @Test func aSchedulerLineQuotedByAnUnrelatedAlertIsNotAScheduling() throws {
        var issue = Issues.kubernetes("Foo", name: "web", namespace: "shop")
        issue.description = "the ticket says: 0/1 nodes are available: 1 Insufficient memory"
        #expect(Diagnoser.diagnose(DiagnosisFacts(issue: issue)) == nil)
        issue.aggregationKey = "FailedScheduling"
        issue.description = "Pod shop/web: 0/3 nodes are available: 3 Insufficient cpu.\nseen 4 times"
        let d = try #require(Diagnoser.diagnose(DiagnosisFacts(issue: issue)))
        #expect(d.cause == "no node can take the pod: 0/3 nodes: 3 insufficient cpu")
        #expect(d.nextStep.hasPrefix("Lower the pod's cpu request, or add capacity: 3 of 3 nodes lack cpu"))
    }

    @Test(arguments: [
        ("diagnosis:\n  llm: {url: http://127.0.0.1:1/v1, model: m, timeout: 20s}\n",
         "4:56 diagnosis.llm.timeout: enrichment.issue_budget 5s + diagnosis.timeout 1s + diagnosis.llm.timeout 20s = 26s, which must stay under 10s"),
        ("enrichment: {issue_budget: 8s}\ndiagnosis:\n  llm: {url: http://127.0.0.1:1/v1, model: m}\n",
         "3:28 enrichment.issue_budget: enrichment.issue_budget 8s + diagnosis.timeout 1s + diagnosis.llm.timeout 3s = 12s"),
        ("prometheus: {url: http://127.0.0.1:1, bearer_token: T, username: bob, password: Q}\n", "takes bearer_token or username and password, not both"),
        ("prometheus: {url: http://127.0.0.1:1, username: bob}\n", "needs username and password together"),
        ("prometheus: {url: \"http://\"}\n", "prometheus.url must be an http(s) URL with a host"),
        ("prometheus: {url: \"http://admin:P@127.0.0.1:1\"}\n", "prometheus.url must not carry credentials"),
        ("prometheus: {url: http://127.0.0.1:1, lookback: 100000h}\n", "prometheus.lookback must be from 1m to 7d"),
    ])
    func badDiagnosisConfigIsRefusedWithWhereAndWhy(yaml: String, expected: String) throws {
        let base = "destinations: [{name: out, type: file, config: {path: \"-\"}}]\ndefault_destinations: [out]\n"
        do {
            _ = try ConfigLoader.parse(base + yaml)
            Testing.Issue.record("accepted: \(yaml)")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
            #expect(!"\(error)".contains("P@"))
        }
    }

    @Test func aRefusedLLMURLIsOneProblem() throws {
        do {
            _ = try ConfigLoader.parse("destinations: [{name: out, type: file, config: {path: \"-\"}}]\ndefault_destinations: [out]\ndiagnosis:\n  llm: {url: ftp://x, model: m}\n")
            Testing.Issue.record("accepted")
        } catch let error as ConfigError {
            #expect(error.problems.count == 1, "\(error)")
            #expect(error.problems.first?.message.contains("llm.url must be an http(s) URL") == true)
        }
    }
}
