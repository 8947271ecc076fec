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
        // A destination's files are read when it is created (the plugin decides which keys
        // are paths): here, as the factory does for a plugin without path keys.
        let fromFile = try YAMLReader.resolveFiles(in: config.destinations[0].config)
        #expect(fromFile.config.objectValue?["token"] == .string("xoxb-file-token"))
        #expect(fromFile.secrets == ["xoxb-file-token"])
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
        #expect(throws: (any Error).self) { try YAMLReader.resolveFiles(in: config.destinations[0].config) }
        try "k3y\r\n".write(toFile: dir.file("late-secret"), atomically: true, encoding: .utf8)
        let resolved = try YAMLReader.resolveFiles(in: config.destinations[0].config)
        #expect(resolved.config.objectValue?["hmac_secret"] == .string("k3y"))
        #expect(resolved.secrets == ["k3y"])
    }

    /// A key the plugin declares in `path_keys` stays a path (made absolute against the
    /// config's directory); the others are read as Secrets, nested ones too.
    @Test func pathKeysPassThroughAndOtherFilesAreRead() throws {
        let dir = try TemporaryDirectory(prefix: "cano-trim")
        defer { dir.remove() }
        try "s3cret\n".write(toFile: dir.file("secret"), atomically: true, encoding: .utf8)
        let yaml = """
            destinations:
              - name: hook
                type: custom
                config: {ca_file: certs/ca.pem, token_file: secret, tls: {key_file: secret}}
            default_destinations: [hook]
            """
        let config = try ConfigLoader.parse(yaml, file: dir.file("config.yaml"))
        let resolved = try YAMLReader.resolveFiles(in: config.destinations[0].config, pathKeys: ["ca_file"])
        let object = try #require(resolved.config.objectValue)
        #expect(object["ca_file"] == .string(dir.file("certs/ca.pem")), "not read: the file does not even exist")
        #expect(object["ca"] == nil)
        #expect(object["token"] == .string("s3cret"))
        #expect(object["tls"]?["key"] == .string("s3cret"))
        // Without the declaration, ca_file is a Secret file like any other, and missing.
        #expect(throws: (any Error).self) { try YAMLReader.resolveFiles(in: config.destinations[0].config) }
    }
}
