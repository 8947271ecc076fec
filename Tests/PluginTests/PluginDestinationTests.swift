import CanoSDK
import Collector
import Foundation
import Testing
import TestSupport

@Suite("Plugin destinations and the factory")
struct PluginDestinationTests {
    @Test func garbageStatusFailsSafeAsRetry() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let plugin = try PluginLoader.load(path: try await fixtures.build("garbage_status"))
        let destination = try PluginDestination(name: "g", plugin: plugin, config: Array("{}".utf8), services: TestServices().services)
        let outcome = await destination.deliverOnThread(try Samples.json(Samples.issue()), Samples.context())
        #expect(outcome.status == .retry)
        #expect(outcome.message.contains("invalid status 42"))
        #expect(outcome.retryAfter == nil, "a hint from a broken result is not trusted")
    }

    @Test func missingStatusFailsSafeAsRetry() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let plugin = try PluginLoader.load(path: try await fixtures.build("forgets_status"))
        let destination = try PluginDestination(name: "f", plugin: plugin, config: [], services: TestServices().services)
        let outcome = await destination.deliverOnThread(try Samples.json(Samples.issue()), Samples.context())
        #expect(outcome.status == .retry)
        #expect(outcome.message.contains("invalid status 0"))
    }

    @Test func deliveriesAfterShutdownAreRetriedNotSentToAFreedInstance() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let plugin = try PluginLoader.load(path: try await fixtures.build("valid"))
        let destination = try PluginDestination(name: "v", plugin: plugin, config: [], services: TestServices().services)
        #expect(await destination.deliverOnThread(try Samples.json(Samples.issue()), Samples.context()).status == .delivered)
        destination.shutdown()
        destination.shutdown()  // idempotent
        let outcome = await destination.deliverOnThread(try Samples.json(Samples.issue()), Samples.context())
        #expect(outcome.status == .retry)
        #expect(outcome.message.contains("shut down"))
    }

    @Test func factoryExplainsEveryDestinationItCannotCreate() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        var catalog = PluginCatalog()
        catalog.add(try await fixtures.build("create_fails"))
        catalog.add(try await fixtures.build("unknown_kind"))
        catalog.add(try await fixtures.build("valid"))
        let test = TestServices()
        let set = DestinationFactory(catalog: catalog, services: test.services).make([
            DestinationConfig(name: "a", type: "create-fails"),
            DestinationConfig(name: "b", type: "unknown-kind"),
            DestinationConfig(name: "c", type: "pagerduty"),
            DestinationConfig(name: "d", type: "valid"),
            DestinationConfig(name: "e", type: "file", config: .object(["path": .string("-"), "colour": .bool(true)])),
        ])
        #expect(set.ready.keys.sorted() == ["d"])
        let byName = Dictionary(uniqueKeysWithValues: set.failures.map { ($0.destination, $0) })
        #expect(byName["a"]?.code == .createFailed)
        #expect(byName["a"]?.reason.contains("missing required key \"endpoint\"") == true)
        #expect(byName["b"]?.code == .pluginRefused)
        #expect(byName["b"]?.reason.contains("unknown plugin kind 7") == true)
        #expect(byName["c"]?.code == .unknownType)
        #expect(byName["c"]?.reason.contains("\"pagerduty\"") == true)
        #expect(byName["c"]?.reason.contains("valid") == true, "lists what is available")
        #expect(byName["e"]?.code == .invalidConfig)
        #expect(byName["e"]?.reason.contains("\"colour\"") == true)
        #expect(test.logs.lines.filter { $0.contains("destination not created") }.count == 4)
    }

    @Test func fileDestinationAppendsOneIssuePerLine() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("out.jsonl")
        let destination = try FileDestination(name: "local", config: .object(["path": .string(path)]))
        let issues = try (0..<20).map { try Samples.json(Samples.issue(fingerprint: "fp-\($0)")) }
        // Concurrent deliveries from several threads never interleave within a line.
        await withTaskGroup(of: DeliveryOutcome.self) { group in
            for json in issues { group.addTask { await destination.deliverOnThread(json, Samples.context()) } }
            for await outcome in group { #expect(outcome.status == .delivered) }
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { Array($0.utf8) }
        #expect(Set(lines) == Set(issues))
    }

    @Test func fileDestinationNamesAnUnwritablePath() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("missing-dir/out.jsonl")
        let error = #expect(throws: DestinationSetupError.self) { try FileDestination(name: "x", config: .object(["path": .string(path)])) }
        #expect(error?.reason.contains(path) == true)
    }
}

@Suite("Per-instance call serialisation")
struct SerialisationTests {
    @Test func callsOnANonReentrantInstanceNeverOverlap() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let plugin = try PluginLoader.load(path: try await fixtures.build("overlap_detector"))
        #expect(!plugin.isReentrant)
        let destination = try PluginDestination(name: "o", plugin: plugin, config: [], services: TestServices().services)
        let json = try Samples.json(Samples.issue())
        let outcomes = await withTaskGroup(of: DeliveryOutcome.self) { group in
            for _ in 0..<16 { group.addTask { await destination.deliverOnThread(json, Samples.context()) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.count == 16)
        #expect(outcomes.allSatisfy { $0.status == .delivered }, "\(outcomes.map(\.message))")
    }

    @Test func callsOnAReentrantInstanceRunInParallel() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let plugin = try PluginLoader.load(path: try await fixtures.build("reentrant_barrier"))
        #expect(plugin.isReentrant)
        let destination = try PluginDestination(name: "r", plugin: plugin, config: [], services: TestServices().services)
        let json = try Samples.json(Samples.issue())
        // Each call waits (up to its deadline) for the other to be inside deliver() too.
        async let first = destination.deliverOnThread(json, Samples.context(timeout: .seconds(10)))
        async let second = destination.deliverOnThread(json, Samples.context(timeout: .seconds(10)))
        let outcomes = await [first, second]
        #expect(outcomes.map(\.status) == [.delivered, .delivered], "\(outcomes.map(\.message))")
    }
}

@Suite("Enricher plugins")
struct EnricherPluginTests {
    @Test func anEnricherIsNotADestination() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        var catalog = PluginCatalog()
        catalog.add(try await fixtures.build("enricher"))
        let set = DestinationFactory(catalog: catalog, services: TestServices().services)
            .make([DestinationConfig(name: "notes", type: "note-enricher")])
        #expect(set.failures.first?.code == .notADestination)
    }

    @Test func enrichReturnsItsPayload() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let plugin = try PluginLoader.load(path: try await fixtures.build("enricher"))
        #expect(plugin.kind == .enricher)
        let instance = try PluginInstance(plugin: plugin, name: "notes", configJSON: [], services: TestServices().services)
        let json = try Samples.json(Samples.issue())
        let result = await BlockingThread.run { instance.call(.enrich, issueJSON: json, context: Samples.context()) }
        let enrichments = try IssueCoding.decode([Enrichment].self, from: try #require(result.payload))
        #expect(enrichments == [Enrichment(type: "note", title: "Runbook", blocks: [.markdown("Restart it.")])])
    }
}
