import CanoSDK
import Collector
import Foundation
import Logging
import Testing
import TestSupport

@Suite("plugins check")
struct ConformanceTests {
    let logger = Logger(label: "check", factory: { _ in SwiftLogNoOpLogHandler() })

    init() { _ = ProcessSetup.curl }

    @Test func cExamplePasses() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let report = await PluginConformance.run(
            path: try await fixtures.buildExample(), configJSON: "{\"path\":\"\(fixtures.directory.file("check.jsonl"))\"}", logger: logger)
        #expect(report.passed, "\(report.text)")
        #expect(report.checks.map(\.name) == [
            "load", "descriptor", "exports", "curl global", "create", "deliver firing", "deliver resolved", "reference", "capture",
            "outcome mapping", "destroy", "secrets",
        ])
        #expect(report.checks.first { $0.name == "exports" }?.verdict == .pass, "the example exports only the entry: \(report.text)")
        #expect(report.text.contains("returned reference \"offset:0\""), "the example returns the byte offset of the line it wrote")
    }

    @Test func webhookPassesAgainstTheCaptureServer() async throws {
        let path = try BuildProducts.plugin("CanoWebhook")
        let report = await PluginConformance.run(path: path, configJSON: #"{"url":"{{capture_url}}","hmac_secret":"x"}"#, logger: logger)
        #expect(report.passed, "\(report.text)")
        // The sample firing and resolved, then one firing per scripted outcome.
        #expect(report.captured.count == 2 + 7)
        let statuses = report.captured.compactMap { try? IssueCoding.decode(CanoSDK.Issue.self, from: $0.body).status }
        #expect(Array(statuses.prefix(2)) == [.firing, .resolved])
    }

    @Test func webhookWithoutConfigFailsWithAdvice() async throws {
        let path = try BuildProducts.plugin("CanoWebhook")
        let report = await PluginConformance.run(path: path, logger: logger)
        #expect(!report.passed)
        let create = try #require(report.checks.first { $0.name == "create" })
        #expect(create.verdict == .fail)
        #expect(create.detail.contains("missing required key \"url\""))
        #expect(create.advice?.contains("{{capture_url}}") == true)
    }

    @Test(arguments: [
        ("missing_symbol", "load", "cano_plugin_entry"),
        ("wrong_major", "descriptor", "ABI 2.\(PluginLoader.abiMinor)"),
        ("newer_minor", "descriptor", "1.\(PluginLoader.abiMinor + 1)"),
        ("unknown_kind", "descriptor", "unknown plugin kind"),
        ("too_small", "descriptor", "struct_size"),
        ("create_fails", "create", "endpoint"),
        ("garbage_status", "deliver firing", "invalid status 42"),
    ])
    func brokenPluginsFailClearly(fixture: String, failing check: String, mentioning text: String) async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let report = await PluginConformance.run(path: try await fixtures.build(fixture), logger: logger)
        #expect(!report.passed)
        let failed = try #require(report.checks.first { $0.verdict == .fail }, "\(report.text)")
        #expect(failed.name == check)
        #expect(failed.detail.contains(text), "\(report.text)")
        #expect(failed.advice?.isEmpty == false)
        #expect(report.text.hasSuffix("result: FAIL\n"))
    }

    @Test func enricherPasses() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let report = await PluginConformance.run(path: try await fixtures.build("enricher"), logger: logger)
        #expect(report.passed, "\(report.text)")
        #expect(report.checks.map(\.name).contains("enrich firing"))
    }

    @Test func invalidConfigJSON() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let report = await PluginConformance.run(path: try await fixtures.build("valid"), configJSON: "[1,", logger: logger)
        #expect(report.checks.first?.name == "config")
        #expect(report.checks.first?.verdict == .fail)
    }

    // MARK: - issue 15 §5: config resolution

    /// `${VAR}` and `key_file` resolve as in `run`: before, the literal "${CHECK_DIR}/..."
    /// reached create() and the example refused it as not an absolute path.
    @Test func configResolvesEnvironmentAndFiles() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let plugin = try await fixtures.buildExample()
        let viaEnv = await PluginConformance.run(
            path: plugin, configJSON: #"{"path":"${CHECK_DIR}/env.jsonl"}"#, environment: ["CHECK_DIR": fixtures.directory.path], logger: logger)
        #expect(viaEnv.passed, "\(viaEnv.text)")
        #expect(FileManager.default.fileExists(atPath: fixtures.directory.file("env.jsonl")))

        let pathFile = fixtures.directory.file("path.txt")
        try (fixtures.directory.file("file.jsonl") + "\n").write(toFile: pathFile, atomically: true, encoding: .utf8)
        let viaFile = await PluginConformance.run(path: plugin, configJSON: "{\"path_file\":\"\(pathFile)\"}", environment: [:], logger: logger)
        #expect(viaFile.passed, "\(viaFile.text)")
        #expect(FileManager.default.fileExists(atPath: fixtures.directory.file("file.jsonl")))

        let unset = await PluginConformance.run(path: plugin, configJSON: #"{"path":"${CHECK_UNSET_DIR}/x"}"#, environment: [:], logger: logger)
        let config = try #require(unset.checks.first)
        #expect(config.name == "config" && config.verdict == .fail)
        #expect(config.detail.contains("CHECK_UNSET_DIR is not set"), "\(unset.text)")
    }

    // MARK: - issue 15 §5: outcome mapping

    /// The webhook maps every scripted answer right: the capture server now answers more than 200.
    @Test func webhookOutcomeMappingIsExercised() async throws {
        let path = try BuildProducts.plugin("CanoWebhook")
        let report = await PluginConformance.run(
            path: path, configJSON: #"{"url":"{{capture_url}}","hmac_secret":"x"}"#, timeout: .seconds(5), logger: logger)
        #expect(report.passed, "\(report.text)")
        let outcomes = report.checks.filter { $0.name.hasPrefix("outcome ") }
        #expect(outcomes.map(\.name) == [
            "outcome 202", "outcome 429 Retry-After: 7", "outcome 429 Retry-After: HTTP date (+30 s)", "outcome 500", "outcome 400",
            "outcome hang", "outcome connection reset",
        ])
        func check(_ name: String) -> ConformanceReport.Check? { outcomes.first { $0.name == "outcome " + name } }
        #expect(check("202")?.verdict == .pass)
        #expect(check("429 Retry-After: 7")?.verdict == .pass)
        #expect(check("429 Retry-After: 7")?.detail.contains("RETRY, retry after 7000 ms") == true)
        #expect(check("500")?.detail.hasPrefix("returned RETRY") == true)
        #expect(check("400")?.detail.hasPrefix("returned PERMANENT") == true)
        #expect(check("hang")?.verdict == .pass, "\(report.text)")
        #expect(check("connection reset")?.verdict == .pass, "\(report.text)")
        // CanoSDK reads both forms (HTTPDate), so the Webhook plugin honours the date too.
        #expect(check("429 Retry-After: HTTP date (+30 s)")?.verdict == .pass, "\(report.text)")
        #expect(report.captured.count >= 2 + 7)
    }

    /// A plugin that returns OK whatever the server says fails every mapping but 2xx.
    @Test func wrongOutcomeMappingFails() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let report = await PluginConformance.run(
            path: try await fixtures.build("http_always_ok"), configJSON: #"{"url":"{{capture_url}}"}"#, timeout: .seconds(1), logger: logger)
        #expect(!report.passed)
        let verdicts = Dictionary(uniqueKeysWithValues: report.checks.filter { $0.name.hasPrefix("outcome ") }.map { ($0.name, $0) })
        #expect(verdicts["outcome 202"]?.verdict == .pass, "\(report.text)")
        for name in ["429 Retry-After: 7", "500", "hang", "connection reset"] {
            #expect(verdicts["outcome " + name]?.verdict == .fail, "\(name): \(report.text)")
            #expect(verdicts["outcome " + name]?.detail.contains("returned OK") == true && verdicts["outcome " + name]?.detail.contains("expected RETRY") == true)
        }
        #expect(verdicts["outcome 400"]?.verdict == .fail)
        #expect(verdicts["outcome 400"]?.detail.contains("expected PERMANENT") == true)
        #expect(verdicts["outcome 400"]?.advice?.isEmpty == false)
    }

    // MARK: - issue 15 §5: what check flags

    @Test func anEchoedSecretIsFlaggedAndNotShown() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let secret = "tok-\(UInt64.random(in: 1_000_000...9_999_999))"
        let report = await PluginConformance.run(
            path: try await fixtures.build("echoes_secret"), configJSON: "{\"api_token\":\"\(secret)\",\"channel\":\"ops\"}", logger: logger)
        #expect(!report.passed)
        let secrets = try #require(report.checks.first { $0.name == "secrets" })
        #expect(secrets.verdict == .fail, "\(report.text)")
        #expect(secrets.detail.contains("deliver firing message") && secrets.detail.contains("log"))
        #expect(!report.text.contains(secret))
    }

    @Test func aQuietPluginPassesTheSecretCheck() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let report = await PluginConformance.run(path: try await fixtures.build("valid"), configJSON: #"{"api_token":"tok-123456"}"#, logger: logger)
        #expect(report.checks.first { $0.name == "secrets" }?.verdict == .pass, "\(report.text)")
    }

    @Test func extraExportsAreFlagged() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let report = await PluginConformance.run(path: try await fixtures.build("extra_exports"), logger: logger)
        let exports = try #require(report.checks.first { $0.name == "exports" })
        #expect(exports.verdict == (DynamicSymbolsProbe.nmAvailable ? .warn : .info), "\(report.text)")
        if DynamicSymbolsProbe.nmAvailable { #expect(exports.detail.contains("jsonl_helper_parse")) }
    }

    @Test func curlGlobalImportsFail() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let report = await PluginConformance.run(path: try await fixtures.build("curl_global"), logger: logger)
        let curl = try #require(report.checks.first { $0.name == "curl global" })
        guard DynamicSymbolsProbe.nmAvailable else { return }
        #expect(curl.verdict == .fail, "\(report.text)")
        #expect(curl.detail.contains("curl_global_init") && curl.detail.contains("curl_global_cleanup"))
        #expect(!report.passed)
    }

    /// The webhook links curl_global_init only through CanoSDK: not a call, not a FAIL.
    @Test func webhookCurlImportIsOnlyTheSDKs() async throws {
        let report = await PluginConformance.run(
            path: try BuildProducts.plugin("CanoWebhook"), configJSON: #"{"url":"{{capture_url}}","hmac_secret":"x"}"#, logger: logger)
        #expect(report.checks.first { $0.name == "curl global" }?.verdict != .fail, "\(report.text)")
    }

    @Test func aSlowCreateFails() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let report = await PluginConformance.run(path: try await fixtures.build("slow_calls", defines: ["CREATE_MS=1300"]), logger: logger)
        let create = try #require(report.checks.first { $0.name == "create" })
        #expect(create.verdict == .fail, "\(report.text)")
        #expect(create.detail.contains("VALIDATE_ONLY took"), "\(create.detail)")
        #expect(create.advice?.contains("slow I/O") == true)
        let quick = await PluginConformance.run(path: try await fixtures.build("slow_calls", as: "quick", defines: ["CREATE_MS=0"]), logger: logger)
        #expect(quick.checks.first { $0.name == "create" }?.verdict == .pass)
    }
}

enum DynamicSymbolsProbe {
    static var nmAvailable: Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/nm")
        }
    }
}
