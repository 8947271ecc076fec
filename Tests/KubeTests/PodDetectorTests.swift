import Collector
import CanoSDK
import FakeKubeAPIServer
import Foundation
import KubeClient
import KubeSources
import Testing
import TestSupport

@Suite("Pod detector")
struct PodDetectorTests {
    static func sourcesConfig() -> KubernetesConfig {
        var c = SourcesHarness.baseConfig()
        c.events.enabled = false
        c.jobs.enabled = false
        c.helm.enabled = false
        return c
    }

    @Test func crashLoopFiresOncePerWorkloadAndResolvesWhenHealthy() async throws {
        let env = try await KubeTestEnv.start()
        let h = try await SourcesHarness(env: env, config: Self.sourcesConfig())
        defer { stopLater { await h.stop(); await env.server.shutdown() } }
        let crash = try Fixtures.load("pods/pod-crashloopbackoff-managedfields.json")
        let healthy = try Fixtures.load("pods/pod-running-healthy-managedfields.json")

        env.cluster.apply("pods", crash.placed(namespace: "shop", name: "web-5d4f8-aaaaa").owned(byReplicaSet: "web-5d4f8", hash: "5d4f8"))
        try await waitUntil("crash loop reported") { h.issues.count == 1 }
        let fired = h.issues[0]
        #expect(fired.aggregationKey == "CrashLoopBackOff")
        #expect(fired.status == .firing)
        #expect(fired.type == .event)
        #expect(fired.source == .kubernetes)
        #expect(fired.severity == .high)
        #expect(fired.cluster == "test-cluster")
        #expect(fired.title == "Deployment shop/web: container nginx is crash-looping")
        #expect(fired.description?.contains("after 4 restarts") == true)
        #expect(fired.description?.contains("Last exit code 127 (reason ContainerCannotRun)") == true)
        #expect(fired.subject.kind == "Pod")
        #expect(fired.subject.name == "web-5d4f8-aaaaa")
        #expect(fired.subject.namespace == "shop")
        #expect(fired.subject.node == "minikube")
        #expect(fired.subject.container == "nginx")
        #expect(fired.subject.labels["pod-template-hash"] == "5d4f8")
        #expect(fired.subject.annotations["workloadName"] == "web")

        // A second replica of the same Deployment: same problem, no second Issue.
        env.cluster.apply("pods", crash.placed(namespace: "shop", name: "web-5d4f8-bbbbb").owned(byReplicaSet: "web-5d4f8", hash: "5d4f8"))
        // The first replica recovers; the second still crash-loops: still open.
        env.cluster.apply("pods", healthy.placed(namespace: "shop", name: "web-5d4f8-aaaaa").owned(byReplicaSet: "web-5d4f8", hash: "5d4f8"))
        try await h.podBarrier("1")
        #expect(h.issues.count == 1)

        // The last crash-looping replica is replaced: the workload is healthy again.
        env.cluster.delete("pods", namespace: "shop", name: "web-5d4f8-bbbbb")
        try await waitUntil("resolved") { h.issues.count == 2 }
        let resolved = h.issues[1]
        #expect(resolved.status == .resolved)
        #expect(resolved.fingerprint == fired.fingerprint)
        #expect(resolved.id != fired.id)
        #expect(resolved.endsAt != nil)
        #expect(resolved.title == fired.title)
    }

    @Test func historyIsNotReplayedAndRelistsAreQuiet() async throws {
        let env = try await KubeTestEnv.start()
        // The cluster already has problems before the collector starts.
        let files = [
            "pods/pod-crashloopbackoff-k8s-1.33-managedfields.json", "pods/pod-crashloopbackoff-managedfields.json",
            "pods/pod-crashloopbackoff.yaml", "pods/pod-errimagepull.json", "pods/pod-evicted.json",
            "pods/pod-imagepullbackoff.yaml", "pods/pod-oomkilled-laststate-restarted.yaml",
            "pods/pod-pending-unschedulable.json", "pods/pod-running-healthy-managedfields.json",
        ]
        for f in files { env.cluster.apply("pods", try Fixtures.load(f)) }
        for item in try Fixtures.load("pods/podlist-2-pods-minikube-restarts.yaml")["items"]?.arrayValue ?? [] {
            env.cluster.apply("pods", item)
        }
        let h = try await SourcesHarness(env: env, config: Self.sourcesConfig())
        defer { stopLater { await h.stop(); await env.server.shutdown() } }

        // Resyncs: every object re-sent unchanged, then a broken watch.
        for f in files { env.cluster.apply("pods", try Fixtures.load(f)) }
        var mark = env.cluster.requests.count
        env.cluster.closeWatches()
        try await h.waitSynced(after: mark)
        // A long outage: the watch cannot reconnect while the cluster moves on and etcd
        // compacts; on return the old resourceVersion is gone (410) and the source relists.
        env.cluster.forbid("pods")
        env.cluster.closeWatches()
        try await waitUntil("watch refused") {
            env.cluster.refusedCount("pods") > 0
        }
        let gap = try Fixtures.load("pods/pod-crashloopbackoff-managedfields.json").placed(namespace: "gap", name: "during-outage")
        env.cluster.apply("pods", gap)
        for f in files { env.cluster.apply("pods", try Fixtures.load(f).setting("metadata.annotations.resync", to: .string("1"))) }
        env.cluster.compact()
        mark = env.cluster.requests.count
        env.cluster.allow("pods")
        try await waitUntil("relisted") {
            env.cluster.requests.dropFirst(mark).contains { $0.path == "/api/v1/pods" && $0.query["watch"] == nil }
        }
        try await h.waitSynced(after: mark)
        // What broke during the outage is reported, once.
        try await waitUntil("gap reported") { h.issues.count == 1 }
        #expect(h.issues[0].subject.name == "during-outage")
        env.cluster.closeWatches()
        try await h.waitSynced(after: env.cluster.requests.count)
        try await h.podBarrier("quiet")
        #expect(h.issues.count == 1, "history or resyncs were reported: \(h.issues.map { $0.title })")
    }

    @Test func oomKilled137IsAKillBut143AndEvictionsAreNot() async throws {
        let env = try await KubeTestEnv.start()
        let h = try await SourcesHarness(env: env, config: Self.sourcesConfig())
        defer { stopLater { await h.stop(); await env.server.shutdown() } }
        let oom = try Fixtures.load("pods/pod-oomkilled-laststate-restarted.yaml")
        let path = "status.containerStatuses.0.lastState.terminated"

        // The fixture as captured: its OOM kill happened before we started: history.
        env.cluster.apply("pods", oom.placed(namespace: "ml", name: "old-head"))
        // A rolling update: SIGTERM, exit 143.
        env.cluster.apply("pods", oom.placed(namespace: "ml", name: "sigterm-head")
            .setting(path + ".exitCode", to: .number(143)).setting(path + ".reason", to: .string("Error"))
            .setting(path + ".finishedAt", to: nowRFC3339()))
        // Exit 143 even with an OOMKilled reason is not a kernel OOM kill.
        env.cluster.apply("pods", oom.placed(namespace: "ml", name: "odd-head")
            .setting(path + ".exitCode", to: .number(143)).setting(path + ".finishedAt", to: nowRFC3339()))
        // A node-pressure eviction (the real evicted pod): Evicted, never OOMKilled.
        env.cluster.apply("pods", try Fixtures.load("pods/pod-evicted.json").placed(namespace: "batch"))
        try await waitUntil("evicted") { h.issues.count == 1 }
        // The real OOM kill, happening now.
        env.cluster.apply("pods", oom.placed(namespace: "ml", name: "new-head").setting(path + ".finishedAt", to: nowRFC3339()))
        try await waitUntil("oom") { h.issues.count == 2 }
        try await h.podBarrier("oom")

        let evicted = try #require(h.issues.first { $0.aggregationKey == "Evicted" })
        #expect(evicted.subject.name == "sh-7c95664875-4btqh")
        #expect(evicted.description?.contains("The node was low on resource: memory.") == true)
        let killed = h.issues.filter { $0.aggregationKey == "OOMKilled" }
        #expect(killed.count == 1)
        #expect(killed.first?.subject.name == "new-head")
        #expect(killed.first?.subject.container == "ray-head")
        #expect(killed.first?.title == "RayCluster ml/raycluster-auth-token: container ray-head was OOMKilled")
        #expect(killed.first?.description?.contains("exit code 137") == true)
        #expect(h.issues.count == 2)
    }

    @Test func imagePullAndConfigErrors() async throws {
        let env = try await KubeTestEnv.start()
        let h = try await SourcesHarness(env: env, config: Self.sourcesConfig())
        defer { stopLater { await h.stop(); await env.server.shutdown() } }
        env.cluster.apply("pods", try Fixtures.load("pods/pod-errimagepull.json").placed(namespace: "img"))
        try await waitUntil("errimagepull") { h.issues.count == 1 }
        // The same Deployment's pod moves on to ImagePullBackOff: the same problem.
        let pull = try Fixtures.load("pods/pod-errimagepull.json").placed(namespace: "img")
            .setting("status.containerStatuses.0.state.waiting.reason", to: .string("ImagePullBackOff"))
        env.cluster.apply("pods", pull)
        env.cluster.apply("pods", try Fixtures.load("pods/pod-imagepullbackoff.yaml").placed(namespace: "img2"))
        let config = try Fixtures.load("pods/pod-running-healthy-managedfields.json").placed(namespace: "cfg")
            .setting("status.phase", to: .string("Pending"))
            .setting("status.containerStatuses.0.state", to: .object(["waiting": .object([
                "reason": .string("CreateContainerConfigError"), "message": .string("secret \"db-credentials\" not found"),
            ])]))
        env.cluster.apply("pods", config)
        try await waitUntil("three problems") { h.issues.count == 3 }
        try await h.podBarrier("img")
        #expect(h.issues.count == 3)
        let first = h.issues[0]
        #expect(first.aggregationKey == "ImagePullBackOff")
        #expect(first.title == "Deployment img/no-image-deployment: container demo-deployment-container cannot pull its image")
        #expect(first.description?.contains("x509: certificate is not valid") == true)
        #expect(h.issues[1].aggregationKey == "ImagePullBackOff")
        #expect(h.issues[1].subject.namespace == "img2")
        let cfg = h.issues[2]
        #expect(cfg.aggregationKey == "CreateContainerConfigError")
        #expect(cfg.title == "Deployment cfg/random-pod: container random-pod has a configuration error")
        #expect(cfg.description?.contains("secret \"db-credentials\" not found") == true)

        // Image pulled, containers running: resolved.
        env.cluster.apply("pods", try Fixtures.load("pods/pod-running-healthy-managedfields.json").placed(namespace: "cfg"))
        try await waitUntil("config error resolved") { h.issues.count == 4 }
        #expect(h.issues[3].status == .resolved)
        #expect(h.issues[3].fingerprint == cfg.fingerprint)
    }

    @Test func namespaceFilterAndSwitch() async throws {
        let env = try await KubeTestEnv.start()
        var config = Self.sourcesConfig()
        config.pods.namespaces = NamespaceFilter(exclude: ["kube-system"])
        let h = try await SourcesHarness(env: env, config: config)
        defer { stopLater { await h.stop(); await env.server.shutdown() } }
        env.cluster.apply("pods", try Fixtures.load("pods/pod-crashloopbackoff.yaml").placed(namespace: "kube-system"))
        try await h.podBarrier("ns")
        #expect(h.issues.isEmpty)
    }

    @Test func fingerprintIsStableAcrossRestarts() async throws {
        let env = try await KubeTestEnv.start()
        let crash = try Fixtures.load("pods/pod-crashloopbackoff.yaml").placed(namespace: "pay").owned(byReplicaSet: "worker-7f9c6", hash: "7f9c6")
        var fingerprints: [String] = []
        for run in 0..<2 {
            // A collector restart: a new process, a new start time.
            let h = try await SourcesHarness(env: env, config: Self.sourcesConfig())
            // Each run sees a different pod of the same Deployment crash.
            env.cluster.apply("pods", crash.setting("metadata.name", to: .string("worker-7f9c6-r\(run)")))
            try await waitUntil("crash \(run)") { h.issues.count == 1 }
            fingerprints.append(h.issues[0].fingerprint)
            env.cluster.delete("pods", namespace: "pay", name: "worker-7f9c6-r\(run)")
            await h.stop()
        }
        await env.server.shutdown()
        #expect(fingerprints.count == 2)
        #expect(fingerprints[0] == fingerprints[1])
    }
}
