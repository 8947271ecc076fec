import Testing
import TestSupport
#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation

/// `cano-collector validate` loads the plugins and creates (then destroys) every
/// destination, reporting each failure by destination name; config cross-checks say where.
@Suite struct ValidateCommandTests {
    func validate(_ yaml: String, in dir: TemporaryDirectory) async throws -> (status: Int32, output: String) {
        let path = dir.file("config.yaml")
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return try await CollectorCLI.run(["validate", "--config", path])
    }

    @Test func dryRunCatchesWhatOnlyCreateKnows() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-validate")
        defer { dir.remove() }
        let noEntry = try await CPluginCompiler.compile(CPluginCompiler.fixture("missing_symbol.c"), into: dir.path, as: "noentry.so")
        let yaml = """
            plugins:
              paths: ["\(try BuildProducts.plugin("CanoWebhook"))", "\(try BuildProducts.plugin("CanoSlack"))", "\(noEntry)"]
            destinations:
              - name: hook
                type: webhook
                config: {url: "http://127.0.0.1:1/x", colour: blue}
              - name: typo
                type: slak
                config: {token: xoxb-1}
              - name: nochannel
                type: slack
                config: {token: xoxb-1}
            default_destinations: [hook, typo, nochannel]
            """
        let result = try await validate(yaml, in: dir)
        #expect(result.status == 1, "\(result.output)")
        #expect(!result.output.contains(": OK ("), "\(result.output)")  // not just "OK": the temporary path may hold it
        #expect(result.output.contains("destination \"hook\" (type webhook)") && result.output.contains("colour"), "\(result.output)")
        #expect(result.output.contains("destination \"typo\" (type slak): unknown destination type") && result.output.contains("did you mean slack?"),
                "\(result.output)")
        #expect(result.output.contains("destination \"nochannel\" (type slack)") && result.output.contains("channel"), "\(result.output)")
        #expect(result.output.contains("noentry.so"), "\(result.output)")
        // Each failed create says where its destination is, like the loader's problems.
        #expect(result.output.contains("5:11 destinations[0].type: destination \"hook\""), "\(result.output)")
        #expect(result.output.contains("8:11 destinations[1].type: destination \"typo\""), "\(result.output)")
        #expect(result.output.contains("11:11 destinations[2].type: destination \"nochannel\""), "\(result.output)")
    }

    /// `validate` creates with CANO_CREATE_VALIDATE_ONLY, in process and through the
    /// plugin-host child alike: Slack skips auth.test, so a config check works offline
    /// (CI), and it makes no call to Slack at all.
    @Test func dryRunMakesNoCredentialCheck() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-validate")
        defer { dir.remove() }
        let slack = try await SlackDouble.start(token: "xoxb-the-right-one")
        defer { slack.stop() }
        let yaml = """
            plugins:
              paths: ["\(try BuildProducts.plugin("CanoSlack"))"]
            destinations:
              - name: chat
                type: slack
                config: {token: xoxb-a-wrong-one, channel: "#alerts", api_url: "\(slack.apiURL)"}
              - name: chat-isolated
                type: slack
                isolation: process
                config: {token: xoxb-a-wrong-one, channel: "#alerts", api_url: "\(slack.apiURL)"}
            default_destinations: [chat, chat-isolated]
            """
        let result = try await validate(yaml, in: dir)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains(": OK ("), "\(result.output)")
        #expect(slack.calls.isEmpty, "validate called Slack: \(slack.calls.map(\.method))")
    }

    @Test func missingRouteDestinationAndDuplicateNamesHaveLineAndColumn() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-validate")
        defer { dir.remove() }
        let yaml = """
            destinations:
              - name: out
                type: file
              - name: out
                type: file
            routes:
              - matchers: ['severity="HIGH"']
                destinations: [out, nowhere]
            """
        let result = try await validate(yaml, in: dir)
        #expect(result.status == 1)
        #expect(result.output.contains("4:11 destinations[1].name: destination name \"out\" is used twice"), "\(result.output)")
        #expect(result.output.contains("8:25 routes[0].destinations: unknown destination \"nowhere\""), "\(result.output)")
    }
}
