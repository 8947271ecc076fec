import CanoSDK
import Collector
import Foundation
import Testing
import TestSupport

/// The example C plugin, compiled by the system C compiler and driven through the real
/// loader, factory and host services: the ABI is language-neutral.
@Suite("C example plugin")
struct CExamplePluginTests {
    @Test func deliversFiringAndResolvedWithReferenceAndHostServices() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let path = try await fixtures.buildExample()
        var catalog = PluginCatalog()
        catalog.add(path)
        let plugin = try #require(catalog.plugin(named: "jsonl-c"))
        #expect(plugin.version == "1.0.0")

        let test = TestServices()
        let output = fixtures.directory.file("issues.jsonl")
        let factory = DestinationFactory(catalog: catalog, services: test.services)
        let set = factory.make([DestinationConfig(name: "audit", type: "jsonl-c", config: .object(["path": .string(output)]))])
        #expect(set.failures.isEmpty)
        let destination = try #require(set.ready["audit"])

        let firing = try Samples.json(Samples.issue(.firing))
        let first = await destination.deliverOnThread(firing, Samples.context(key: "k-firing"))
        #expect(first.status == .delivered)
        #expect(first.message == "appended")
        let reference = try #require(first.reference)
        #expect(String(decoding: reference, as: UTF8.self) == "offset:0")

        let resolved = try Samples.json(Samples.issue(.resolved))
        let second = await destination.deliverOnThread(resolved, Samples.context(key: "k-resolved", reference: reference))
        #expect(second.status == .delivered)
        #expect(second.reference == reference, "the plugin got the reference back and echoed it")
        #expect(second.message == "appended")

        // What it wrote: the exact Issue JSON, one per line.
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map { Array($0.utf8) }
        #expect(lines == [firing, resolved])

        // Host services: its counter is exported with the destination label; its log line
        // carries destination/plugin.
        #expect(test.metrics.counter("cano_plugin_lines_written_total", ["destination": "audit"]) == 2)
        let ready = try #require(test.logs.lines.first { $0.contains("jsonl-c destination ready") })
        #expect(ready.contains("\"destination\":\"audit\""))
        #expect(ready.contains("\"plugin\":\"jsonl-c\""))
    }

    @Test func exampleCompilesCleanlyAsC99WithWarningsAsErrors() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try await CPluginCompiler.compile(CPluginCompiler.examplePlugin, into: directory.path, as: "strict.so",
                                        flags: ["-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror"])
    }

    @Test func createErrorIsReportedAndOthersKeepWorking() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        var catalog = PluginCatalog()
        catalog.add(try await fixtures.buildExample())
        let test = TestServices()
        let set = DestinationFactory(catalog: catalog, services: test.services).make([
            DestinationConfig(name: "broken", type: "jsonl-c", config: .object([:])),
            DestinationConfig(name: "stdout", type: "file", config: .object(["path": .string("-")])),
        ])
        #expect(set.ready.keys.sorted() == ["stdout"])
        let failure = try #require(set.failures.first)
        #expect(failure.code == .createFailed)
        #expect(failure.destination == "broken")
        #expect(failure.reason.contains("missing required key \"path\""))
        #expect(test.logs.lines.filter { $0.contains("destination not created") && $0.contains("\"destination\":\"broken\"") }.count == 1)
    }
}
