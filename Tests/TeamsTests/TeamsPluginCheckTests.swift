import Foundation
import CanoSDK
import Collector
import Logging
import Testing
import TestSupport
import TeamsDestination

/// `libCanoTeams.so` exactly as shipped, through the host's loader and `plugins check`.
@Suite struct TeamsPluginCheckTests {
    let logger = Logger(label: "check", factory: { _ in SwiftLogNoOpLogHandler() })

    init() { _ = curlSetup }

    @Test func descriptor() throws {
        let plugin = try PluginLoader.load(path: try BuildProducts.plugin("CanoTeams"))
        #expect(plugin.name == "msteams")
        #expect(plugin.kind == .destination)
        #expect(plugin.toolchain == PluginExport.toolchain)
    }

    /// The whole conformance run passes with a Workflows-shaped URL on the capture server,
    /// and the URL's signature never shows in the report. (`url_file` is covered end to end.)
    @Test func pluginsCheckPasses() async throws {
        let report = await PluginConformance.run(
            path: try BuildProducts.plugin("CanoTeams"),
            configJSON: #"{"url":"{{capture_url}}\#(TeamsDouble.samplePath)","timeout":"5s"}"#, timeout: .seconds(5), logger: logger)
        #expect(report.passed, "\(report.text)")
        for name in ["create", "deliver firing", "deliver resolved", "outcome 202", "outcome 429 Retry-After: 7", "outcome 500", "outcome 400"] {
            #expect(report.checks.first { $0.name == name }?.verdict == .pass, "\(name): \(report.text)")
        }
        #expect(!report.text.contains(TeamsDouble.sampleSignature))
        // What reached the capture server is the Adaptive Card message, not the Issue.
        let first = try #require(report.captured.first)
        #expect(first.target.hasSuffix("sig=" + TeamsDouble.sampleSignature))
        let message = try IssueCoding.decode(JSONValue.self, from: first.body)
        #expect(message["type"]?.stringValue == "message")
        #expect(message["attachments"]?.arrayValue?.first?["content"]?["type"]?.stringValue == "AdaptiveCard")
        try await AdaptiveCardSchema.validate(messages: Array(report.captured.prefix(2).map(\.body)))
    }

    @Test func checkWithALegacyConnectorURLFailsSayingWhy() async throws {
        let report = await PluginConformance.run(
            path: try BuildProducts.plugin("CanoTeams"),
            configJSON: #"{"url":"https://contoso.webhook.office.com/webhookb2/a@b/IncomingWebhook/LegacySecret123/c"}"#, logger: logger)
        #expect(!report.passed)
        let create = try #require(report.checks.first { $0.name == "create" })
        #expect(create.verdict == .fail)
        #expect(create.detail.contains("Office 365 connector"), "\(report.text)")
        #expect(!report.text.contains("LegacySecret123"))
    }
}
