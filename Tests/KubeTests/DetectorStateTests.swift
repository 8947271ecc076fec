import CanoSDK
import Collector
import FakeKubeAPIServer
import Foundation
import KubeClient
import Testing
import TestSupport
@testable import KubeSources

/// Failover with a shared detector state store (GitHub issue 11): two replicas, one store,
/// leader election on the fake API server's Lease.
@Suite("Detector state and failover")
struct DetectorStateTests {
    static func config() -> KubernetesConfig {
        var c = SourcesHarness.baseConfig()
        c.events.enabled = false
        c.jobs.enabled = false
        c.helm.enabled = false
        c.leaderElection = LeaderElectionConfig(
            enabled: true, namespace: "cano", identity: nil, leaseDurationSeconds: 2, renewDeadlineSeconds: 1.5, retryPeriodSeconds: 0.2)
        return c
    }

    static func env() async throws -> KubeTestEnv {
        try await KubeTestEnv.start(token: "replica-a-token", extraTokens: ["replica-b-token"])
    }

    /// Runs `body` with the fake API server's shutdown awaited after it (``withStops(_:)``).
    static func cleaningUp(_ env: KubeTestEnv, _ body: (StopList) async throws -> Void) async throws {
        try await withStops { stops in
            stops.add { await env.server.shutdown() }
            try await body(stops)
        }
    }

    static let crash = "pods/pod-crashloopbackoff-managedfields.json"
    static let healthy = "pods/pod-running-healthy-managedfields.json"
    static let lastCrash = "status.containerStatuses.0.lastState.terminated.finishedAt"

    @Test func aNewLeaderResolvesWhatTheOldOneReported() async throws {
        let env = try await Self.env()
        try await Self.cleaningUp(env) { stops in
            let store = InMemoryKeyValueStore()
            let a = try await SourcesReplica.start("a", env: env, store: store)
            // B follows: the Lease is A's.
            let b = SourcesReplica("b", env: env, store: store)
            stops.add { await a.stop(); await b.stop() }
            let pod = try Fixtures.load(Self.crash).placed(namespace: "shop", name: "web-5d4f8-aaaaa").owned(byReplicaSet: "web-5d4f8", hash: "5d4f8")
            env.cluster.apply("pods", pod)
            try await waitUntil("A reports the crash loop") { a.issues.count == 1 }
            let fired = a.issues[0]
            #expect(fired.status == .firing)
            #expect(!b.isWatching(env))

            // Failover: A shuts down, B takes the Lease and lists.
            let mark = env.cluster.requests.count
            await a.stop()
            try await waitUntil("B leads", timeout: .seconds(8)) { b.isWatching(env, after: mark) }
            // The pod recovers under B.
            env.cluster.apply("pods", try Fixtures.load(Self.healthy).placed(namespace: "shop", name: "web-5d4f8-aaaaa")
                .owned(byReplicaSet: "web-5d4f8", hash: "5d4f8"))
            try await waitUntil("B resolves it") { b.issues.count == 1 }
            let resolved = b.issues[0]
            #expect(resolved.status == .resolved)
            #expect(resolved.fingerprint == fired.fingerprint)
            #expect(resolved.startsAt == fired.startsAt)
            #expect(resolved.title == fired.title)
            #expect(resolved.endsAt != nil)
            try await b.podBarrier(env, "resolved")
            #expect(b.issues.count == 1, "resolved more than once: \(b.issues.map { "\($0.status) \($0.title)" })")
        }
    }

    @Test func aProblemThatStartedDuringTheGapIsReportedOnce() async throws {
        let env = try await Self.env()
        try await Self.cleaningUp(env) { stops in
            let store = InMemoryKeyValueStore()
            let a = try await SourcesReplica.start("a", env: env, store: store)
            stops.add { await a.stop() }
            // A has seen the cluster (its barrier went through, its watermark is written) and
            // then goes away.
            try await a.podBarrier(env, "a")
            try await waitForWatermark(store)
            await a.stop()

            // Nobody leads: a pod starts crash-looping now.
            env.cluster.apply("pods", try Fixtures.load(Self.crash).placed(namespace: "gap", name: "during-failover")
                .setting(Self.lastCrash, to: nowRFC3339()))
            let b = try await SourcesReplica.start("b", env: env, store: store)
            stops.add { await b.stop() }
            try await waitUntil("B reports the gap's crash loop") { b.issues.count == 1 }
            #expect(b.issues[0].subject.name == "during-failover")
            #expect(b.issues[0].status == .firing)
            #expect(b.issues[0].aggregationKey == "CrashLoopBackOff")
            env.cluster.closeWatches()
            try await b.podBarrier(env, "b")
            #expect(b.issues.count == 1, "\(b.issues.map(\.title))")
        }
    }

    @Test func nothingTheOldLeaderReportedIsReportedAgain() async throws {
        let env = try await Self.env()
        try await Self.cleaningUp(env) { stops in
            let store = InMemoryKeyValueStore()
            let a = try await SourcesReplica.start("a", env: env, store: store)
            stops.add { await a.stop() }
            let crash = try Fixtures.load(Self.crash)
            let oom = try Fixtures.load("pods/pod-oomkilled-laststate-restarted.yaml")
            let oomAt = "status.containerStatuses.0.lastState.terminated.finishedAt"
            // A reports a crash loop, an OOM kill and an eviction, all happening now.
            env.cluster.apply("pods", crash.placed(namespace: "pay", name: "worker").setting(Self.lastCrash, to: nowRFC3339()))
            env.cluster.apply("pods", oom.placed(namespace: "ml", name: "head").setting(oomAt, to: nowRFC3339()))
            env.cluster.apply("pods", try Fixtures.load("pods/pod-evicted.json").placed(namespace: "batch"))
            try await waitUntil("A reports three problems") { a.issues.count == 3 }
            let reported = Set(a.issues.map { "\($0.fingerprint)@\($0.startsAt.timeIntervalSince1970)" })
            try await waitForWatermark(store)
            await a.stop()

            // During the gap the crash loop crashes again (its newest evidence is now after any
            // watermark), and another pod starts crash-looping.
            env.cluster.apply("pods", crash.placed(namespace: "pay", name: "worker").setting(Self.lastCrash, to: nowRFC3339())
                .setting("status.containerStatuses.0.restartCount", to: .number(5)))
            env.cluster.apply("pods", crash.placed(namespace: "gap", name: "new").setting(Self.lastCrash, to: nowRFC3339()))
            let b = try await SourcesReplica.start("b", env: env, store: store)
            stops.add { await b.stop() }
            try await waitUntil("B reports the new crash loop") { b.issues.contains { $0.subject.name == "new" } }
            try await b.podBarrier(env, "b")
            #expect(b.issues.count == 1, "re-reported: \(b.issues.map(\.title))")
            #expect(b.issues.allSatisfy { !reported.contains("\($0.fingerprint)@\($0.startsAt.timeIntervalSince1970)") })
        }
    }

    @Test func aFirstInstallReportsNothingPreExisting() async throws {
        let env = try await Self.env()
        try await Self.cleaningUp(env) { stops in
            let store = InMemoryKeyValueStore()
            // Crash loops older than the collector, one of them crashing right now.
            env.cluster.apply("pods", try Fixtures.load("pods/pod-crashloopbackoff.yaml").placed(namespace: "legacy"))
            env.cluster.apply("pods", try Fixtures.load(Self.crash).placed(namespace: "legacy2", name: "recent")
                .setting(Self.lastCrash, to: nowRFC3339()))
            let a = try await SourcesReplica.start("a", env: env, store: store)
            stops.add { await a.stop() }
            try await a.podBarrier(env, "a")
            #expect(a.issues.isEmpty, "history was reported: \(a.issues.map(\.title))")
            // The store now knows them, as open and not reported, and has a watermark: the next
            // leader is not a first install.
            try await waitUntil("state persisted") {
                guard try store.value(namespace: "kubernetes", key: "watermark") != nil,
                      let bytes = try store.value(namespace: "kubernetes", key: "pods") else { return false }
                let stored = try JSONDecoder().decode(StoredTracker.self, from: Data(bytes))
                return Set(stored.problems.filter { !$0.reported }.map(\.namespace)) == ["legacy", "legacy2"]
            }
            await a.stop()

            // The recent one crashes again during the failover: still the same old problem.
            env.cluster.apply("pods", try Fixtures.load(Self.crash).placed(namespace: "legacy2", name: "recent")
                .setting(Self.lastCrash, to: nowRFC3339()).setting("status.containerStatuses.0.restartCount", to: .number(5)))
            let b = try await SourcesReplica.start("b", env: env, store: store)
            stops.add { await b.stop() }
            try await b.podBarrier(env, "b")
            #expect(b.issues.isEmpty, "history was reported: \(b.issues.map(\.title))")
        }
    }
}

/// Waits until a leader has written its watermark: the store has seen the cluster, so the
/// next leader is not a first install.
func waitForWatermark(_ store: any KeyValueStore) async throws {
    try await waitUntil("watermark written") { try store.value(namespace: "kubernetes", key: "watermark") != nil }
}

/// One collector replica: KubernetesSources with its own token (so the server log tells
/// whose requests are whose) and sink, sharing the store with the others.
final class SourcesReplica: Sendable {
    let name: String
    let sink = RecordingSink()
    let task: Task<Void, any Error>

    init(_ name: String, env: KubeTestEnv, store: any KeyValueStore, config: KubernetesConfig = DetectorStateTests.config()) {
        self.name = name
        let sources = KubernetesSources(
            config: config, sink: sink, connection: env.connection(token: "replica-\(name)-token"), tickInterval: .milliseconds(20),
            stateStore: store)
        task = Task { try await sources.run() }
    }

    /// Starts a replica and waits until it leads and watches pods.
    static func start(_ name: String, env: KubeTestEnv, store: any KeyValueStore) async throws -> SourcesReplica {
        let mark = env.cluster.requests.count
        let replica = SourcesReplica(name, env: env, store: store)
        try await waitUntil("\(name) leads", timeout: .seconds(8)) {
            replica.isWatching(env, after: mark) && env.cluster.openWatches("pods") >= 1
        }
        return replica
    }

    /// Whether this replica sent a pods watch after request number `mark` (it leads and
    /// its first list is done).
    func isWatching(_ env: KubeTestEnv, after mark: Int = 0) -> Bool {
        env.cluster.requests.dropFirst(mark).contains {
            $0.path == "/api/v1/pods" && $0.query["watch"] == "true" && $0.authorization == "Bearer replica-\(name)-token"
        }
    }

    /// Proves this replica processed the pod stream up to now (see ``SourcesHarness/podBarrier(_:)``).
    func podBarrier(_ env: KubeTestEnv, _ tag: String) async throws {
        let pod = try Fixtures.load("pods/pod-crashloopbackoff-managedfields.json").placed(namespace: "barrier-\(tag)", name: "barrier")
        env.cluster.apply("pods", pod)
        try await waitUntil("pod barrier \(tag)") { self.sink.issues.contains { $0.subject.namespace == "barrier-\(tag)" } }
    }

    /// Issues other than barrier ones.
    var issues: [CanoSDK.Issue] { sink.issues.filter { !($0.subject.namespace ?? "").hasPrefix("barrier-") } }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}
