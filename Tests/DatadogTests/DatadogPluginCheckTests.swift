import Foundation
import CanoSDK
import Collector
import Logging
import Testing
import TestSupport

/// `libCanoDatadog.so` exactly as shipped, through the host's loader and `plugins check`.
@Suite struct DatadogPluginCheckTests {
    let logger = Logger(label: "check", factory: { _ in SwiftLogNoOpLogHandler() })

    init() { _ = curlSetup }

    @Test func descriptor() throws {
        let plugin = try PluginLoader.load(path: try BuildProducts.plugin("CanoDatadog"))
        #expect(plugin.name == "datadog")
        #expect(plugin.kind == .destination)
        #expect(plugin.toolchain == PluginExport.toolchain)
    }

    /// The whole conformance run passes, with the key read from a file the way
    /// `api_key_file` works in `run`, and the key never shows in the report.
    @Test func pluginsCheckPasses() async throws {
        let directory = try TemporaryDirectory(prefix: "cano-dd-check")
        defer { directory.remove() }
        let keyFile = directory.file("api-key")
        try (testAPIKey + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let report = await PluginConformance.run(
            path: try BuildProducts.plugin("CanoDatadog"),
            configJSON: #"{"api_url":"{{capture_url}}","api_key_file":"\#(keyFile)"}"#, timeout: .seconds(5), logger: logger)
        #expect(report.passed, "\(report.text)")
        for name in ["create", "deliver firing", "deliver resolved", "secrets", "outcome 202", "outcome 429 Retry-After: 7", "outcome 500", "outcome 400"] {
            #expect(report.checks.first { $0.name == name }?.verdict == .pass, "\(name): \(report.text)")
        }
        #expect(!report.text.contains(testAPIKey))
        // The create without CANO_CREATE_VALIDATE_ONLY checked the key once (the capture
        // server's "ok" is no answer about the key, so create only warned); the timed
        // validate-only create made no call.
        let checks = report.captured.filter { $0.target.hasSuffix("/api/v1/validate") }
        #expect(checks.count == 1, "\(report.captured.map(\.target))")
        #expect(checks.first?.method == "GET")
        #expect(checks.first?.header("DD-API-KEY") == testAPIKey)
        // What the deliveries sent is Datadog's v2 event, the key in the header.
        let events = report.captured.filter { $0.target.hasSuffix("/api/v2/events") }
        try #require(events.count >= 2)
        let first = events[0]
        #expect(first.header("DD-API-KEY") == testAPIKey)
        let firing = try IssueCoding.decode(JSONValue.self, from: first.body)
        let resolve = try IssueCoding.decode(JSONValue.self, from: events[1].body)
        #expect(firing["data"]?["attributes"]?["attributes"]?["status"]?.stringValue != "ok")
        #expect(resolve["data"]?["attributes"]?["attributes"]?["status"]?.stringValue == "ok")
        let key = firing["data"]?["attributes"]?["aggregation_key"]
        #expect(key != nil && key == resolve["data"]?["attributes"]?["aggregation_key"], "the resolve lines up with the firing")
    }

    @Test func checkWithoutAKeyFailsNamingIt() async throws {
        let report = await PluginConformance.run(path: try BuildProducts.plugin("CanoDatadog"), configJSON: #"{"api_url":"{{capture_url}}"}"#, logger: logger)
        #expect(!report.passed)
        let create = try #require(report.checks.first { $0.name == "create" })
        #expect(create.verdict == .fail)
        #expect(create.detail.contains("missing required key \"api_key\""), "\(report.text)")
    }
}
