import Collector
import CanoSDK
import FakeKubeAPIServer
import Foundation
import KubeClient
import Logging
import Synchronization
import Testing
import TestSupport
@testable import KubeSources

@Suite("Leader election")
struct LeaderElectionTests {
    final class Flag: Sendable {
        let value = Mutex(false)
        func set(_ v: Bool) { value.withLock { $0 = v } }
        var get: Bool { value.withLock { $0 } }
    }
    /// Who leads right now, and whether two ever did at once.
    final class Book: Sendable {
        let leaders = Mutex<Set<String>>([])
        let overlap = Flag()
    }

    final class Replica: Sendable {
        let elector: LeaderElector
        let stop = StopSignal()
        let leading: Flag
        let done: Flag

        init(_ name: String, client: KubeClient, config: LeaderElectionConfig, book: Book, releaseOnStop: Bool) {
            let leading = Flag()
            let done = Flag()
            self.leading = leading
            self.done = done
            elector = LeaderElector(
                client: client, namespace: "cano", name: "cano-collector-leader", identity: name, config: config,
                stop: stop, logger: Logger(label: "le-\(name)"), releaseOnStop: releaseOnStop,
                onStartedLeading: {
                    leading.set(true)
                    book.leaders.withLock { l in
                        l.insert(name)
                        if l.count > 1 { book.overlap.set(true) }
                    }
                },
                onStoppedLeading: {
                    leading.set(false)
                    _ = book.leaders.withLock { $0.remove(name) }
                })
            let elector = self.elector
            BlockingThread.start(name: "le-\(name)") {
                elector.run()
                done.set(true)
            }
        }
        var isLeading: Bool { leading.get }
        var isDone: Bool { done.get }
    }

    @Test func onlyOneLeadsAndAFollowerTakesOverAfterTheLeaderDies() async throws {
        let env = try await KubeTestEnv.start()
        defer { stopLater { await env.server.shutdown() } }
        let config = LeaderElectionConfig(leaseDurationSeconds: 2, renewDeadlineSeconds: 1.5, retryPeriodSeconds: 0.2)
        let book = Book()
        let a = Replica("replica-a", client: env.client(), config: config, book: book, releaseOnStop: false)
        let b = Replica("replica-b", client: env.client(), config: config, book: book, releaseOnStop: false)
        try await waitUntil("a leader") { a.isLeading || b.isLeading }
        let (leader, follower) = a.isLeading ? (a, b) : (b, a)
        // Several renewals pass; the follower keeps following, conflicts and all.
        let renewedAt = env.cluster.resourceVersion
        try await waitUntil("renewals") { env.cluster.resourceVersion >= renewedAt + 5 }
        #expect(!follower.isLeading)
        let lease = try #require(env.cluster.get("leases.coordination.k8s.io", namespace: "cano", name: "cano-collector-leader"))
        #expect(lease.at("spec.holderIdentity")?.stringValue == (leader === a ? "replica-a" : "replica-b"))
        #expect(lease.at("spec.leaseDurationSeconds")?.numberValue == 2)
        #expect(lease.at("spec.renewTime")?.stringValue?.count == "2026-01-01T00:00:00.000000Z".count)

        // The leader dies without releasing the lease (a crash, not a shutdown).
        let died = ContinuousClock.now
        leader.stop.stop()
        try await waitUntil("takeover", timeout: .seconds(8)) { follower.isLeading }
        let takeover = ContinuousClock.now - died
        // Bounded by the lease duration (2 s) after the last renewal, not by anything longer;
        // the extra 3 s is slack for a loaded CI machine, not part of the protocol.
        #expect(takeover < .seconds(2) + .seconds(3))
        #expect(!book.overlap.get)
        let after = try #require(env.cluster.get("leases.coordination.k8s.io", namespace: "cano", name: "cano-collector-leader"))
        #expect(after.at("spec.leaseTransitions")?.numberValue == 1)
        follower.stop.stop()
        try await waitUntil("stopped") { a.isDone && b.isDone }
    }

    @Test func conflictingUpdatesAreRefusedWith409() async throws {
        let env = try await KubeTestEnv.start()
        defer { stopLater { await env.server.shutdown() } }
        let client = env.client()
        let path = KubeResource.leases.path(namespace: "cano", name: "l")
        let created = try await blocking { () throws(KubeError) in
            try client.create(Lease(metadata: .init(name: "l", namespace: "cano"), spec: .init(holderIdentity: "x", leaseDurationSeconds: 5)), path: KubeResource.leases.path(namespace: "cano"))
        }
        var staleLease = created
        staleLease.spec.holderIdentity = "y"
        var freshLease = created
        freshLease.spec.holderIdentity = "z"
        let stale = staleLease
        let fresh = freshLease
        _ = try await blocking { () throws(KubeError) in try client.replace(fresh, path: path) }
        let error = await #expect(throws: KubeError.self) {
            try await blocking { () throws(KubeError) in _ = try client.replace(stale, path: path) }
        }
        #expect(error?.code == .conflict)
        #expect(error?.status?.reason == "Conflict")
        let again = await #expect(throws: KubeError.self) {
            try await blocking { () throws(KubeError) in _ = try client.create(created, path: KubeResource.leases.path(namespace: "cano")) }
        }
        #expect(again?.code == .conflict)
        #expect(again?.status?.reason == "AlreadyExists")
    }

    @Test func onlyTheLeaderReports() async throws {
        // Each replica has its own token, so the server log tells whose requests are whose.
        let env = try await KubeTestEnv.start(token: "replica-a-token", extraTokens: ["replica-b-token"])
        defer { stopLater { await env.server.shutdown() } }
        var config = SourcesHarness.baseConfig()
        config.events.enabled = false
        config.jobs.enabled = false
        config.helm.enabled = false
        config.leaderElection = LeaderElectionConfig(enabled: true, namespace: "cano", identity: nil, leaseDurationSeconds: 2, renewDeadlineSeconds: 1.5, retryPeriodSeconds: 0.2)
        let sinks = ["a": RecordingSink(), "b": RecordingSink()]
        var tasks: [String: Task<Void, any Error>] = [:]
        for name in ["a", "b"] {
            let sources = KubernetesSources(config: config, sink: sinks[name]!, connection: env.connection(token: "replica-\(name)-token"), tickInterval: .milliseconds(20))
            tasks[name] = Task { try await sources.run() }
        }
        func watching(_ name: String, after mark: Int = 0) -> Bool {
            env.cluster.requests.dropFirst(mark).contains {
                $0.path == "/api/v1/pods" && $0.query["watch"] == "true" && $0.authorization == "Bearer replica-\(name)-token"
            }
        }
        try await waitUntil("a leader watching") { watching("a") || watching("b") }
        let leader = watching("a") ? "a" : "b"
        let follower = leader == "a" ? "b" : "a"
        let crash = try Fixtures.load("pods/pod-crashloopbackoff-managedfields.json").placed(namespace: "ha")
        env.cluster.apply("pods", crash)
        try await waitUntil("leader reports") { sinks[leader]!.issues.count == 1 }
        #expect(!watching(follower))

        // The leader shuts down (releasing the lease); the follower takes over and reports
        // what breaks next, and only that.
        let mark = env.cluster.requests.count
        tasks[leader]!.cancel()
        _ = try? await tasks[leader]!.value
        try await waitUntil("follower watching", timeout: .seconds(8)) { watching(follower, after: mark) }
        env.cluster.apply("pods", crash.placed(namespace: "ha2"))
        try await waitUntil("follower reports", timeout: .seconds(8)) { sinks[follower]!.issues.count == 1 }
        #expect(sinks[follower]!.issues[0].subject.namespace == "ha2")
        #expect(sinks[leader]!.issues.count == 1)
        tasks[follower]!.cancel()
        _ = try? await tasks[follower]!.value
    }
}
