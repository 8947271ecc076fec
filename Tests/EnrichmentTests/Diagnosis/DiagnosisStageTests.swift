@testable import Collector
import CanoSDK
import Foundation
import Logging
import PrometheusAPI
import Synchronization
import Testing
import TestSupport

/// The stage between enrichment and the outbox: it reads the cluster, puts the diagnosis
/// first, redacts what it quotes, and never holds an Issue back.
@Suite struct DiagnosisStageTests {
    struct Harness {
        let sink = RecordingSink()
        let metrics = Metrics()
        let logs = LogCapture()
        let stage: DiagnosisStage

        init(kube: (any KubeReader)?, prometheus: PrometheusConfig? = nil, config: DiagnosisConfig = DiagnosisConfig()) {
            let logs = logs
            stage = DiagnosisStage(config: config, kube: kube, prometheus: prometheus, next: sink, metrics: metrics,
                                   logger: Logger(label: "t") { JSONLogHandler(label: $0, level: .debug, output: .capture(logs)) })
        }

        func run(_ issue: Issue) async throws -> Issue {
            _ = try await stage.submit([issue])
            return try #require(sink.issues.last)
        }
    }

    /// A generous timeout: these tests assert what the rules found, not how fast.
    static var roomy: DiagnosisConfig {
        var c = DiagnosisConfig()
        c.timeout = .seconds(60)
        return c
    }

    @Test func theDiagnosisIsTheFirstEnrichmentAndReadsTheCluster() async throws {
        let kube = FixtureKube()
        let pod = try KubeFixtures.object("pods/pod-crashloopbackoff-managedfields.json")
        kube.add(pod)
        let h = Harness(kube: kube, config: Self.roomy)
        var issue = Issues.kubernetes("CrashLoopBackOff", name: PodLookup.name(pod), namespace: PodLookup.namespace(pod))
        issue.enrichments = [Enrichment(type: "events", title: "Events", blocks: [.markdown("_no recent events_")])]
        let out = try await h.run(issue)

        let first = try #require(out.enrichments.first)
        #expect(first.type == "diagnosis")
        #expect(first.title == "Likely cause")
        #expect(first.blocks.first == .markdown("the command `wge` does not exist in nginx's image (exit code 127)"))
        #expect(first.blocks.count == 3)
        #expect(first.blocks.last == .markdown("Next step: Fix the command or args in the pod spec (a typo, or a tool the image does not ship), or use an image that has it."))
        #expect(out.enrichments.map(\.type) == ["diagnosis", "events"])
        #expect(out.diagnosisLines.first == "Likely cause: the command `wge` does not exist in nginx's image (exit code 127)")
        #expect(kube.requests.contains { $0.hasSuffix("/pods/\(PodLookup.name(pod))") })
        #expect(kube.requests.contains { $0.contains("/events?fieldSelector=") })
        #expect(h.metrics.counter("cano_diagnoses_total", ["rule": "exit_code"]) == 1)
    }

    @Test func whatTheDiagnosisQuotesIsRedacted() async throws {
        let kube = FixtureKube()
        let base = try KubeFixtures.object("pods/pod-crashloopbackoff.yaml")
        var container = try #require(base.at("spec", "containers")?.arrayValue?.first)
        container = container.setting(["command"], .array([.string("/app/server"), .string("--db-password=hunter2")]))
        let pod = base.setting(["spec", "containers"], .array([container]))
        kube.add(pod)
        let h = Harness(kube: kube, config: Self.roomy)
        let out = try await h.run(Issues.kubernetes("CrashLoopBackOff", name: PodLookup.name(pod), namespace: PodLookup.namespace(pod)))
        let diagnosis = try #require(out.diagnosis)
        let text = String(decoding: try IssueCoding.encode(diagnosis), as: UTF8.self)
        #expect(text.contains("--db-password=[REDACTED]"))
        #expect(!text.contains("hunter2"))
    }

    /// A reader that never answers until the test lets it go (an API server that hangs).
    final class HangingKube: KubeReader, Sendable {
        let released = Mutex(false)
        func get(path: String) -> (status: Int, body: [UInt8])? {
            while !released.withLock({ $0 }) { usleep(10_000) }
            return nil
        }
    }

    @Test func aHungAPIServerCostsTheTimeoutAndTheRulesStillRunOnTheIssue() async throws {
        let kube = HangingKube()
        defer { kube.released.withLock { $0 = true } }
        var config = DiagnosisConfig()
        config.timeout = .milliseconds(200)
        let h = Harness(kube: kube, config: config)
        var issue = Issues.kubernetes("QuotaExceeded", kind: "ReplicaSet", name: "api-6597bc46dc", namespace: "shop")
        issue.description = "ReplicaSet shop/api-6597bc46dc cannot create pods: pods \"api-6597bc46dc-2wm8j\" is forbidden: exceeded quota: namespace-quota, requested: limits.cpu=1, used: limits.cpu=6, limited: limits.cpu=6"
        let out = try await h.run(issue)
        #expect(out.diagnosis?.blocks.first == .markdown("ReplicaSet shop/api-6597bc46dc cannot create pods: ResourceQuota namespace-quota is exhausted for limits.cpu"))
        #expect(h.metrics.counter("cano_diagnosis_timeouts_total") == 1)
        #expect(h.logs.lines.contains { $0.contains("took longer than diagnosis.timeout") && $0.contains("\"timeout\":\"200ms\"") })
    }

    @Test func resolvedIssuesAndADisabledStagePassThrough() async throws {
        let kube = FixtureKube()
        kube.add(try KubeFixtures.object("pods/pod-crashloopbackoff-managedfields.json"))
        var resolved = Issues.kubernetes("CrashLoopBackOff", name: "init-demo", namespace: "message-pod-crashloop-backoff")
        resolved.status = .resolved
        let h = Harness(kube: kube, config: Self.roomy)
        #expect(try await h.run(resolved).enrichments.isEmpty)
        var off = Self.roomy
        off.enabled = false
        let disabled = Harness(kube: kube, config: off)
        #expect(try await disabled.run(Issues.kubernetes("CrashLoopBackOff", name: "init-demo", namespace: "message-pod-crashloop-backoff")).enrichments.isEmpty)
        #expect(kube.requests.isEmpty)
    }

    @Test func withoutClusterAccessTheIssueAloneIsRead() async throws {
        let h = Harness(kube: nil)
        var issue = Issues.kubernetes("Evicted", name: "sh", namespace: "default")
        issue.description = "Pod default/sh was evicted from node minikube: The node was low on resource: memory."
        let out = try await h.run(issue)
        #expect(out.diagnosis?.blocks.first == .markdown("the pod was evicted because its node ran low on memory; pods using more than their memory request go first"))
    }
}
