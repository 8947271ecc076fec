import CanoSDK
import Collector
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
            path: try fixtures.buildExample(), configJSON: "{\"path\":\"\(fixtures.directory.file("check.jsonl"))\"}", logger: logger)
        #expect(report.passed, "\(report.text)")
        #expect(report.checks.map(\.name) == ["load", "descriptor", "create", "deliver firing", "deliver resolved", "reference", "capture", "destroy"])
        #expect(report.text.contains("returned reference \"offset:0\""), "the example returns the byte offset of the line it wrote")
    }

    @Test func webhookPassesAgainstTheCaptureServer() async throws {
        let path = try BuildProducts.plugin("CanoWebhook")
        let report = await PluginConformance.run(path: path, configJSON: #"{"url":"{{capture_url}}","hmac_secret":"x"}"#, logger: logger)
        #expect(report.passed, "\(report.text)")
        #expect(report.captured.count == 2)
        let statuses = report.captured.compactMap { try? IssueCoding.decode(CanoSDK.Issue.self, from: $0.body).status }
        #expect(statuses == [.firing, .resolved])
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
        ("wrong_major", "descriptor", "ABI 2.0"),
        ("newer_minor", "descriptor", "1.1"),
        ("unknown_kind", "descriptor", "unknown plugin kind"),
        ("too_small", "descriptor", "struct_size"),
        ("create_fails", "create", "endpoint"),
        ("garbage_status", "deliver firing", "invalid status 42"),
    ])
    func brokenPluginsFailClearly(fixture: String, failing check: String, mentioning text: String) async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let report = await PluginConformance.run(path: try fixtures.build(fixture), logger: logger)
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
        let report = await PluginConformance.run(path: try fixtures.build("enricher"), logger: logger)
        #expect(report.passed, "\(report.text)")
        #expect(report.checks.map(\.name).contains("enrich firing"))
    }

    @Test func invalidConfigJSON() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let report = await PluginConformance.run(path: try fixtures.build("valid"), configJSON: "[1,", logger: logger)
        #expect(report.checks.first?.name == "config")
        #expect(report.checks.first?.verdict == .fail)
    }
}
