import Collector
import CanoSDK
import FakeKubeAPIServer
import Foundation
import KubeClient
import KubeSources
import Testing
import TestSupport

@Suite("Warning events, Jobs and Helm releases")
struct EventJobHelmTests {
    static func only(events: Bool = false, jobs: Bool = false, helm: Bool = false, pods: Bool = false) -> KubernetesConfig {
        var c = SourcesHarness.baseConfig()
        c.pods.enabled = pods
        c.events.enabled = events
        c.jobs.enabled = jobs
        c.helm.enabled = helm
        return c
    }

    /// The message of the real FailedCreate line from the fixture text (kubectl output).
    static func quotaMessage() throws -> String {
        let text = String(decoding: try Fixtures.data("events/failedcreate-exceeded-quota-event-lines.txt"), as: UTF8.self)
        let line = try #require(text.split(separator: "\n").first { $0.contains("allocation-manager-6597bc46dc") })
        let range = try #require(line.range(of: "(combined from similar events): "))
        return String(line[range.upperBound...])
    }

    @Test func quotaViolationsAndConfiguredReasons() async throws {
        let env = try await KubeTestEnv.start()
        // The ReplicaSet behind the event, owned by its Deployment (built per the API
        // reference: the fixtures have no ReplicaSet object).
        env.cluster.apply("replicasets.apps", .object([
            "apiVersion": .string("apps/v1"), "kind": .string("ReplicaSet"),
            "metadata": .object([
                "name": .string("allocation-manager-6597bc46dc"), "namespace": .string("quota"),
                "labels": .object(["pod-template-hash": .string("6597bc46dc")]),
                "ownerReferences": .array([.object(["apiVersion": .string("apps/v1"), "kind": .string("Deployment"), "name": .string("allocation-manager"), "uid": .string("d-1"), "controller": .bool(true)])]),
            ]),
        ]))
        let template = try Fixtures.load("events/event-job-backofflimitexceeded.json")
        // History: a quota event from before the start.
        env.cluster.apply("events", template.event(reason: "FailedCreate", message: try Self.quotaMessage(), kind: "ReplicaSet",
                                                   name: "allocation-manager-6597bc46dc", namespace: "quota", at: nowRFC3339(offset: -3600)))
        let h = try await SourcesHarness(env: env, config: Self.only(events: true))
        defer { stopLater { await h.stop(); await env.server.shutdown() } }

        let quota = template.event(reason: "FailedCreate", message: try Self.quotaMessage(), kind: "ReplicaSet",
                                   name: "allocation-manager-6597bc46dc", namespace: "quota")
        env.cluster.apply("events", quota)
        try await waitUntil("quota issue") { h.issues.count == 1 }
        // The same event again (count bumped), a FailedCreate that is not about quota, an
        // unconfigured reason, an old event, and a Normal one: none is news.
        env.cluster.apply("events", quota.setting("count", to: .number(125)))
        env.cluster.apply("events", template.event(reason: "FailedCreate", message: "Error creating: pods \"x\" is forbidden: error looking up service account", kind: "ReplicaSet", name: "other-6d5f", namespace: "quota"))
        env.cluster.apply("events", try Fixtures.load("events/event-backoff-restarting-failed-container.json").placed(namespace: "ev").setting("lastTimestamp", to: nowRFC3339()))
        env.cluster.apply("events", try Fixtures.load("events/event-failedscheduling.json").placed(namespace: "ev-old"))
        env.cluster.apply("events", try Fixtures.load("events/event-normal-scheduled.json").placed(namespace: "ev").setting("lastTimestamp", to: nowRFC3339()))
        // A configured reason, happening now.
        let scheduling = try Fixtures.load("events/event-failedscheduling.json").placed(namespace: "gpu")
            .setting("involvedObject.namespace", to: .string("gpu")).setting("series.lastObservedTime", to: nowRFC3339())
        env.cluster.apply("events", scheduling)
        try await waitUntil("scheduling issue") { h.issues.count == 2 }
        try await h.eventBarrier("ev")
        #expect(h.issues.count == 2)

        let q = h.issues[0]
        #expect(q.aggregationKey == "QuotaExceeded")
        #expect(q.severity == .high)
        #expect(q.title == "Deployment quota/allocation-manager: resource quota exceeded")
        #expect(q.description?.contains("exceeded quota: namespace-quota") == true)
        #expect(q.subject.kind == "ReplicaSet")
        #expect(q.subject.name == "allocation-manager-6597bc46dc")
        let s = h.issues[1]
        #expect(s.aggregationKey == "FailedScheduling")
        #expect(s.subject.kind == "Pod")
        #expect(s.description?.contains("Insufficient nvidia.com/gpu") == true)
        // The server was asked only for Warning events.
        #expect(env.cluster.requests.filter { $0.path == "/api/v1/events" }.allSatisfy { $0.query["fieldSelector"] == "type=Warning" })
    }

    @Test func failedJobs() async throws {
        let env = try await KubeTestEnv.start()
        // History: the real failed jobs, as captured.
        env.cluster.apply("jobs.batch", try Fixtures.load("jobs/job-failed-backofflimitexceeded.yaml"))
        for item in try Fixtures.load("jobs/joblist-failed-backofflimitexceeded.json")["items"]?.arrayValue ?? [] {
            env.cluster.apply("jobs.batch", item)
        }
        let h = try await SourcesHarness(env: env, config: Self.only(jobs: true))
        defer { stopLater { await h.stop(); await env.server.shutdown() } }
        let job = try Fixtures.load("jobs/job-failed-backofflimitexceeded.yaml")
        let running = job.placed(namespace: "etl", name: "nightly").removing("status.conditions")
        env.cluster.apply("jobs.batch", running)
        env.cluster.apply("jobs.batch", job.placed(namespace: "etl", name: "nightly").setting("status.conditions.0.lastTransitionTime", to: nowRFC3339()))
        try await waitUntil("backoff") { h.issues.count == 1 }
        // DeadlineExceeded, built from the same Job (no fixture has one).
        env.cluster.apply("jobs.batch", job.placed(namespace: "etl", name: "report")
            .setting("status.conditions.0.lastTransitionTime", to: nowRFC3339())
            .setting("status.conditions.0.reason", to: .string("DeadlineExceeded"))
            .setting("status.conditions.0.message", to: .string("Job was active longer than specified deadline")))
        try await waitUntil("deadline") { h.issues.count == 2 }
        // Further updates of a failed Job are not news.
        env.cluster.apply("jobs.batch", job.placed(namespace: "etl", name: "nightly").setting("status.conditions.0.lastTransitionTime", to: nowRFC3339()).setting("metadata.labels.touched", to: .string("yes")))
        env.cluster.apply("jobs.batch", job.placed(namespace: "etl", name: "weekly").setting("status.conditions.0.lastTransitionTime", to: nowRFC3339()))
        try await waitUntil("third") { h.issues.count == 3 }
        #expect(h.issues.map { $0.subject.name } == ["nightly", "report", "weekly"])
        #expect(h.issues[0].aggregationKey == "BackoffLimitExceeded")
        #expect(h.issues[0].title == "Job etl/nightly failed: BackoffLimitExceeded")
        #expect(h.issues[0].description?.contains("Job has reached the specified backoff limit") == true)
        #expect(h.issues[1].aggregationKey == "DeadlineExceeded")
    }

    @Test func helmReleaseFailsThenRecovers() async throws {
        let env = try await KubeTestEnv.start()
        let deployed = try Fixtures.load("helm/helm-release-secret-deployed-handbuilt.yaml")
        env.cluster.apply("secrets", deployed)
        // An unrelated Secret without owner=helm.
        env.cluster.apply("secrets", .object(["apiVersion": .string("v1"), "kind": .string("Secret"),
                                              "metadata": .object(["name": .string("db"), "namespace": .string("default")]),
                                              "data": .object(["password": .string("aHVudGVyMg==")])]))
        var config = Self.only(helm: true)
        config.helm.pendingTimeoutSeconds = 60
        let h = try await SourcesHarness(env: env, config: config)
        defer { stopLater { await h.stop(); await env.server.shutdown() } }

        // `helm upgrade` writes revision 4 (pending-upgrade), then marks it failed.
        func revision(_ n: Int, _ status: String, modifiedAt: Date = Date()) -> JSONValue {
            deployed.setting("metadata.name", to: .string("sh.helm.release.v1.my-release.v\(n)"))
                .setting("metadata.labels.version", to: .string(String(n)))
                .setting("metadata.labels.status", to: .string(status))
                .setting("metadata.labels.modifiedAt", to: .string(String(Int(modifiedAt.timeIntervalSince1970))))
                .removing("metadata.resourceVersion").removing("metadata.uid")
        }
        env.cluster.apply("secrets", revision(4, "pending-upgrade"))
        env.cluster.apply("secrets", revision(4, "failed"))
        try await waitUntil("failed release") { h.issues.count == 1 }
        let failed = h.issues[0]
        #expect(failed.source == .helm)
        #expect(failed.type == .event)
        #expect(failed.aggregationKey == "HelmReleaseFailed")
        #expect(failed.title == "Helm release default/my-release failed (revision 4)")
        #expect(failed.subject.kind == "HelmRelease")
        #expect(failed.subject.name == "my-release")

        // A fixed upgrade: revision 5 deployed, 4 superseded: resolved, same fingerprint.
        env.cluster.apply("secrets", revision(5, "deployed"))
        try await waitUntil("resolved") { h.issues.count == 2 }
        #expect(h.issues[1].status == .resolved)
        #expect(h.issues[1].fingerprint == failed.fingerprint)

        // An upgrade interrupted 2 minutes ago and never finished: stuck.
        env.cluster.apply("secrets", revision(6, "pending-upgrade", modifiedAt: Date().addingTimeInterval(-120)))
        try await waitUntil("stuck") { h.issues.count == 3 }
        #expect(h.issues[2].aggregationKey == "HelmReleaseStuck")
        #expect(h.issues[2].title == "Helm release default/my-release is stuck in pending-upgrade (revision 6)")
        env.cluster.apply("secrets", revision(6, "failed"))
        try await waitUntil("stuck resolved, failed again") { h.issues.count == 5 }
        #expect(Set(h.issues[3...].map { "\($0.aggregationKey) \($0.status)" }) == ["HelmReleaseStuck resolved", "HelmReleaseFailed firing"])

        // Metadata only, never the payload.
        let secretRequests = env.cluster.requests.filter { $0.path.hasSuffix("/secrets") }
        #expect(!secretRequests.isEmpty)
        #expect(secretRequests.allSatisfy { $0.accept.contains("as=PartialObjectMetadata") && $0.query["labelSelector"] == "owner=helm" })
    }
}
