import CanoSDK
import Collector
import Foundation
import Testing
import TestSupport

@Suite("Plugin loader refusals")
struct PluginLoaderTests {
    let fixtures: FixturePlugins

    init() throws { fixtures = try FixturePlugins() }

    private func refusal(_ fixture: String, defines: [String] = []) async throws -> PluginLoadError {
        let path = try await fixtures.build(fixture, defines: defines)
        do {
            let plugin = try PluginLoader.load(path: path)
            Testing.Issue.record("expected \(fixture) to be refused, but it loaded as \(plugin.name)")
            throw TestSupportError("loaded")
        } catch let error as PluginLoadError {
            #expect(error.path.hasSuffix("/\(fixture).so"), "the refusal names the file")
            return error
        }
    }

    @Test func loadsAValidPlugin() async throws {
        let plugin = try PluginLoader.load(path: try await fixtures.build("valid"))
        #expect(plugin.name == "valid")
        #expect(plugin.version == "0.0.1")
        #expect(plugin.kind == .destination)
        #expect(plugin.toolchain == nil)
        #expect(!plugin.isReentrant)
    }

    @Test func missingFile() throws {
        let path = fixtures.directory.file("absent.so")
        #expect(throws: PluginLoadError(.fileNotFound, path: path, reason: "no such file")) { try PluginLoader.load(path: path) }
    }

    @Test func notASharedObject() throws {
        let path = fixtures.directory.file("text.so")
        try "not an ELF file".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: PluginLoadError.self) { try PluginLoader.load(path: path) }
        #expect(error?.code == .dlopenFailed)
        #expect(error?.reason.contains("dlopen failed") == true)
        #expect(error?.reason.contains("ldd") == true, "suggests ldd")
    }

    @Test func missingSymbol() async throws {
        let error = try await refusal("missing_symbol")
        #expect(error.code == .missingSymbol)
        #expect(error.reason.contains("cano_plugin_entry"))
    }

    @Test func nullDescriptor() async throws {
        #expect(try await refusal("null_descriptor").code == .nullDescriptor)
    }

    @Test func descriptorTooSmall() async throws {
        let error = try await refusal("too_small")
        #expect(error.code == .descriptorTooSmall)
        #expect(error.reason.contains("16 bytes"))
        #expect(error.reason.contains("\(PluginLoader.minimumDescriptorSize)"))
    }

    @Test func wrongMajor() async throws {
        let error = try await refusal("wrong_major")
        #expect(error.code == .abiMajorMismatch)
        #expect(error.reason.contains("ABI 2.\(PluginLoader.abiMinor)"), "\(error.reason)")
        #expect(error.pluginName == nil, "nothing past the version fields is trusted")
    }

    @Test func newerMinor() async throws {
        let error = try await refusal("newer_minor")
        #expect(error.code == .abiMinorTooNew)
        #expect(error.reason.contains("ABI 1.\(PluginLoader.abiMinor + 1), newer than this host's 1.\(PluginLoader.abiMinor)"), "\(error.reason)")
    }

    @Test func unknownKind() async throws {
        let error = try await refusal("unknown_kind")
        #expect(error.code == .unknownKind)
        #expect(error.reason.contains("7"))
        #expect(error.pluginName == "unknown-kind")
    }

    @Test func destinationWithoutDeliver() async throws {
        let error = try await refusal("missing_deliver")
        #expect(error.code == .missingCallback)
        #expect(error.reason.contains("deliver"))
    }

    @Test func enricherWithoutEnrich() async throws {
        let error = try await refusal("enricher_without_enrich")
        #expect(error.code == .missingCallback)
        #expect(error.reason.contains("enrich"))
        #expect(error.reason.contains("enricher"))
    }

    @Test func badName() async throws {
        let error = try await refusal("bad_name")
        #expect(error.code == .badName)
        #expect(error.reason.contains("Bad Name"))
    }

    @Test func swiftToolchainMismatch() async throws {
        let error = try await refusal("foreign_swift")
        #expect(error.code == .toolchainMismatch)
        #expect(error.reason.contains("swift-5.9"))
        #expect(error.reason.contains(PluginExport.toolchain))
    }
}

@Suite("Plugin catalog")
struct PluginCatalogTests {
    @Test func scansDirectoriesAndPathsAndRecordsRefusals() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        _ = try await fixtures.build("valid")
        _ = try await fixtures.build("wrong_major")
        try "ignored".write(toFile: fixtures.directory.file("notes.txt"), atomically: true, encoding: .utf8)
        let other = try TemporaryDirectory(prefix: "cano-explicit")
        defer { other.remove() }
        let explicit = try await CPluginCompiler.compile(CPluginCompiler.fixture("valid.c"), into: other.path, as: "other.so",
                                                   defines: ["FIXTURE_NAME=\"other\""])

        var config = PluginSearchConfig()
        config.directories = [fixtures.directory.path]
        config.paths = [explicit, fixtures.directory.file("valid.so")]  // the second is already in the directory
        let catalog = try PluginCatalog.scan(config)

        #expect(catalog.loaded.map(\.name) == ["valid", "other"])
        #expect(catalog.refused.map(\.code) == [.abiMajorMismatch])
        #expect(catalog.entries.count == 3, "a file reached twice is examined once")
        #expect(catalog.plugin(named: "other")?.path == PluginLoaderTestsPath.real(explicit))
    }

    @Test func duplicateNamesAcrossFilesKeepTheFirst() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let first = try await fixtures.build("valid", as: "a-valid")
        let second = try await fixtures.build("valid", as: "b-valid")
        var config = PluginSearchConfig()
        config.directories = [fixtures.directory.path]
        let catalog = try PluginCatalog.scan(config)
        #expect(catalog.plugin(named: "valid")?.path == PluginLoaderTestsPath.real(first))
        let refusal = try #require(catalog.refused.first)
        #expect(refusal.code == .duplicateName)
        #expect(refusal.path == PluginLoaderTestsPath.real(second))
        #expect(refusal.reason.contains("a-valid.so"), "names the file that won")
    }

    @Test func builtInNamesCannotBeTaken() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        var catalog = PluginCatalog()
        catalog.add(try await fixtures.build("valid", as: "shadow", defines: ["FIXTURE_NAME=\"file\""]))
        #expect(catalog.loaded.isEmpty)
        #expect(catalog.refused.first?.code == .duplicateName)
        #expect(catalog.refused.first?.reason.contains("built-in") == true)
    }

    @Test func missingConfiguredDirectoryIsAnError() throws {
        var config = PluginSearchConfig()
        config.directories = [NSTemporaryDirectory() + "/cano-no-such-dir-\(UUID().uuidString)"]
        let error = #expect(throws: PluginLoadError.self) { try PluginCatalog.scan(config) }
        #expect(error?.code == .directoryNotFound)
        #expect(error?.path == config.directories[0])
    }

    @Test func defaultDirectoriesAreNextToTheBinaryThenSystemWide() {
        #expect(PluginCatalog.defaultDirectories(executablePath: "/opt/cano/bin/cano-collector")
                == ["/opt/cano/bin/plugins", "/usr/lib/cano-collector/plugins"])
    }

    @Test func missingDefaultDirectoriesAreSkipped() throws {
        // No directories configured: the defaults (next to the test binary, /usr/lib/...)
        // are most likely absent here, which must not be an error.
        let catalog = try PluginCatalog.scan(PluginSearchConfig())
        #expect(catalog.refused.allSatisfy { $0.code != .directoryNotFound })
    }
}

enum PluginLoaderTestsPath {
    static func real(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    }
}

@Suite("Plugin catalog report")
struct PluginCatalogReportTests {
    @Test func logsOneLinePerRefusalAndCountsThem() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        var catalog = PluginCatalog()
        catalog.add(try await fixtures.build("valid"))
        catalog.add(try await fixtures.build("wrong_major"))
        catalog.add(try await fixtures.build("missing_symbol"))
        let test = TestServices()
        catalog.report(to: test.logger, metrics: test.metrics)
        let refusals = test.logs.lines.filter { $0.contains("plugin refused") }
        #expect(refusals.count == 2)
        #expect(refusals.contains { $0.contains("wrong_major.so") && $0.contains("abiMajorMismatch") })
        #expect(test.metrics.gauge("cano_plugins_loaded") == 1)
        #expect(test.metrics.counter("cano_plugin_load_failures_total", ["reason": "missingSymbol"]) == 1)
    }
}
