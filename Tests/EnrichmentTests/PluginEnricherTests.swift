@testable import Collector
import CanoSDK
import Foundation
import Logging
import Testing
import TestSupport

@Suite struct PluginEnricherTests {
    static var example: String { Fixtures.repositoryRoot + "/examples/c-enricher/c_runbook_enricher.c" }

    func load(_ kube: FixtureKube?) async throws -> (PluginEnricher, TemporaryDirectory) {
        let dir = try TemporaryDirectory(prefix: "cano-enricher")
        let path = try await CPluginCompiler.compile(Self.example, into: dir.path, as: "c-runbook.so")
        var catalog = PluginCatalog()
        catalog.add(path)
        let services = PluginServices(logger: Logger(label: "t"), store: InMemoryKeyValueStore(), metrics: Metrics(), kube: kube)
        let enrichers = try PluginEnricher.make([EnricherPluginConfig(name: "runbook", type: "c-runbook",
                                                                       config: .object(["base_url": .string("https://wiki.example/runbooks")]))],
                                                catalog: catalog, services: services)
        return (try #require(enrichers.first), dir)
    }

    @Test func anEnricherPluginWrittenAgainstTheABIRuns() async throws {
        let kube = FixtureKube()
        kube.add(try KubeFixtures.object("pods/pod-running-healthy-managedfields.json"))
        let pod = try KubeFixtures.object("pods/pod-running-healthy-managedfields.json")
        let (plugin, dir) = try await load(kube)
        defer { dir.remove() }
        var config = EnrichmentConfig()
        config.workflows = [WorkflowConfig(name: "runbooks", trigger: WorkflowTrigger(), steps: [EnricherStep("runbook")])]
        config.defaultWorkflows = false
        let h = try StageHarness(config: config, extra: [plugin], kube: kube)
        let issue = try await h.run(Issues.kubernetes("CrashLoopBackOff", name: try #require(pod.at("metadata", "name")?.stringValue),
                                                      namespace: pod.at("metadata", "namespace")?.stringValue))
        let e = try #require(issue.enrichments("runbook").first)
        #expect(e.links == [Link(title: "Runbook for CrashLoopBackOff", url: "https://wiki.example/runbooks/CrashLoopBackOff")])
        // The plugin read the pod through the host's kube_get, never with credentials of its own.
        #expect(e.markdown == ["Pod phase (via kube_get, HTTP 200): Running"])
        #expect(h.metrics.counter("cano_enrichments_total", ["enricher": "runbook", "result": "ok"]) == 1)
    }

    @Test func pluginsGetOnlyReadOnlyPaths() throws {
        for allowed in ["/api/v1/namespaces/a/pods/b", "/api/v1/namespaces/a/pods/b/log?tailLines=50", "/apis/apps/v1/namespaces/a/deployments"] {
            #expect(ReadOnlyKubeReader.allows(allowed), "\(allowed)")
        }
        for refused in ["/api/v1/namespaces/a/secrets/db", "/api/v1/namespaces/a/pods/b/exec?command=sh", "/api/v1/namespaces/a/pods/b/proxy/admin",
                        "/api/v1/namespaces/a/pods?watch=true", "/api/v1/watch/pods", "/api/v1/namespaces/a/pods/../secrets/x",
                        "/api/v1/namespaces/a/pods/%2e%2e/secrets", "https://evil/api/v1", "/healthz"] {
            #expect(!ReadOnlyKubeReader.allows(refused), "\(refused)")
        }
    }

    @Test func aPluginOfTheWrongKindOrMissingIsRefused() async throws {
        var catalog = PluginCatalog()
        let services = PluginServices(logger: Logger(label: "t"), store: InMemoryKeyValueStore(), metrics: Metrics())
        #expect(throws: EnrichmentSetupError.self) {
            _ = try PluginEnricher.make([EnricherPluginConfig(name: "x", type: "nope")], catalog: catalog, services: services)
        }
        let dir = try TemporaryDirectory(prefix: "cano-enricher")
        defer { dir.remove() }
        catalog.add(try await CPluginCompiler.compile(CPluginCompiler.examplePlugin, into: dir.path, as: "jsonl-c.so"))
        let destination = try #require(catalog.loaded.first)
        #expect {
            _ = try PluginEnricher.make([EnricherPluginConfig(name: "x", type: destination.name)], catalog: catalog, services: services)
        } throws: { ($0 as? EnrichmentSetupError)?.message.contains("not an enricher") == true }
    }

    @Test func theHostBuildsTheStageFromConfigWithPlugins() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-enricher")
        defer { dir.remove() }
        let path = try await CPluginCompiler.compile(Self.example, into: dir.path, as: "c-runbook.so")
        let config = try ConfigLoader.parse("""
            destinations: [{name: out, type: file, config: {path: "-"}}]
            default_destinations: [out]
            plugins: {paths: ["\(path)"]}
            enrichment:
              plugins:
                - {name: runbook, type: c-runbook, config: {base_url: "https://runbooks.example"}}
              workflows:
                - name: runbooks
                  when: {source: prometheus}
                  enrichers: [runbook]
            """)
        let catalog = try PluginCatalog.scan(config.plugins)
        let sink = RecordingSink()
        let metrics = Metrics()
        let stage = try EnrichmentStage.make(
            config: config.enrichment, kube: FixtureKube(), catalog: catalog,
            services: PluginServices(logger: Logger(label: "t"), store: InMemoryKeyValueStore(), metrics: metrics),
            next: sink, metrics: metrics, logger: Logger(label: "t"))
        let intake = AlertmanagerIntake(config: config, sink: stage, metrics: metrics, logger: Logger(label: "t"))
        _ = await intake.handle(body: try Fixtures.data("alertmanager/kubesphere-kubepodnotready-2alerts.json"), authorization: nil)
        #expect(sink.issues.count == 2)
        for issue in sink.issues {
            // Configured workflow first, then the built-in ones (alert context, pod-not-ready).
            #expect(issue.enrichments.first?.links == [Link(title: "Runbook for KubePodNotReady", url: "https://runbooks.example/KubePodNotReady")])
            #expect(issue.enrichments.map(\.type).contains("alert_labels"))
            #expect(issue.enrichments("container_status").first?.markdown.first?.hasSuffix("not found_") == true)
        }
    }

    @Test func aHungPluginIsAbandonedAtItsDeadline() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-enricher")
        defer { dir.remove() }
        var catalog = PluginCatalog()
        catalog.add(try await CPluginCompiler.compile(Fixtures.repositoryRoot + "/Tests/Fixtures/enrichers/hanging_enricher.c", into: dir.path, as: "hanging.so"))
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let services = PluginServices(logger: Logger(label: "t"), store: InMemoryKeyValueStore(), metrics: Metrics())
        let plugin = try #require(try PluginEnricher.make([EnricherPluginConfig(name: "stuck", type: "hanging", config: .object(["fd": .number(Double(fds[0]))]))],
                                                         catalog: catalog, services: services).first)
        var config = EnrichmentConfig()
        config.defaultWorkflows = false
        config.enricherTimeout = .milliseconds(200)
        config.workflows = [WorkflowConfig(name: "w", trigger: WorkflowTrigger(), steps: [EnricherStep("stuck")])]
        let h = try StageHarness(config: config, extra: [plugin])
        // Two Issues: the plugin is not reentrant, so the second call also waits (on the
        // instance lock) behind the first, hung one. Both are abandoned.
        let receipt = try await h.stage.submit([Issues.kubernetes("OOMKilled", name: "a", namespace: "n"), Issues.kubernetes("OOMKilled", name: "b", namespace: "n")])
        #expect(receipt.queued == 2)
        for issue in h.sink.issues {
            #expect(issue.enrichments("stuck").first?.markdown == ["_stuck: timed out after 200ms_"])
        }
        #expect(h.metrics.counter("cano_enrichments_total", ["enricher": "stuck", "result": "timeout"]) == 2)
        // Unblock both calls (one byte each) and let their threads finish on their own.
        #expect(write(fds[1], "xx", 2) == 2)
        close(fds[1])
    }
}
