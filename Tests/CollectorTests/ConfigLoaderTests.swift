@testable import Collector
import CanoSDK
import Testing
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

@Suite struct ConfigLoaderTests {
    static let minimal = """
        destinations:
          - name: local
            type: file
            config: {path: "-"}
        default_destinations: [local]
        """

    @Test func loadsMinimalConfigWithDefaults() throws {
        let config = try ConfigLoader.parse(Self.minimal)
        #expect(config.destinations == [DestinationConfig(name: "local", type: "file", config: .object(["path": .string("-")]))])
        #expect(config.defaultDestinations == ["local"])
        #expect(config.server.port == 9099)
        #expect(config.alertmanager.severityMapping["critical"] == .high)
    }

    @Test func reportsEveryProblemWithLocationAndPath() {
        let yaml = """
            server:
              prot: 9099
              port: banana
            destinations:
              - name: a
                type: webhook
                delivery: {timeout: soon, max_attempts: 0}
              - name: a
                type: file
            routes:
              - matchers: ['severity=~"(HIGH"']
                destinations: [nowhere]
            default_destinations: [a]
            """
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml, file: "c.yaml") }
        let problems = error?.problems.map(\.description) ?? []
        #expect(problems.contains { $0.hasPrefix("2:3 server.prot: unknown key \"prot\"; did you mean \"port\"?") })
        #expect(problems.contains { $0.hasPrefix("3:9 server.port: expected a whole number") })
        #expect(problems.contains { $0.contains("destinations[0].delivery.timeout: expected a duration") })
        #expect(problems.contains { $0.contains("destinations[0].delivery.max_attempts: expected a whole number from 1") })
        #expect(problems.contains { $0.contains("destination name \"a\" is used twice") })
        #expect(problems.contains { $0.contains("invalid matcher 'severity=~\"(HIGH\"'") })
        #expect(problems.contains { $0.contains("routes[0].destinations: unknown destination \"nowhere\"") })
        #expect(problems.count == 7)
        #expect(error?.description.contains("c.yaml:2:3 server.prot") == true)
    }

    @Test func substitutesEnvironmentAndReadsSecretFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cano-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "s3cret-token\n".write(to: dir.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        let yaml = """
            cluster: ${CLUSTER}
            server:
              port: ${PORT:-9100}
              auth: {bearer_token_file: token}
            destinations:
              - name: hook
                type: webhook
                config: {url: "${HOOK_URL}", hmac_secret_file: token, retries: 3, price: "$$5"}
            default_destinations: [hook]
            """
        let path = dir.appendingPathComponent("config.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(path: path, environment: ["CLUSTER": "prod", "HOOK_URL": "https://h.example/k"])
        #expect(config.cluster == "prod")
        #expect(config.server.port == 9100)
        #expect(config.server.auth == .bearer(Secret("s3cret-token")))
        // A destination's `*_file` is read when it is created (DestinationFactory), once
        // its plugin's path_keys are known; resolved as the factory does:
        #expect(try YAMLReader.resolveFiles(in: config.destinations[0].config).config == .object([
            "url": .string("https://h.example/k"), "hmac_secret": .string("s3cret-token"),
            "retries": .number(3), "price": .string("$5"),
        ]))
    }

    @Test func unsetVariableAndMissingSecretFileAreNamed() {
        let yaml = """
            cluster: ${NOPE}
            server: {auth: {bearer_token_file: /nonexistent/token}}
            destinations: [{name: l, type: file}]
            default_destinations: [l]
            """
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml) }
        let text = error?.description ?? ""
        #expect(text.contains("1:10 cluster: environment variable NOPE is not set"))
        #expect(text.contains("server.auth.bearer_token_file: cannot read file \"/nonexistent/token\" for \"bearer_token\": no such file"), "\(text)")
        #expect(!text.contains("NSCocoaErrorDomain"), "words, not Foundation's error dump")
    }

    /// Noise-control values that would silently do something else are refused, with where
    /// (found by a newcomer: a zero storm window turned the guard off, and group_by took
    /// empty and repeated names).
    @Test func noiseControlValuesThatWouldMisleadAreRefused() {
        let yaml = """
            destinations:
              - {name: l, type: file, storm: {threshold: 2, window: 0s}}
            routes:
              - {matchers: ['a="b"'], destinations: [l], group_by: [namespace, "", namespace]}
            default_destinations: [l]
            """
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml) }
        let text = error?.description ?? ""
        #expect(text.contains("2:57") && text.contains("storm.window must be positive"), "\(text)")
        #expect(text.contains("group_by: a label name is empty"), "\(text)")
        #expect(text.contains("group_by: \"namespace\" is listed twice"), "\(text)")
    }

    /// The admin credential that writes silences cannot be the intake's, which every
    /// Alertmanager that sends alerts holds.
    @Test func theAdminTokenMustDifferFromTheIntakeCredential() {
        let yaml = """
            server: {auth: {bearer_token: same-secret-1}, admin_token: same-secret-1}
            destinations: [{name: l, type: file}]
            default_destinations: [l]
            """
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml) }
        let text = error?.description ?? ""
        #expect(text.contains("server.admin_token must differ from the intake's credential"), "\(text)")
        #expect(!text.contains("same-secret-1"), "the secret is not echoed")
    }

    @Test func invalidYAMLNamesTheLine() {
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.parse("destinations:\n  - name: [unclosed\n") }
        #expect(error?.problems.first?.message.hasPrefix("not valid YAML") == true)
        #expect(error?.problems.first?.location.isEmpty == false)
    }

    @Test func secretsAreRedactedInDescriptions() {
        let auth = IntakeAuth.bearer(Secret("hunter2"))
        #expect(!"\(auth)".contains("hunter2"))
        #expect(!String(reflecting: auth).contains("hunter2"))
    }

    @Test func parsesDurations() {
        #expect(YAMLReader.parseDuration("500ms") == .milliseconds(500))
        #expect(YAMLReader.parseDuration("1h30m") == .seconds(5400))
        #expect(YAMLReader.parseDuration("2d") == .seconds(172_800))
        #expect(YAMLReader.parseDuration("10") == nil)
        #expect(YAMLReader.parseDuration("s") == nil)
        // Alertmanager's units (found by a newcomer: `1w` was refused).
        #expect(YAMLReader.parseDuration("1w") == .seconds(604_800))
        #expect(YAMLReader.parseDuration("1y2w") == .seconds(31_536_000 + 1_209_600))
        // A huge value is refused; it trapped the process converting to Int64 (the same
        // parser reads a silence's duration from the API).
        #expect(YAMLReader.parseDuration("99999999999999d") == nil)
        #expect(YAMLReader.parseDuration("10001y") == nil)
    }
}
