@testable import Collector
import CanoSDK
import Testing
import TestSupport
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Secrets from `*_file` and `${VAR}` lose trailing whitespace and line ends in one place
/// (YAMLReader.secret), for every plugin config and the intake's auth.
@Suite struct SecretTrimmingTests {
    @Test func tokenFileEndingInCRLFAndEnvTokenEndingInNewlineReachThePluginTrimmed() throws {
        let dir = try TemporaryDirectory(prefix: "cano-trim")
        defer { dir.remove() }
        try "xoxb-file-token\r\n".write(toFile: dir.file("slack-token"), atomically: true, encoding: .utf8)
        try "intake-secret \n".write(toFile: dir.file("bearer"), atomically: true, encoding: .utf8)
        let yaml = """
            server: {auth: {bearer_token_file: \(dir.file("bearer"))}}
            destinations:
              - name: from-file
                type: slack
                config: {token_file: \(dir.file("slack-token")), channel: "#alerts"}
              - name: from-env
                type: slack
                config: {token: "${SLACK_BOT_TOKEN}", channel: "#alerts"}
            default_destinations: [from-file, from-env]
            """
        let config = try ConfigLoader.parse(yaml, file: dir.file("config.yaml"), environment: ["SLACK_BOT_TOKEN": "xoxb-env-token\n"])
        #expect(config.destinations[0].config.objectValue?["token"] == .string("xoxb-file-token"))
        #expect(config.destinations[1].config.objectValue?["token"] == .string("xoxb-env-token"))
        #expect(config.server.auth == .bearer(Secret("intake-secret")))
    }

    @Test func aDestinationSecretFileNotThereYetIsLeftForCreateAndResolvedTrimmedLater() throws {
        let dir = try TemporaryDirectory(prefix: "cano-trim")
        defer { dir.remove() }
        let yaml = """
            destinations:
              - name: hook
                type: webhook
                config: {url: "http://127.0.0.1:1/x", hmac_secret_file: late-secret}
            default_destinations: [hook]
            """
        // Not a config error: the destination waits for the Secret (DestinationSupervisor).
        let config = try ConfigLoader.parse(yaml, file: dir.file("config.yaml"))
        #expect(throws: (any Error).self) { try YAMLReader.resolveUnreadFiles(in: config.destinations[0].config) }
        try "k3y\r\n".write(toFile: dir.file("late-secret"), atomically: true, encoding: .utf8)
        let resolved = try YAMLReader.resolveUnreadFiles(in: config.destinations[0].config)
        #expect(resolved.config.objectValue?["hmac_secret"] == .string("k3y"))
        #expect(resolved.secrets == ["k3y"])
    }
}
