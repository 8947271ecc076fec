@testable import Collector
import CanoSDK
import Foundation
import Testing
import TestSupport

@Suite struct KubeEnricherTests {
    static let oomPod = "raycluster-auth-token-head-vbjrq"
    static let oomNamespace = "test-ns-5msxm"

    /// The OOMKilled pod fixture, its previous container's log, and events about it. The
    /// fixtures hold no Event for this pod, so one is built from the real Killing event
    /// (event-killing-liveness.json) retargeted at the pod, as the API would list it.
    func oomCluster() throws -> FixtureKube {
        let kube = FixtureKube()
        kube.add(try KubeFixtures.object("pods/pod-oomkilled-laststate-restarted.yaml"))
        let killing = try KubeFixtures.object("events/event-killing-liveness.json")
            .setting(["metadata", "namespace"], .string(Self.oomNamespace))
            .setting(["involvedObject", "namespace"], .string(Self.oomNamespace))
            .setting(["involvedObject", "name"], .string(Self.oomPod))
            .setting(["involvedObject", "kind"], .string("Pod"))
            .setting(["message"], .string("Container ray-head failed liveness probe, will be restarted"))
        kube.add(killing)
        let log = (1...400).map { "2026-01-08T08:07:0\($0 % 10)Z INFO raylet heartbeat \($0)" }.joined(separator: "\n")
            + "\n2026-01-08T08:07:09Z ERROR object store full, allocating 1.9GiB\nKilled\n"
        kube.setLog(namespace: Self.oomNamespace, pod: Self.oomPod, container: "ray-head", previous: true, Array(log.utf8))
        kube.setLog(namespace: Self.oomNamespace, pod: Self.oomPod, container: "ray-head", previous: false, Array("2026-01-08T08:07:11Z INFO starting ray head\n".utf8))
        return kube
    }

    @Test func anOOMKilledPodCarriesThePreviousLogTheLimitsAndTheEvents() async throws {
        let kube = try oomCluster()
        let h = try StageHarness(kube: kube)
        let issue = try await h.run(Issues.kubernetes("OOMKilled", name: Self.oomPod, namespace: Self.oomNamespace, container: "ray-head"))

        // The previous container's log: a file with its last lines, and an excerpt.
        let logs = issue.enrichments("pod_logs")
        let previous = try #require(logs.first { $0.title == "Logs of ray-head (previous container)" })
        let file = try #require(previous.files.first)
        #expect(file.name == "\(Self.oomPod)-ray-head-previous.log")
        let text = String(decoding: try #require(file.bytes), as: UTF8.self)
        #expect(text.hasSuffix("ERROR object store full, allocating 1.9GiB\nKilled\n"))
        #expect(text.split(separator: "\n").count == 200)  // default tail_lines
        #expect(previous.markdown.first?.contains("Killed") == true)
        #expect(logs.contains { $0.title == "Logs of ray-head (current container)" })
        #expect(kube.requests.contains { $0.contains("/pods/\(Self.oomPod)/log?container=ray-head") && $0.contains("previous=true") })

        // The limit that was hit: the applied one from the status, with the spec's.
        let resources = try #require(issue.enrichments("resources").first)
        let oom = try #require(resources.markdown.first)
        #expect(oom.contains("`ray-head` was OOMKilled** at 2026-01-08T08:07:10Z (exit code 137)"))
        #expect(oom.contains("memory limit of **1953125Ki** (spec: 2G)"))
        #expect(resources.tables.first?.rows == [["ray-head", "300m", "500m", "1G", "2G"]])

        // Status: last termination, exit code, restarts.
        let status = try #require(issue.enrichments("container_status").first?.tables.first)
        #expect(status.rows.first?[0...5] == ["ray-head", "running since 2026-01-08T08:07:10Z", "OOMKilled", "137", "2026-01-08T08:07:10Z", "1"])

        // Events of the pod.
        let events = try #require(issue.enrichments("events").first?.tables.first)
        #expect(events.rows.contains { $0[2] == "Killing" && $0[3] == "Pod/\(Self.oomPod)" })

        // Its owner is a custom resource: named, not followed.
        #expect(issue.enrichments("owner_chain").first?.markdown.first == "Pod `\(Self.oomPod)` → RayCluster `raycluster-auth-token`")
        #expect(h.metrics.counter("cano_enrichments_total", ["enricher": "pod_logs", "result": "ok"]) == 1)
    }

    @Test func aFiftyMegabyteLogIsCapped() async throws {
        let kube = try oomCluster()
        // 50 MiB of 80-byte lines, built with memset-speed operations (a byte-by-byte loop
        // in a debug build would hog a cooperative thread for seconds).
        var big = [UInt8](repeating: UInt8(ascii: "x"), count: 50 << 20)
        for i in stride(from: 79, to: big.count, by: 80) { big[i] = UInt8(ascii: "\n") }
        big += Array("LAST LINE before the kill\n".utf8)
        kube.setLog(namespace: Self.oomNamespace, pod: Self.oomPod, container: "ray-head", previous: true, big)
        var config = EnrichmentConfig()
        config.defaultWorkflows = false
        config.issueBudget = .seconds(9)
        config.enricherTimeout = .seconds(9)
        config.workflows = [WorkflowConfig(name: "logs", trigger: WorkflowTrigger(),
                                           steps: [EnricherStep("pod_logs", parameters: .object(["tail_lines": .number(100_000), "current": .bool(false)]))])]
        let h = try StageHarness(config: config, kube: kube)
        let issue = try await h.run(Issues.kubernetes("OOMKilled", name: Self.oomPod, namespace: Self.oomNamespace))
        let file = try #require(issue.enrichments("pod_logs").first?.files.first)
        let bytes = try #require(file.bytes)
        #expect(bytes.count <= 128 * 1024)
        #expect(bytes.count > 100 * 1024)
        #expect(String(decoding: bytes, as: UTF8.self).hasSuffix("LAST LINE before the kill\n"))
        // The whole Issue stays small enough for any outbox row.
        #expect(try IssueCoding.encode(issue).count < 400 * 1024)
    }

    @Test func anEnrichersOutputIsCutToItsByteBudgetWithANote() async throws {
        let kube = try oomCluster()
        var config = EnrichmentConfig()
        config.defaultWorkflows = false
        config.workflows = [WorkflowConfig(name: "logs", trigger: WorkflowTrigger(),
                                           steps: [EnricherStep("pod_logs", parameters: .object(["current": .bool(false), "excerpt_lines": .number(0)]), maxBytes: 2048)])]
        let h = try StageHarness(config: config, kube: kube)
        let issue = try await h.run(Issues.kubernetes("OOMKilled", name: Self.oomPod, namespace: Self.oomNamespace))
        let logs = try #require(issue.enrichments("pod_logs").first)
        let bytes = try #require(logs.files.first?.bytes)
        #expect(bytes.count <= 2048)
        #expect(String(decoding: bytes, as: UTF8.self).hasSuffix("Killed\n"))
        #expect(logs.markdown.last == "_output truncated to 2048 bytes_")
        #expect(h.metrics.counter("cano_enrichments_total", ["enricher": "pod_logs", "result": "truncated"]) == 1)
    }

    @Test func logsAreRedactedAndFiltered() async throws {
        let kube = try oomCluster()
        let log = """
            2026-01-08T08:07:01Z INFO connecting to postgres://app:s3cr3t-pw@db:5432/app
            2026-01-08T08:07:02Z DEBUG headers: Authorization: Bearer abcdef0123456789abcdef
            2026-01-08T08:07:03Z ERROR login failed password=hunter2 user=alice
            2026-01-08T08:07:04Z ERROR aws key AKIAIOSFODNN7EXAMPLE rejected
            2026-01-08T08:07:05Z INFO nothing to see

            """
        kube.setLog(namespace: Self.oomNamespace, pod: Self.oomPod, container: "ray-head", previous: true, Array(log.utf8))
        var config = EnrichmentConfig()
        config.defaultWorkflows = false
        config.workflows = [WorkflowConfig(name: "logs", trigger: WorkflowTrigger(),
                                           steps: [EnricherStep("pod_logs", parameters: .object(["current": .bool(false), "grep": .string("ERROR|postgres|Authorization")]))])]
        let h = try StageHarness(config: config, kube: kube)
        let issue = try await h.run(Issues.kubernetes("OOMKilled", name: Self.oomPod, namespace: Self.oomNamespace))
        let logs = try #require(issue.enrichments("pod_logs").first)
        let text = String(decoding: try #require(logs.files.first?.bytes), as: UTF8.self)
        for secret in ["s3cr3t-pw", "abcdef0123456789abcdef", "hunter2", "AKIAIOSFODNN7EXAMPLE"] {
            #expect(!text.contains(secret), "\(secret) leaked")
            #expect(!(logs.markdown.joined().contains(secret)), "\(secret) leaked into the excerpt")
        }
        #expect(text.contains("password=[REDACTED] user=alice"))
        #expect(!text.contains("nothing to see"))  // filtered out by grep
        #expect(text.split(separator: "\n").count == 4)
    }

    @Test func aFailedJobShowsItsStatusAndConditions() async throws {
        let kube = FixtureKube()
        let list = try KubeFixtures.object("jobs/joblist-failed-backofflimitexceeded.json")
        let failed = try #require(list["items"]?.arrayValue?.first { job in
            job.at("status", "conditions")?.arrayValue?.contains { $0["reason"]?.stringValue == "BackoffLimitExceeded" } == true
        })
        kube.add(failed.setting(["kind"], .string("Job")))  // list items carry no kind
        let name = try #require(failed.at("metadata", "name")?.stringValue)
        let namespace = try #require(failed.at("metadata", "namespace")?.stringValue)
        let h = try StageHarness(kube: kube)
        let issue = try await h.run(Issues.kubernetes("BackoffLimitExceeded", kind: "Job", name: name, namespace: namespace))
        let owner = try #require(issue.enrichments("owner_chain").first)
        #expect(owner.markdown.first == "Job `\(name)`")
        #expect(owner.tables.first?.rows.contains(["Failed", "1"]) == true)
        #expect(owner.tables.last?.rows.contains { $0[0] == "Failed" && $0[2] == "BackoffLimitExceeded" } == true)
    }

    /// The real EventList of one namespace: a Job's events, and a pod's plus its ReplicaSet's.
    func eventCluster() throws -> FixtureKube {
        let kube = FixtureKube()
        for e in try KubeFixtures.object("events/eventlist-imagepull-oomjob-failedscheduling.json")["items"]?.arrayValue ?? [] {
            kube.add(e.setting(["kind"], .string("Event")))
        }
        return kube
    }

    @Test func aFailedJobShowsItsEvents() async throws {
        let h = try StageHarness(kube: try eventCluster())
        let issue = try await h.run(Issues.kubernetes("BackoffLimitExceeded", kind: "Job", name: "oom-kill-job3", namespace: "message-image-pull-fail"))
        let rows = try #require(issue.enrichments("events").first?.tables.first?.rows)
        #expect(rows.map { $0[2] } == ["BackoffLimitExceeded", "SuccessfulCreate"])
        #expect(rows.first?[3] == "Job/oom-kill-job3")
        // The Job object itself is not in this capture: its owner chain says so briefly.
        #expect(issue.enrichments("owner_chain").first?.markdown == ["_owner chain: Job message-image-pull-fail/oom-kill-job3 not found_"])
    }

    @Test func anImagePullFailureShowsThePodAndItsReplicaSetEvents() async throws {
        let kube = try eventCluster()
        kube.add(try KubeFixtures.object("pods/pod-errimagepull.json"))
        let h = try StageHarness(kube: kube)
        let issue = try await h.run(Issues.kubernetes("ImagePullBackOff", name: "no-image-deployment-849c4c4958-rxqmt", namespace: "message-image-pull-fail"))
        let rows = try #require(issue.enrichments("events").first?.tables.first?.rows)
        #expect(rows.contains { $0[2] == "Failed" && $0[0] != "" })
        #expect(rows.contains { $0[2] == "SuccessfulCreate" && $0[3] == "ReplicaSet/no-image-deployment-849c4c4958" })
        #expect(!rows.contains { $0[3].hasPrefix("Pod/oom-kill") })
        let status = try #require(issue.enrichments("container_status").first?.tables.first?.rows.first)
        #expect(status[1].hasPrefix("waiting: ErrImagePull"))
    }

    @Test func aNodeShowsItsConditionsAndPressure() throws {
        let list = try KubeFixtures.object("nodes/nodelist-notready-cni-not-initialized.json")
        let node = try #require(list["items"]?.arrayValue?.first)
        let enrichment = NodeEnricher.render(node)
        let summary = try #require(enrichment.markdown.first)
        #expect(summary.contains("Ready=False"))
        #expect(enrichment.tables.first?.headers == ["Condition", "Status", "Reason", "Message", "Since"])
        #expect(enrichment.tables.count == 2)  // conditions, capacity/allocatable
    }

    @Test func anEvictedPodShowsThePodReason() throws {
        let pod = try KubeFixtures.object("pods/pod-evicted.json")
        let e = ContainerStatusEnricher.render(pod)
        #expect(e.markdown.first?.contains("**Failed**") == true)
        #expect(e.markdown.first?.contains("Evicted (The node was low on resource: memory.)") == true)
    }

    @Test func aQuotaIssueShowsUsedAgainstHard() async throws {
        let kube = FixtureKube()
        let quota = try KubeFixtures.object("quota/resourcequota-compute.yaml")
        kube.add(quota)
        let namespace = try #require(quota.at("metadata", "namespace")?.stringValue)
        var config = EnrichmentConfig()
        config.defaultWorkflows = false
        config.workflows = [WorkflowConfig(name: "q", trigger: WorkflowTrigger(), steps: [EnricherStep("resource_quota")])]
        let h = try StageHarness(config: config, kube: kube)
        let issue = try await h.run(Issues.kubernetes("FailedCreateQuotaExceeded", kind: "ReplicaSet", name: "web-123", namespace: namespace))
        let table = try #require(issue.enrichments("resource_quota").first?.tables.first)
        #expect(table.rows.contains { $0[1] == "pods" })
    }

    @Test func aHelmReleaseShowsChartHistoryAndFailedHooks() async throws {
        let kube = FixtureKube()
        let deployed = try KubeFixtures.object("helm/helm-release-secret-deployed-handbuilt.yaml")
        kube.add(deployed)
        // A later failed revision, built from the deployed one (the fixtures hold no failed
        // release): Helm also reads an uncompressed payload, so this one is not gzipped.
        let release: JSONValue = .object([
            "name": .string("my-release"), "version": .number(4), "namespace": .string("default"),
            "info": .object(["status": .string("failed"), "description": .string("Upgrade \"my-release\" failed: pre-upgrade hooks failed")]),
            "chart": .object(["metadata": .object(["name": .string("mychart"), "version": .string("1.3.0")])]),
            "hooks": .array([.object(["name": .string("db-migrate"), "kind": .string("Job"), "events": .array([.string("pre-upgrade")]),
                                      "last_run": .object(["phase": .string("Failed"), "completed_at": .string("2026-07-19T01:02:03Z")])])]),
        ])
        let payload = Data(Data(try IssueCoding.encode(release)).base64EncodedString().utf8).base64EncodedString()
        let failed = deployed
            .setting(["metadata", "name"], .string("sh.helm.release.v1.my-release.v4"))
            .setting(["metadata", "labels", "version"], .string("4"))
            .setting(["metadata", "labels", "status"], .string("failed"))
            .setting(["data", "release"], .string(payload))
        kube.add(failed)
        let h = try StageHarness(kube: kube)
        let issue = try await h.run(Issues.kubernetes("HelmReleaseFailed", kind: "HelmRelease", name: "my-release", namespace: "default", source: .helm))
        let helm = try #require(issue.enrichments("helm_release").first)
        let summary = try #require(helm.tables.first)
        #expect(summary.rows.contains(["Status", "failed"]))
        #expect(summary.rows.contains(["Chart", "mychart-1.3.0"]))
        #expect(helm.blocks.contains(.list(["hook `db-migrate` (Job, pre-upgrade) failed at 2026-07-19T01:02:03Z"])))
        let history = try #require(helm.tables.last)
        // The fixture's gzip payload decodes: chart, app version, description. Revision 4
        // has no last_deployed, so the Secret's creation time stands in.
        #expect(history.rows == [["4", "failed", "mychart-1.3.0", "2026-07-19T00:58:24Z", "Upgrade \"my-release\" failed: pre-upgrade hooks failed"],
                                 ["3", "deployed", "mychart-1.2.3", "2026-07-19T00:58:24Z", "Install complete"]])
    }

    @Test func withoutClusterAccessKubeEnrichersAddNothing() async throws {
        var registry = EnricherRegistry.builtins(kube: nil)
        registry.register(AlertLabelsEnricher())
        let sink = RecordingSink()
        let stage = try EnrichmentStage(config: EnrichmentConfig(), enrichers: registry, next: sink, metrics: Metrics(), logger: .init(label: "t"))
        _ = try await stage.submit([Issues.kubernetes("CrashLoopBackOff", name: "p", namespace: "n")])
        let issue = try #require(sink.issues.first)
        #expect(issue.enrichments.isEmpty)
        let alert = Issue(type: .alert, source: .prometheus, severity: .high, status: .firing, title: "KubePodCrashLooping",
                          aggregationKey: "KubePodCrashLooping", fingerprint: "f", subject: Subject(kind: "Pod", name: "p", namespace: "n", labels: ["pod": "p"]),
                          startsAt: Date())
        _ = try await stage.submit([alert])
        #expect(sink.issues.last?.enrichments.map(\.type) == ["alert_labels"])
    }
}
