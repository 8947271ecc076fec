@testable import Collector
import CanoSDK
import Foundation
import Testing
import TestSupport

/// Every rule on a real object from ../shared/fixtures, or on a recorded message or log.
/// Where a fixture lacks the case (a pod killed by its liveness probe), the test builds it
/// from a fixture and the API reference, and says so.
@Suite struct DiagnosisRuleTests {
    static func pod(_ path: String) throws -> JSONValue { try KubeFixtures.object(path) }

    static func facts(_ reason: String, pod: JSONValue?, container: String? = nil, events: [JSONValue] = [], node: JSONValue? = nil,
                      logs: String? = nil, description: String? = nil, source: IssueSource = .kubernetes) -> DiagnosisFacts {
        var issue = Issues.kubernetes(reason, name: pod.map(PodLookup.name) ?? "web-1", namespace: pod.flatMap(PodLookup.namespace) ?? "shop",
                                      container: container, source: source)
        issue.description = description
        if let logs {
            issue.enrichments.append(Enrichment(type: "pod_logs", title: "Logs", blocks: [
                .file(Block.File(name: "x.log", mimeType: "text/plain", bytes: Array(logs.utf8))),
            ]))
        }
        return DiagnosisFacts(issue: issue, pod: pod, events: events, node: node)
    }

    /// A v1 Event about `pod`, as the API reference describes it (for cases no captured
    /// event covers).
    static func event(_ reason: String, _ message: String, pod: String, type: String = "Warning") -> JSONValue {
        .object(["kind": .string("Event"), "reason": .string(reason), "message": .string(message), "type": .string(type),
                 "involvedObject": .object(["kind": .string("Pod"), "name": .string(pod)]),
                 "lastTimestamp": .string("2026-01-08T08:07:00Z")])
    }

    // MARK: exit codes

    @Test func exit127NamesTheMissingCommand() throws {
        let d = try #require(Diagnoser.diagnose(Self.facts("CrashLoopBackOff", pod: Self.pod("pods/pod-crashloopbackoff-managedfields.json"))))
        #expect(d.rule == "exit_code")
        #expect(d.cause == "the command `wge` does not exist in nginx's image (exit code 127)")
        #expect(d.evidence.contains("command: wge -O /work-dir/index.html https://home.robusta.dev"))
        #expect(d.evidence[0].contains("last exit code 127, reason ContainerCannotRun, 4 restarts"))
    }

    @Test func exit1IsTheApplicationsOwnError() throws {
        let d = try #require(Diagnoser.diagnose(Self.facts("CrashLoopBackOff", pod: Self.pod("pods/pod-crashloopbackoff.yaml"))))
        #expect(d.rule == "exit_code")
        #expect(d.cause == "main exited with code 1: the application stopped on an error of its own")
        #expect(d.evidence.contains("command: sh -c exit 1"))
    }

    @Test func exit0InACrashLoopIsAProcessThatFinishes() throws {
        let d = try #require(Diagnoser.diagnose(Self.facts("CrashLoopBackOff", pod: Self.pod("pods/pod-crashloopbackoff-k8s-1.33-managedfields.json"))))
        #expect(d.cause.hasPrefix("alpine exits successfully (code 0) and is restarted"))
        #expect(d.nextStep.contains("Job"))
    }

    /// The crash-loop fixture with its termination changed to the given code (the
    /// kubelet writes these fields; see the ContainerStateTerminated reference).
    static func terminated(_ code: Int, reason: String = "Error", message: String? = nil) throws -> JSONValue {
        let pod = try Self.pod("pods/pod-crashloopbackoff.yaml")
        var status = try #require(pod.at("status", "containerStatuses")?.arrayValue?.first)
        var t: [String: JSONValue] = ["exitCode": .number(Double(code)), "reason": .string(reason), "finishedAt": .string("2018-12-02T09:20:25Z")]
        if let message { t["message"] = .string(message) }
        status = status.setting(["lastState"], .object(["terminated": .object(t)]))
        return pod.setting(["status", "containerStatuses"], .array([status]))
    }

    @Test func signalsAreNamed() throws {
        let segv = try #require(Diagnoser.diagnose(Self.facts("CrashLoopBackOff", pod: try Self.terminated(139))))
        #expect(segv.cause == "main died of signal 11 (exit code 139: SIGSEGV, a segmentation fault: the program read or wrote memory it does not own)")
        let abrt = try #require(Diagnoser.diagnose(Self.facts("CrashLoopBackOff", pod: try Self.terminated(134))))
        #expect(abrt.cause.contains("SIGABRT"))
        let noexec = try #require(Diagnoser.diagnose(Self.facts("CrashLoopBackOff", pod: try Self.terminated(126))))
        #expect(noexec.cause.contains("cannot be executed (exit code 126)"))
        let arch = try #require(Diagnoser.diagnose(Self.facts("CrashLoopBackOff", pod: try Self.terminated(
            1, reason: "ContainerCannotRun", message: "exec /usr/local/bin/app: exec format error"))))
        #expect(arch.cause == "main's image is built for another CPU architecture (exec format error)")
    }

    @Test func exit137IsToldFromAnOOMKillAndANodeShutdown() throws {
        // Not OOMKilled, no probe, no shutdown: a SIGKILL after the grace period.
        let plain = try #require(Diagnoser.diagnose(Self.facts("CrashLoopBackOff", pod: try Self.terminated(137))))
        #expect(plain.cause == "main was killed with SIGKILL (exit code 137), not by the OOM killer (reason Error)")
        #expect(plain.nextStep.contains("30s grace period"))
        // The node shut down (graceful node shutdown sets the pod's reason to Terminated).
        let shutdown = try Self.terminated(137).setting(["status", "reason"], .string("Terminated"))
            .setting(["status", "message"], .string("Pod was terminated in response to imminent node shutdown."))
        let d = try #require(Diagnoser.diagnose(Self.facts("CrashLoopBackOff", pod: shutdown)))
        #expect(d.cause.contains("when its node shut down"))
        // The OOM fixture: reason OOMKilled wins.
        let oom = try #require(Diagnoser.diagnose(Self.facts("OOMKilled", pod: Self.pod("pods/pod-oomkilled-laststate-restarted.yaml"))))
        #expect(oom.rule == "oom_killed")
    }

    @Test func exit143AtARolloutIsNotACrash() throws {
        let rollout = try Self.terminated(143).setting(["metadata", "deletionTimestamp"], .string("2018-12-02T09:21:00Z"))
        let d = try #require(Diagnoser.diagnose(Self.facts("CrashLoopBackOff", pod: rollout)))
        #expect(d.cause.contains("stopped by Kubernetes (SIGTERM, exit code 143): a rollout, a scale-down or an eviction, not a crash"))
        let crash = try #require(Diagnoser.diagnose(Self.facts("CrashLoopBackOff", pod: try Self.terminated(143))))
        #expect(crash.cause.contains("exited on SIGTERM (exit code 143) that Kubernetes did not send"))
    }

    // MARK: OOM

    @Test func oomKilledComparesTheLimitWithTheRequest() throws {
        let d = try #require(Diagnoser.diagnose(Self.facts("OOMKilled", pod: Self.pod("pods/pod-oomkilled-laststate-restarted.yaml"), container: "ray-head")))
        #expect(d.rule == "oom_killed")
        #expect(d.cause == "ray-head used its whole 2G memory limit and was killed; it is scheduled for 1G only, so its node reserves less than it uses")
        #expect(d.evidence.contains("memory limit 2G, request 1G"))
        #expect(d.evidence[0].contains("reason OOMKilled, exit code 137"))
    }

    @Test func aJVMHeapOrGOMEMLIMITAboveTheLimitIsNamed() throws {
        let pod = try Self.pod("pods/pod-oomkilled-laststate-restarted.yaml")
        func with(env: [String: String]) throws -> JSONValue {
            var container = try #require(pod.at("spec", "containers")?.arrayValue?.first)
            container = container.setting(["env"], .array(env.map { .object(["name": .string($0.key), "value": .string($0.value)]) }))
            return pod.setting(["spec", "containers"], .array([container]))
        }
        let jvm = try #require(Diagnoser.diagnose(Self.facts("OOMKilled", pod: try with(env: ["JAVA_TOOL_OPTIONS": "-XX:+UseG1GC -Xmx4g"]))))
        #expect(jvm.cause == "ray-head's JVM heap may use 4Gi, more than its 2G limit: the kernel kills it before the runtime collects or fails cleanly")
        #expect(jvm.evidence.contains("JVM flag -Xmx4g (4Gi)"))
        #expect(jvm.nextStep.hasPrefix("Set -Xmx to about 75% of the limit (1.4Gi)"))
        let go = try #require(Diagnoser.diagnose(Self.facts("OOMKilled", pod: try with(env: ["GOMEMLIMIT": "1900MiB"]))))
        #expect(go.cause.hasPrefix("ray-head's Go runtime (GOMEMLIMIT) may use 1.9Gi, almost all of its 2G limit"))
        // A sane heap leaves the limit-versus-request diagnosis.
        let sane = try #require(Diagnoser.diagnose(Self.facts("OOMKilled", pod: try with(env: ["JAVA_OPTS": "-Xmx1g"]))))
        #expect(sane.cause.contains("scheduled for 1G only"))
        #expect(sane.evidence.contains("JVM flag -Xmx1g (1Gi)"))
    }

    @Test func quantitiesParseAsTheAPIWritesThem() {
        #expect(Quantity.parse("2G") == 2e9)
        #expect(Quantity.parse("1953125Ki") == 2e9)
        #expect(Quantity.parse("500m") == 0.5)
        #expect(Quantity.parse("5Gi") == 5_368_709_120)
        #expect(Quantity.parse("1e3") == 1000)
        #expect(Quantity.parse("lots") == nil)
    }

    // MARK: image pulls

    @Test func anX509PullErrorIsATLSProblem() throws {
        let pod = try Self.pod("pods/pod-errimagepull.json")
        let list = try KubeFixtures.object("events/eventlist-imagepull-oomjob-failedscheduling.json")
        let events = (list["items"]?.arrayValue ?? []).filter { $0.at("involvedObject", "name")?.text == "no-image-deployment-849c4c4958-rxqmt" }
        let d = try #require(Diagnoser.diagnose(Self.facts("ImagePullBackOff", pod: pod, events: events)))
        #expect(d.rule == "image_pull")
        #expect(d.cause == "the node does not trust noimage.com's TLS certificate")
        #expect(d.evidence.contains { $0.contains("x509: certificate is not valid for any names") })
    }

    /// A back-off alone says nothing; the cause is in the first pull's event. The messages
    /// are containerd's and Docker Hub's own words, as kubelets report them, with the
    /// fixture pod's image (gcr.io/heptio-images/ks-guestbook-demo:0.3) as {image}.
    @Test(arguments: [
        ("failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found",
         "gcr.io/heptio-images/ks-guestbook-demo:0.3 does not exist in gcr.io: a wrong repository or tag"),
        ("failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://gcr.io/v2/token?scope=repository%3Aheptio-images%2Fks-guestbook-demo%3Apull: 401 Unauthorized",
         "gcr.io refuses the anonymous pull of gcr.io/heptio-images/ks-guestbook-demo:0.3: the pod has no pull secret"),
        ("failed to pull and unpack image \"{image}\": failed to copy: httpReadSeeker: failed open: unexpected status code https://gcr.io/v2/heptio-images/ks-guestbook-demo/manifests/sha256:1b7f: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.",
         "gcr.io rate-limits the node's pulls of gcr.io/heptio-images/ks-guestbook-demo:0.3 (toomanyrequests)"),
        ("failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to do request: Head \"https://gcr.io/v2/heptio-images/ks-guestbook-demo/manifests/0.3\": dial tcp: lookup gcr.io on 10.96.0.10:53: server misbehaving",
         "the node cannot resolve the registry gcr.io (DNS)"),
        ("no matching manifest for linux/arm64/v8 in the manifest list entries",
         "gcr.io/heptio-images/ks-guestbook-demo:0.3 has no variant for the node's architecture"),
    ])
    func pullErrorsAreToldApart(template: String, cause: String) throws {
        let pod = try Self.pod("pods/pod-imagepullbackoff.yaml")
        let image = try #require(pod.at("spec", "containers")?.arrayValue?.first?["image"]?.text)
        let message = "Failed to pull image \"\(image)\": " + template.replacingOccurrences(of: "{image}", with: image)
        let d = try #require(Diagnoser.diagnose(Self.facts("ImagePullBackOff", pod: pod, events: [Self.event("Failed", message, pod: PodLookup.name(pod))])))
        #expect(d.rule == "image_pull")
        #expect(d.cause == cause)
    }

    @Test func anUnauthorizedPullNamesThePullSecret() throws {
        let pod = try Self.pod("pods/pod-imagepullbackoff.yaml")
            .setting(["spec", "imagePullSecrets"], .array([.object(["name": .string("gcr-pull")])]))
        let events = [Self.event("Failed", "Failed to pull image \"gcr.io/heptio-images/ks-guestbook-demo:0.3\": rpc error: code = Unknown desc = failed to pull and unpack image: failed to resolve reference: unexpected status from HEAD request: 403 Forbidden", pod: PodLookup.name(pod))]
        let d = try #require(Diagnoser.diagnose(Self.facts("ImagePullBackOff", pod: pod, events: events)))
        #expect(d.cause.contains("with the pod's pull secret gcr-pull in"))
        #expect(d.evidence.contains { $0.hasPrefix("imagePullSecrets in ") && $0.hasSuffix("gcr-pull") })
    }

    // MARK: scheduling, config errors, probes

    @Test func failedSchedulingIsCountedWithTheCheapestFix() throws {
        let pod = try Self.pod("pods/pod-pending-unschedulable.json")
        let event = try KubeFixtures.object("events/event-failedscheduling.json")
        let d = try #require(Diagnoser.diagnose(Self.facts("FailedScheduling", pod: pod, events: [event])))
        #expect(d.rule == "scheduling")
        #expect(d.cause == "no node can take the pod: 0/1 nodes: 1 insufficient nvidia.com/gpu")
        #expect(d.evidence.contains("the pod requests nvidia.com/gpu: 5"))
        #expect(d.nextStep.hasPrefix("Lower the pod's nvidia.com/gpu request, or add capacity"))

        // The message of a larger cluster (its form per kube-scheduler's FitError).
        let (total, reasons) = try #require(SchedulingRule.parse(
            "0/12 nodes are available: 5 Insufficient memory, 3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 4 node(s) didn't match Pod's node affinity/selector. preemption: 0/12 nodes are available: 12 Preemption is not helpful for scheduling."))
        #expect(total == 12)
        #expect(reasons.map(\.nodes) == [5, 3, 4])
        let fix = SchedulingRule.fix(for: reasons[0], total: 12, facts: Self.facts("FailedScheduling", pod: nil))
        #expect(fix.contains("5 of 12 nodes lack memory"))
    }

    @Test func aMissingSecretOrKeyIsNamed() throws {
        // No captured pod shows CreateContainerConfigError: the crash-loop fixture in that
        // state, with the kubelet's messages (pkg/kubelet/kubelet_pods.go).
        let base = try Self.pod("pods/pod-crashloopbackoff.yaml")
        func waiting(_ message: String) throws -> JSONValue {
            var status = try #require(base.at("status", "containerStatuses")?.arrayValue?.first)
            status = status.setting(["state"], .object(["waiting": .object(["reason": .string("CreateContainerConfigError"), "message": .string(message)])]))
            var container = try #require(base.at("spec", "containers")?.arrayValue?.first)
            container = container.setting(["env"], .array([.object(["name": .string("DB_PASSWORD"), "valueFrom": .object([
                "secretKeyRef": .object(["name": .string("db-credentials"), "key": .string("password")])])])]))
            return base.setting(["status", "containerStatuses"], .array([status])).setting(["spec", "containers"], .array([container]))
        }
        let secret = try #require(Diagnoser.diagnose(Self.facts("CreateContainerConfigError", pod: try waiting("secret \"db-credentials\" not found"))))
        #expect(secret.rule == "config_error")
        #expect(secret.cause == "main references Secret argocd/db-credentials, which does not exist")
        #expect(secret.evidence.contains("env DB_PASSWORD reads Secret db-credentials key password"))
        let key = try #require(Diagnoser.diagnose(Self.facts("CreateContainerConfigError", pod: try waiting("couldn't find key password in Secret argocd/db-credentials"))))
        #expect(key.cause == "main references key password of Secret argocd/db-credentials, which has no such key")
        let cm = try #require(Diagnoser.diagnose(Self.facts("CreateContainerConfigError", pod: try waiting("configmap \"app-config\" not found"))))
        #expect(cm.cause == "main references ConfigMap argocd/app-config, which does not exist")
    }

    @Test func aLivenessProbeOnAnUndeclaredPortIsNamed() throws {
        // The crash-loop fixture (port 80 declared) killed with 137 by a liveness probe on
        // 8080: the captured Killing event retargeted at it, plus the Unhealthy event the
        // kubelet writes before it (prober.go's message form).
        let base = try Self.pod("pods/pod-crashloopbackoff-managedfields.json")
        var container = try #require(base.at("spec", "containers")?.arrayValue?.first)
        container = container.setting(["livenessProbe"], .object(["httpGet": .object(["port": .number(8080), "path": .string("/healthz")]),
                                                                  "timeoutSeconds": .number(1), "periodSeconds": .number(10)]))
        var status = try #require(base.at("status", "containerStatuses")?.arrayValue?.first)
        status = status.setting(["lastState"], .object(["terminated": .object(["exitCode": .number(137), "reason": .string("Error")])]))
        let pod = base.setting(["spec", "containers"], .array([container])).setting(["status", "containerStatuses"], .array([status]))
        let killing = try KubeFixtures.object("events/event-killing-liveness.json")
        let unhealthy = Self.event("Unhealthy", "Liveness probe failed: Get \"http://172.17.0.3:8080/healthz\": dial tcp 172.17.0.3:8080: connect: connection refused", pod: "init-demo")
        let d = try #require(Diagnoser.diagnose(Self.facts("CrashLoopBackOff", pod: pod, events: [killing, unhealthy])))
        #expect(d.rule == "probe_failure")
        #expect(d.cause == "nginx's liveness probe checks port 8080, which the container does not declare (it declares 80): nothing answers there, and the kubelet restarts it")
        #expect(d.evidence.contains("event Killing: Container my-container failed liveness probe, will be restarted"))
        #expect(d.evidence.contains("livenessProbe: httpGet :8080/healthz, timeout 1s, period 10s"))

        let slow = Self.event("Unhealthy", "Readiness probe failed: Get \"http://172.17.0.3:80/ready\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)", pod: "init-demo")
        let running = base.setting(["status", "containerStatuses"], .array([status.setting(["lastState"], .object([:]))
            .setting(["state"], .object(["running": .object(["startedAt": .string("2023-07-11T03:33:15Z")])])).setting(["ready"], .bool(false))]))
        let t = try #require(Diagnoser.diagnose(Self.facts("KubePodNotReady", pod: running, events: [slow])))
        #expect(t.cause == "nginx's readiness probe times out: the endpoint answers slower than timeoutSeconds (1s), and the kubelet takes it out of its Services' endpoints")
    }

    // MARK: logs

    @Test(arguments: [
        ("2026/01/08 08:07:01 starting\npanic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1f2e]\n\ngoroutine 1 [running]:\nmain.loadConfig(...)\n\t/src/main.go:42 +0x2e\n",
         "main panicked (Go): runtime error: invalid memory address or nil pointer dereference in main.loadConfig"),
        ("Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space\n\tat java.base/java.util.Arrays.copyOf(Arrays.java:3512)\n",
         "main ran out of JVM memory: java.lang.OutOfMemoryError: Java heap space"),
        ("Traceback (most recent call last):\n  File \"/app/server.py\", line 3, in <module>\n    import psycopg2\nModuleNotFoundError: No module named 'psycopg2'\n",
         "main stopped on a Python exception: ModuleNotFoundError: No module named 'psycopg2'"),
        ("<--- Last few GCs --->\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n",
         "main's Node.js process ran out of heap (JavaScript heap out of memory)"),
        ("2026-01-08T08:07:01Z listen tcp :8080: bind: address already in use\n",
         "main cannot listen: the port is already in use (2026-01-08T08:07:01Z listen tcp :8080: bind: address already in use)"),
        ("mkdir: cannot create directory '/data/cache': Permission denied\n",
         "main may not access /data/cache: permission denied"),
    ])
    func crashSignaturesInTheLogAreRecognised(log: String, cause: String) throws {
        let d = try #require(Diagnoser.diagnose(Self.facts("CrashLoopBackOff", pod: try Self.pod("pods/pod-crashloopbackoff.yaml"), logs: log)))
        #expect(d.rule == "log_signature")
        #expect(d.cause == cause)
        #expect(d.evidence.last?.hasSuffix("container main: last exit code 1, reason Error") == true)
    }

    // MARK: quota, Helm, evictions

    @Test func anExceededQuotaNamesTheResourceUsedAgainstHard() throws {
        let lines = String(decoding: try Fixtures.data("events/failedcreate-exceeded-quota-event-lines.txt"), as: UTF8.self)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }
        let first = try #require(QuotaRule.parse(String(lines[0])))
        #expect(first.quota == "namespace-quota")
        #expect(first.overflowing == ["limits.cpu", "limits.memory"])
        let second = try #require(QuotaRule.parse(String(lines[1])))
        #expect(second.overflowing == ["limits.cpu", "limits.memory", "requests.memory"])

        // The Deployment's ReplicaFailure condition, as the quota Issue's description carries it.
        let deployment = try KubeFixtures.object("quota/deployment-status-fragment-replicafailure-exceeded-quota.yaml")
        let condition = try #require(deployment.at("status", "conditions")?.arrayValue?.first { $0["type"]?.text == "ReplicaFailure" })
        var facts = Self.facts("QuotaExceeded", pod: nil, description: "ReplicaSet shop/nginx-deployment-4262182780 cannot create pods: \(condition["message"]?.text ?? "")")
        facts.issue.subject.annotations = ["workloadKind": "Deployment", "workloadName": "nginx-deployment"]
        let d = try #require(Diagnoser.diagnose(facts))
        #expect(d.rule == "quota")
        #expect(d.cause == "Deployment shop/nginx-deployment cannot create pods: ResourceQuota object-counts is exhausted for pods")
        #expect(d.evidence.contains("pods: requested 1, used 3 of 2"))
    }

    @Test func aFailedHelmHookIsNamed() throws {
        // The captured release Secret's payload with the status and hook a failed upgrade
        // leaves (Helm's release.Info and hook.LastRun fields).
        let secret = try KubeFixtures.object("helm/helm-release-secret-deployed-handbuilt.yaml")
        let release = try HelmReleaseEnricher.decodeRelease(secret)
            .setting(["info", "status"], .string("failed"))
            .setting(["info", "description"], .string("Upgrade \"my-release\" failed: post-upgrade hooks failed: job failed: BackoffLimitExceeded"))
            .setting(["hooks"], .array([.object(["name": .string("db-migrate"), "kind": .string("Job"),
                                                 "events": .array([.string("post-upgrade")]),
                                                 "last_run": .object(["phase": .string("Failed"), "completed_at": .string("2026-07-19T01:02:03Z")])])]))
        var issue = Issues.kubernetes("HelmReleaseFailed", kind: "HelmRelease", name: "my-release", namespace: "default", source: .helm)
        issue.subject.labels = ["name": "my-release"]
        let d = try #require(Diagnoser.diagnose(DiagnosisFacts(issue: issue, helmRelease: release)))
        #expect(d.rule == "helm")
        #expect(d.cause == "Helm release my-release: its post-upgrade hook Job db-migrate failed")
        #expect(d.nextStep.hasPrefix("Read the hook Job's pod logs (kubectl logs job/db-migrate -n default)"))
        // Without hooks, Helm's description decides.
        let timeout = release.setting(["hooks"], .array([])).setting(["info", "description"], .string("Upgrade \"my-release\" failed: timed out waiting for the condition"))
        #expect(Diagnoser.diagnose(DiagnosisFacts(issue: issue, helmRelease: timeout))?.cause == "Helm release my-release: its resources did not become ready before Helm's --timeout (--wait)")
    }

    @Test func anEvictionNamesTheNodesPressure() throws {
        let pod = try Self.pod("pods/pod-evicted.json")
        let nodes = try KubeFixtures.object("nodes/nodelist-notready-cni-not-initialized.json")
        let node = try #require(nodes["items"]?.arrayValue?.first)
        let d = try #require(Diagnoser.diagnose(Self.facts("Evicted", pod: pod, node: node)))
        #expect(d.rule == "eviction")
        #expect(d.cause.hasPrefix("the pod was evicted because node \(node.at("metadata", "name")?.text ?? "") ran low on memory"))
        #expect(d.evidence[0].hasSuffix("reason Evicted: The node was low on resource: memory."))
        #expect(d.evidence.contains { $0.contains("MemoryPressure=") })
    }

    @Test func aHealthyPodHasNoDiagnosis() throws {
        #expect(Diagnoser.diagnose(Self.facts("KubePodNotReady", pod: try Self.pod("pods/pod-running-healthy-managedfields.json"))) == nil)
    }
}
