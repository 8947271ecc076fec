import Foundation
import CanoSDK
import Collector
import Logging
import Testing
import TestSupport

/// `libCanoPagerDuty.so` exactly as shipped, through the host's loader and `plugins check`.
@Suite struct PagerDutyPluginCheckTests {
    let logger = Logger(label: "check", factory: { _ in SwiftLogNoOpLogHandler() })

    init() { _ = curlSetup }

    @Test func descriptor() throws {
        let plugin = try PluginLoader.load(path: try BuildProducts.plugin("CanoPagerDuty"))
        #expect(plugin.name == "pagerduty")
        #expect(plugin.kind == .destination)
        #expect(plugin.toolchain == PluginExport.toolchain)
    }

    /// The whole conformance run passes, with the key read from a file the way
    /// `routing_key_file` works in `run`, and the key never shows in the report.
    @Test func pluginsCheckPasses() async throws {
        let directory = try TemporaryDirectory(prefix: "cano-pd-check")
        defer { directory.remove() }
        let keyFile = directory.file("routing-key")
        try (testRoutingKey + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let report = await PluginConformance.run(
            path: try BuildProducts.plugin("CanoPagerDuty"),
            configJSON: #"{"url":"{{capture_url}}","routing_key_file":"\#(keyFile)"}"#, timeout: .seconds(5), logger: logger)
        #expect(report.passed, "\(report.text)")
        for name in ["create", "deliver firing", "deliver resolved", "secrets", "outcome 202", "outcome 429 Retry-After: 7", "outcome 500", "outcome 400"] {
            #expect(report.checks.first { $0.name == name }?.verdict == .pass, "\(name): \(report.text)")
        }
        #expect(report.checks.first { $0.name == "outcome 429 Retry-After: 7" }?.detail.contains("retry after 7000 ms") == true)
        #expect(!report.text.contains(testRoutingKey))
        // What reached the capture server is PagerDuty's event, not the Issue.
        let first = try #require(report.captured.first)
        #expect(first.target.hasSuffix("/v2/enqueue"))
        let event = try IssueCoding.decode(JSONValue.self, from: first.body)
        #expect(event["event_action"]?.stringValue == "trigger")
        #expect(event["routing_key"]?.stringValue == testRoutingKey)
        let resolve = try IssueCoding.decode(JSONValue.self, from: report.captured[1].body)
        #expect(resolve["event_action"]?.stringValue == "resolve")
        #expect(resolve["dedup_key"] == event["dedup_key"], "the resolve closes what the firing opened")
    }

    @Test func checkWithoutAKeyFailsNamingIt() async throws {
        let report = await PluginConformance.run(path: try BuildProducts.plugin("CanoPagerDuty"), configJSON: #"{"url":"{{capture_url}}"}"#, logger: logger)
        #expect(!report.passed)
        let create = try #require(report.checks.first { $0.name == "create" })
        #expect(create.verdict == .fail)
        #expect(create.detail.contains("missing required key \"routing_key\""), "\(report.text)")
    }
}
