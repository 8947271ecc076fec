@testable import Collector
import CanoSDK
import FakeKubeAPIServer
import Foundation
import KubeClient
import KubeSources
import Logging
import PluginABI
import Testing
import TestSupport

/// The enrichers end to end: KubeAPIReader → libcurl → HTTPS → the fake API server
/// (bearer auth, real fixture objects), as in a cluster.
@Suite struct FakeAPIServerEnrichmentTests {
    static let token = "enrich-\(UUID().uuidString.prefix(8))"

    struct Env {
        let server: FakeKubeAPIServer
        let reader: KubeAPIReader
        var cluster: FakeCluster { server.cluster }
    }

    func start() async throws -> Env {
        _ = ProcessCurl.initialized
        let server = try await FakeKubeAPIServer.start(tokens: [Self.token])
        let connection = KubeConnection(server: server.url, tls: TLSOptions(caPEM: Array(server.certificates.caPEM.utf8)),
                                        token: TokenSource(token: Self.token), namespace: "cano")
        return Env(server: server, reader: KubeAPIReader(client: KubeClient(connection: connection)))
    }

    func stage(_ env: Env, _ config: EnrichmentConfig = .roomy, extra: [any Enricher] = []) throws -> (EnrichmentStage, RecordingSink, Metrics) {
        var registry = EnricherRegistry.builtins(kube: env.reader)
        for e in extra { registry.register(e) }
        let sink = RecordingSink()
        let metrics = Metrics()
        return (try EnrichmentStage(config: config, enrichers: registry, next: sink, metrics: metrics, logger: Logger(label: "t")), sink, metrics)
    }

    @Test func anOOMKilledPodOverHTTPSCarriesItsLogLimitsAndEvents() async throws {
        let env = try await start()
        defer { stopLater { await env.server.shutdown() } }
        let pod = try KubeFixtures.object("pods/pod-oomkilled-laststate-restarted.yaml")
        _ = env.cluster.apply("pods", pod)
        // No Event for this pod was captured: the real Killing event, retargeted at it.
        let event = try KubeFixtures.object("events/event-killing-liveness.json")
            .setting(["metadata", "namespace"], .string(KubeEnricherTests.oomNamespace))
            .setting(["involvedObject", "name"], .string(KubeEnricherTests.oomPod))
            .setting(["involvedObject", "kind"], .string("Pod"))
        _ = env.cluster.apply("events", event)
        env.cluster.setLog(namespace: KubeEnricherTests.oomNamespace, pod: KubeEnricherTests.oomPod,
                           "08:07:08 INFO allocating object store\n08:07:09 ERROR out of memory allocating 1.9GiB\n")
        let (stage, sink, _) = try stage(env)
        _ = try await stage.submit([Issues.kubernetes("OOMKilled", name: KubeEnricherTests.oomPod, namespace: KubeEnricherTests.oomNamespace)])
        let issue = try #require(sink.issues.first)

        let previous = try #require(issue.enrichments("pod_logs").first { $0.title == "Logs of ray-head (previous container)" })
        #expect(String(decoding: try #require(previous.files.first?.bytes), as: UTF8.self).contains("ERROR out of memory allocating 1.9GiB"))
        let logRequest = try #require(env.cluster.requests.first { $0.path.hasSuffix("/log") && $0.query["previous"] == "true" })
        #expect(logRequest.query["container"] == "ray-head")
        #expect(logRequest.query["limitBytes"] == "131072")
        #expect(logRequest.authorization == "Bearer \(Self.token)")
        #expect(issue.enrichments("resources").first?.markdown.first?.contains("memory limit of **1953125Ki** (spec: 2G)") == true)
        #expect(issue.enrichments("events").first?.tables.first?.rows.contains { $0[2] == "Killing" } == true)
        let events = try #require(env.cluster.requests.first { $0.path.hasSuffix("/events") })
        #expect(events.query["fieldSelector"] == "involvedObject.kind=Pod,involvedObject.name=\(KubeEnricherTests.oomPod)")
    }

    @Test func aFiftyMegabyteLogOverHTTPSIsCapped() async throws {
        let env = try await start()
        defer { stopLater { await env.server.shutdown() } }
        _ = env.cluster.apply("pods", try KubeFixtures.object("pods/pod-oomkilled-laststate-restarted.yaml"))
        let line = "2026-01-08T08:07:09Z INFO padding padding padding padding padding padding padding padding\n"
        let big = String(repeating: line, count: (50 << 20) / line.utf8.count + 1) + "the last line\n"
        #expect(big.utf8.count >= 50 << 20)
        env.cluster.setLog(namespace: KubeEnricherTests.oomNamespace, pod: KubeEnricherTests.oomPod, big)
        var config = EnrichmentConfig()
        config.defaultWorkflows = false
        config.enricherTimeout = .seconds(9)
        config.issueBudget = .seconds(9)
        config.workflows = [WorkflowConfig(name: "logs", trigger: WorkflowTrigger(),
                                           steps: [EnricherStep("pod_logs", parameters: .object(["current": .bool(false), "tail_lines": .number(100_000)]))])]
        let (stage, sink, _) = try stage(env, config)
        _ = try await stage.submit([Issues.kubernetes("OOMKilled", name: KubeEnricherTests.oomPod, namespace: KubeEnricherTests.oomNamespace)])
        let bytes = try #require(sink.issues.first?.enrichments("pod_logs").first?.files.first?.bytes)
        #expect(bytes.count <= 128 * 1024)
        #expect(String(decoding: bytes, as: UTF8.self).hasSuffix("the last line\n"))
    }

    @Test func aKubePodCrashLoopingAlertGetsThePodContextOverHTTPS() async throws {
        let env = try await start()
        defer { stopLater { await env.server.shutdown() } }
        // The alert's pod (payments/api-7d9f8b6c5-x2x9q) was not captured; the real
        // crash-looping pod fixture stands in under its names.
        var pod = try KubeFixtures.object("pods/pod-crashloopbackoff.yaml")
            .setting(["metadata", "name"], .string("api-7d9f8b6c5-x2x9q")).setting(["metadata", "namespace"], .string("payments"))
        pod = pod.setting(["status", "containerStatuses"], .array((pod.at("status", "containerStatuses")?.arrayValue ?? []).map { $0.setting(["name"], .string("api")) }))
        pod = pod.setting(["spec", "containers"], .array((pod.at("spec", "containers")?.arrayValue ?? []).map { $0.setting(["name"], .string("api")) }))
        _ = env.cluster.apply("pods", pod)
        env.cluster.setLog(namespace: "payments", pod: "api-7d9f8b6c5-x2x9q", "panic: DATABASE_URL is not set\n")
        let (stage, sink, metrics) = try stage(env)
        let intake = AlertmanagerIntake(config: CollectorConfig(), sink: stage, metrics: metrics, logger: Logger(label: "t"))
        let response = await intake.handle(body: try TestSupport.Fixtures.data("alertmanager/am-0.25-captured/firing-crashlooping.json"), authorization: nil)
        #expect(response.status == 200)
        let issue = try #require(sink.issues.first)
        #expect(issue.enrichments("container_status").first?.tables.first?.rows.first?[1].hasPrefix("waiting: CrashLoopBackOff") == true)
        #expect(issue.enrichments("pod_logs").first?.markdown.first?.contains("panic: DATABASE_URL is not set") == true)
        #expect(issue.enrichments("alert_labels").first?.links.map(\.title) == ["Prometheus query", "Runbook", "Silence"])
        #expect(metrics.counter("cano_enrichments_total", ["enricher": "container_status", "result": "ok"]) == 1)
    }

    @Test func anEnricherPluginReadsThroughKubeGetAndIsRefusedSecrets() async throws {
        let env = try await start()
        defer { stopLater { await env.server.shutdown() } }
        let pod = try KubeFixtures.object("pods/pod-running-healthy-managedfields.json")
        _ = env.cluster.apply("pods", pod)
        let dir = try TemporaryDirectory(prefix: "cano-enricher")
        defer { dir.remove() }
        var catalog = PluginCatalog()
        catalog.add(try await CPluginCompiler.compile(PluginEnricherTests.example, into: dir.path, as: "c-runbook.so"))
        let services = PluginServices(logger: Logger(label: "t"), store: InMemoryKeyValueStore(), metrics: Metrics(), kube: env.reader)
        let plugin = try #require(try PluginEnricher.make(
            [EnricherPluginConfig(name: "runbook", type: "c-runbook", config: .object(["base_url": .string("https://wiki")]))],
            catalog: catalog, services: services).first)
        var config = EnrichmentConfig.roomy
        config.defaultWorkflows = false
        config.workflows = [WorkflowConfig(name: "r", trigger: WorkflowTrigger(), steps: [EnricherStep("runbook")])]
        let (stage, sink, _) = try stage(env, config, extra: [plugin])
        let name = try #require(pod.at("metadata", "name")?.stringValue)
        _ = try await stage.submit([Issues.kubernetes("CrashLoopBackOff", name: name, namespace: pod.at("metadata", "namespace")?.stringValue)])
        #expect(sink.issues.first?.enrichments("runbook").first?.markdown == ["Pod phase (via kube_get, HTTP 200): Running"])
        // The same bridge refuses a Secret: the request never reaches the API server.
        let bridge = HostServicesBridge(instance: "runbook", plugin: "c-runbook",
                                        services: PluginServices(logger: Logger(label: "t"), store: InMemoryKeyValueStore(), metrics: Metrics(),
                                                                 kube: ReadOnlyKubeReader(env.reader)))
        var status: Int32 = 0
        var body = cano_buffer()
        let path = Array("/api/v1/namespaces/default/secrets/db".utf8)
        let rc = path.withUnsafeBufferPointer { p in
            bridge.table.pointee.kube_get!(bridge.table.pointee.host_ctx, .init(ptr: p.baseAddress, len: p.count), &status, &body)
        }
        #expect(rc == -1)
        #expect(!env.cluster.requests.contains { $0.path.contains("/secrets") })
    }
}

/// The host's reader admits exactly what the built-in enrichers read (docs/rbac.md).
@Suite struct EnricherReaderScopeTests {
    @Test(arguments: [
        "/api/v1/namespaces/a/pods/b", "/api/v1/namespaces/a/pods/b/log?container=c&previous=true&limitBytes=131072",
        "/api/v1/namespaces/a/pods?labelSelector=job-name%3Dj", "/api/v1/namespaces/a/events?fieldSelector=involvedObject.kind%3DPod",
        "/api/v1/events?fieldSelector=involvedObject.kind%3DNode", "/api/v1/nodes/n", "/api/v1/namespaces/a/resourcequotas",
        "/apis/apps/v1/namespaces/a/replicasets/r", "/apis/apps/v1/namespaces/a/deployments/d", "/apis/apps/v1/namespaces/a/statefulsets/s",
        "/apis/apps/v1/namespaces/a/daemonsets/d", "/apis/batch/v1/namespaces/a/jobs/j", "/apis/batch/v1/namespaces/a/cronjobs/c",
        "/api/v1/namespaces/a/secrets?labelSelector=owner%3Dhelm%2Cname%3Dmy-release",
    ])
    func admitsWhatEnrichersRead(path: String) {
        #expect(KubeAPIReader.isAllowed(path))
    }

    @Test(arguments: [
        "/api/v1/namespaces/a/secrets/db", "/api/v1/namespaces/a/secrets", "/api/v1/namespaces/a/secrets?labelSelector=app%3Dx",
        "/api/v1/namespaces/a/pods/b/exec", "/api/v1/namespaces/a/pods?watch=true", "/api/v1/namespaces/a/configmaps/c",
        "/apis/apps/v1/namespaces/a/deployments", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
        "/api/v1/namespaces/a/pods/%2e%2e/secrets", "/api/v1/nodes/n/proxy",
    ])
    func refusesTheRest(path: String) {
        #expect(!KubeAPIReader.isAllowed(path))
    }

    @Test func everyPathTheBuiltinsBuildIsAdmitted() {
        for kind in KubeAPI.resources.keys where kind != "Secret" && kind != "Event" && kind != "ResourceQuota" {
            let path = KubeAPI.path(kind: kind, name: "x", namespace: kind == "Node" ? nil : "ns")
            #expect(path.map(KubeAPIReader.isAllowed) == true, "\(kind): \(path ?? "")")
        }
        #expect(KubeAPIReader.isAllowed(KubeAPI.listPath(kind: "Secret", namespace: "ns", query: [("labelSelector", "owner=helm,name=r")]) ?? ""))
        #expect(KubeAPIReader.isAllowed(KubeAPI.listPath(kind: "ResourceQuota", namespace: "ns") ?? ""))
        #expect(KubeAPIReader.isAllowed(KubeAPI.listPath(kind: "Event", namespace: nil, query: [("fieldSelector", "involvedObject.kind=Node")]) ?? ""))
    }
}

/// The host initialises libcurl once per process before any client or plugin runs.
enum ProcessCurl {
    static let initialized: Void = HTTPClient.initializeProcess()
}
