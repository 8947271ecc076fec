@testable import Collector
import CanoSDK
import Logging
import TestSupport
import Testing
#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation

/// Issue #19: a secret fed through any error path reaches no output. Each row is a way
/// a secret has escaped (or could): the config file's own errors as `validate` and `run`
/// print them, intake 400 bodies, log lines, `/metrics`, and a plugin result that quotes
/// what a server echoed, as `plugins check` prints it.
@Suite("secret leaks")
struct SecretLeakTests {
    /// Config files that fail to load, each with the secret somewhere an error once quoted.
    enum BrokenConfig: String, CaseIterable, Sendable {
        /// Yams' duplicate-key error printed the whole mapping under "Context:".
        case duplicateKey
        /// A scanner error on the line that holds the token.
        case badYAMLOnSecretLine
        /// A secret environment variable substituted into a key that echoes bad values.
        case secretEnvironmentVariableInWrongKey
        /// A mounted secret file read into a key that echoes bad values.
        case secretFileInWrongKey

        func yaml(secret: String) -> String {
            let destinations = """
                destinations:
                  - name: out
                    type: file
                    config: {path: "-"}
                default_destinations: [out]

                """
            switch self {
            case .duplicateKey:
                return """
                    destinations:
                      - name: team-slack
                        type: slack
                        config: {token: "\(secret)", channel: "#alerts"}
                        name: again
                    default_destinations: [team-slack]

                    """
            case .badYAMLOnSecretLine:
                return destinations + "server:\n  auth:\n    bearer_token: \"\(secret)\n  port: [\n"
            case .secretEnvironmentVariableInWrongKey:
                return destinations + "server:\n  port: ${CANO_LEAK_TEST_TOKEN}\n"
            case .secretFileInWrongKey:
                return destinations + "server:\n  port_file: secret-port\n"
            }
        }
    }

    @Test(arguments: BrokenConfig.allCases)
    func configErrorsNeverPrintTheSecret(_ row: BrokenConfig) async throws {
        let secret = "s3cr3t-\(row.rawValue)-\(UUID().uuidString.prefix(8))"
        let directory = try TemporaryDirectory(prefix: "cano-leak")
        defer { directory.remove() }
        try Data(row.yaml(secret: secret).utf8).write(to: URL(fileURLWithPath: directory.file("config.yaml")))
        try Data((secret + "\n").utf8).write(to: URL(fileURLWithPath: directory.file("secret-port")))
        let environment = ["CANO_LEAK_TEST_TOKEN": secret]

        let validate = try await CollectorCLI.run(["validate", "--config", directory.file("config.yaml")], environment: environment)
        let run = try await CollectorCLI.run(["run", "--config", directory.file("config.yaml")], environment: environment)
        #expect(validate.status == 1, "\(validate.output)")
        #expect(run.status == 2, "\(run.output)")
        // Still useful: the problem is named with its place.
        #expect(validate.output.contains("config.yaml:"), "\(validate.output)")
        if row == .duplicateKey { #expect(validate.output.contains("\"name\""), "\(validate.output)") }

        var surfaces = [LeakSurface("validate output", validate.output), LeakSurface("run output", run.output)]
        do {
            _ = try ConfigLoader.parse(row.yaml(secret: secret), file: directory.file("config.yaml"), environment: environment)
        } catch {
            surfaces.append(LeakSurface("ConfigError.description", SecretScrubber.shared.scrub(error.description)))
        }
        assertNoSecret(secret, in: surfaces)
    }

    /// Every kind of secret a config holds is registered as soon as it is parsed.
    @Test func theLoaderRegistersEverySecretKind() throws {
        let tag = UUID().uuidString.prefix(8)
        let values = [
            "bearer": "intake-bearer-\(tag)", "inline": "xoxb-inline-\(tag)", "hmac": "hmac-key-\(tag)",
            "header": "header-token-\(tag)", "password": "url-password-\(tag)", "query": "query-sig-\(tag)",
            "file": "file-secret-\(tag)", "env": "env-secret-\(tag)", "enricher": "enricher-key-\(tag)",
        ]
        let directory = try TemporaryDirectory(prefix: "cano-leak")
        defer { directory.remove() }
        try Data(values["file"]!.utf8).write(to: URL(fileURLWithPath: directory.file("channel")))
        let yaml = """
            cluster: ${CLUSTER_SECRET}
            server:
              auth: {bearer_token: "\(values["bearer"]!)"}
            destinations:
              - name: slack
                type: slack
                config: {token: "\(values["inline"]!)", channel_file: channel}
              - name: hook
                type: webhook
                config:
                  url: "https://bot:\(values["password"]!)@hooks.example.com/x?sig=\(values["query"]!)&team=sre"
                  hmac_secret: "\(values["hmac"]!)"
                  headers: {Authorization: "Bearer \(values["header"]!)"}
            enrichment:
              plugins:
                - name: lookup
                  type: lookup
                  config: {api_key: "\(values["enricher"]!)"}
            default_destinations: [slack]
            """
        let config = try ConfigLoader.parse(yaml, file: directory.file("config.yaml"), environment: ["CLUSTER_SECRET": values["env"]!])
        #expect(config.destinations.count == 2)
        for (kind, secret) in values {
            let scrubbed = SecretScrubber.shared.scrub("before \(secret) after")
            #expect(scrubbed == "before <redacted> after", "\(kind) secret was not registered")
        }
        // Ordinary values stay readable.
        #expect(SecretScrubber.shared.scrub("team=sre hooks.example.com slack") == "team=sre hooks.example.com slack")
    }

    /// The intake's 400 body and log lines, with the intake token echoed back as a value.
    @Test func intakeRejectionsNeverEchoTheSecret() async throws {
        let secret = "intake-token-\(UUID().uuidString.prefix(8))"
        let config = try ConfigLoader.parse("""
            server:
              auth: {bearer_token: "\(secret)"}
            destinations: [{name: out, type: file, config: {path: "-"}}]
            default_destinations: [out]
            """)
        let logs = LogCapture()
        let logger = Logger(label: "test") { JSONLogHandler(label: $0, level: .debug, output: .capture(logs)) }
        let intake = AlertmanagerIntake(config: config, sink: RecordingSink(), metrics: Metrics(), logger: logger)
        let body = #"{"alerts":[{"status":"\#(secret)","labels":{},"startsAt":"\#(secret)"}]}"#
        let response = await intake.handle(body: Array(body.utf8), authorization: "Bearer \(secret)")
        #expect(response.status == 400)
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(text.contains("<redacted>"), "\(text)")
        assertNoSecret(secret, in: [LeakSurface("400 body", text)] + logs.lines.map { LeakSurface("log line", $0) })
    }

    /// A log call and a metric label that carry a registered secret, by whatever route.
    @Test func logLinesAndMetricsAreScrubbed() throws {
        let secret = "log-secret-\(UUID().uuidString.prefix(8))"
        SecretScrubber.shared.register([secret])
        let logs = LogCapture()
        let logger = Logger(label: "test") { JSONLogHandler(label: $0, level: .debug, output: .capture(logs)) }
        logger.error("delivery failed: server said \(secret)", metadata: ["reason": .string("echo \(secret)"), "nested": ["a": .string(secret)]])
        let metrics = Metrics()
        metrics.increment("cano_test_total", ["reason": "server said \(secret)"])
        #expect(logs.lines.count == 1 && logs.lines[0].contains("<redacted>"))
        assertNoSecret(secret, in: logs.lines.map { LeakSurface("log line", $0) } + [LeakSurface("/metrics", metrics.render())])
    }

    /// A Slack API (or a proxy before it) that quotes the request's Authorization header in
    /// its error: `plugins check` prints the plugin's result, which must not carry the token.
    @Test func aPluginResultThatEchoesTheTokenIsRedacted() async throws {
        let token = "xoxb-9999-8888-ECHOEDtoken\(UUID().uuidString.prefix(6))"
        let slack = try await SlackDouble.start(token: token)
        defer { slack.stop() }
        slack.inject(.echoCredentials, method: "chat.postMessage", times: 4)
        let config = ##"{"token":"\##(token)","channel":"#alerts","api_url":"\##(slack.apiURL)"}"##
        let check = try await CollectorCLI.run(["plugins", "check", try BuildProducts.plugin("CanoSlack"), "--config-json", config, "--timeout", "5"])
        #expect(check.status == 1, "the echoed auth error is a FAIL: \(check.output)")
        #expect(check.output.contains("invalid_auth"), "the error itself is still reported: \(check.output)")
        assertNoSecret(token, in: [LeakSurface("plugins check output", check.output)])
    }
}
