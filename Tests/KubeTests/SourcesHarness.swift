import CanoSDK
import Collector
import FakeKubeAPIServer
import Foundation
import KubeClient
import KubeSources
import Testing
import TestSupport

/// KubernetesSources running against the fake API server, with a recording sink.
final class SourcesHarness: Sendable {
    let env: KubeTestEnv
    let sink = RecordingSink()
    let task: Task<Void, any Error>
    let config: KubernetesConfig

    static func baseConfig() -> KubernetesConfig {
        var config = KubernetesConfig(enabled: true, clusterName: "test-cluster", resolveAfterSeconds: 0)
        config.leaderElection.enabled = false
        return config
    }

    /// Starts the sources and waits until every enabled source has listed and is watching.
    init(env: KubeTestEnv, config: KubernetesConfig = SourcesHarness.baseConfig()) async throws {
        self.env = env
        self.config = config
        let sources = KubernetesSources(config: config, sink: sink, connection: env.connection, tickInterval: .milliseconds(20))
        let before = env.cluster.requests.count
        task = Task { try await sources.run() }
        try await waitSynced(after: before)
    }

    var watchedResources: [String] {
        var r: [String] = []
        if config.pods.enabled { r.append("pods") }
        if config.events.enabled { r.append("events") }
        if config.jobs.enabled { r.append("jobs.batch") }
        if config.helm.enabled { r.append("secrets") }
        return r
    }

    /// Waits until each source has sent a watch request after request number `after`
    /// (its list is done) and that watch is open.
    func waitSynced(after: Int) async throws {
        let cluster = env.cluster
        let paths = ["pods": "/api/v1/pods", "events": "/api/v1/events", "jobs.batch": "/apis/batch/v1/jobs", "secrets": "/api/v1/secrets"]
        let resources = watchedResources
        try await waitUntil("sources watching") {
            let recent = cluster.requests.dropFirst(after)
            return resources.allSatisfy { r in
                recent.contains { $0.path == paths[r] && $0.query["watch"] == "true" } && cluster.openWatches(r) >= 1
            }
        }
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    /// Proves the pod stream was processed up to now: a new crash-looping pod (from the
    /// fixture) in its own namespace must come out, after everything applied before it.
    func podBarrier(_ tag: String) async throws {
        let pod = try Fixtures.load("pods/pod-crashloopbackoff-managedfields.json").placed(namespace: "barrier-\(tag)", name: "barrier")
        env.cluster.apply("pods", pod)
        try await waitUntil("pod barrier \(tag)") { self.sink.issues.contains { $0.subject.namespace == "barrier-\(tag)" } }
    }

    /// The same for Warning events (a fresh FailedScheduling from the fixture).
    func eventBarrier(_ tag: String) async throws {
        let e = try Fixtures.load("events/event-failedscheduling.json").placed(namespace: "barrier-\(tag)", name: "barrier.\(tag)")
            .setting("involvedObject.namespace", to: .string("barrier-\(tag)"))
            .setting("lastTimestamp", to: nowRFC3339())
        env.cluster.apply("events", e)
        try await waitUntil("event barrier \(tag)") { self.sink.issues.contains { $0.subject.namespace == "barrier-\(tag)" } }
    }

    /// Issues other than barrier ones.
    var issues: [CanoSDK.Issue] { sink.issues.filter { !($0.subject.namespace ?? "").hasPrefix("barrier-") } }
}

extension JSONValue {
    /// A Warning event built from a fixture Event, re-aimed at another object (the fixtures
    /// hold no FailedCreate "exceeded quota" Event object, only its text; see SOURCES.md).
    func event(reason: String, message: String, kind: String, name: String, namespace: String, at: JSONValue = nowRFC3339()) -> JSONValue {
        self.placed(namespace: namespace, name: "\(name).\(UUID().uuidString.prefix(8).lowercased())")
            .setting("reason", to: .string(reason)).setting("message", to: .string(message))
            .setting("involvedObject.kind", to: .string(kind)).setting("involvedObject.name", to: .string(name))
            .setting("involvedObject.namespace", to: .string(namespace)).removing("involvedObject.uid")
            .setting("lastTimestamp", to: at).setting("firstTimestamp", to: at).setting("type", to: .string("Warning"))
    }
}
