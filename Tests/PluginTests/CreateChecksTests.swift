import CanoSDK
import Collector
import Foundation
import PluginABI
import Testing
import TestSupport

/// The token the Slack double accepts.
private let testToken = "xoxb-1111-2222-CREATEcheckTOKEN"

/// Issue 15 §1, through the real config loader, factory and shipped plugins:
/// - `*_file` keys a plugin declares as paths (ABI v1.1 `path_keys`, Slack's `ca_file`)
///   reach it as paths; every other `*_file` is still read as a Secret (Webhook's
///   `ca_file` becomes `ca`, `token_file` becomes `token`);
/// - Slack checks its token with `auth.test` at create, except in `validate`'s dry run.
@Suite("Create checks: path keys and credential checks")
struct CreateChecksTests {
    /// Loads `yaml` (written to a temporary config.yaml, so relative paths resolve against
    /// its directory) and creates its first destination with the shipped plugins.
    private func create(_ yaml: String, in dir: TemporaryDirectory, flags: PluginCreateFlags = [],
                        services: PluginServices = TestServices().services) async throws -> Result<any Destination, DestinationSetupError> {
        let path = dir.file("config.yaml")
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(path: path)
        _ = ProcessSetup.curl
        var search = PluginSearchConfig()
        search.paths = [try BuildProducts.plugin("CanoSlack"), try BuildProducts.plugin("CanoWebhook")]
        let catalog = try PluginCatalog.scan(search)
        var factory = DestinationFactory(catalog: catalog, services: services, pluginHostExecutable: nil)
        factory.createFlags = flags
        let destination = config.destinations[0]
        let made = factory
        return await BlockingThread.run { Result { () throws(DestinationSetupError) in try made.make(destination) } }
    }

    private func slackYAML(apiURL: String, extra: String = "") -> String {
        """
        destinations:
          - name: chat
            type: slack
            config:
              token_file: token
              channel: "#alerts"
              api_url: \(apiURL)\(extra)
        default_destinations: [chat]
        """
    }

    @Test func slackCAFileIsAPathAndTheTokenFileASecret() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-pathkeys")
        defer { dir.remove() }
        let certificate = try TestCertificate.make()
        let slack = try await SlackDouble.start(token: testToken, tls: certificate)
        defer { slack.stop() }
        try certificate.certificatePEM.write(toFile: dir.file("proxy-ca.pem"), atomically: true, encoding: .utf8)
        try (testToken + "\r\n").write(toFile: dir.file("token"), atomically: true, encoding: .utf8)

        // Relative, as users write it next to their config; made absolute for the plugin.
        let created = try await create(slackYAML(apiURL: slack.apiURL, extra: "\n      ca_file: proxy-ca.pem"), in: dir)
        let destination = try created.get()
        defer { (destination as? any ShutdownableDestination)?.shutdown() }
        #expect(slack.calls("auth.test").count == 1, "the token was checked over TLS with the private CA")
        let outcome = await BlockingThread.run { destination.deliver(issueJSON: try! Samples.json(Samples.issue()), context: Samples.context()) }
        #expect(outcome.status == .delivered, "\(outcome.message)")
        #expect(slack.messages.count == 1)
    }

    @Test func withoutTheCAFileTheProxyIsNotTrusted() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-pathkeys")
        defer { dir.remove() }
        let certificate = try TestCertificate.make()
        let slack = try await SlackDouble.start(token: testToken, tls: certificate)
        defer { slack.stop() }
        try testToken.write(toFile: dir.file("token"), atomically: true, encoding: .utf8)
        // auth.test cannot reach a trusted Slack: a warning, not a failed create.
        let destination = try await create(slackYAML(apiURL: slack.apiURL), in: dir).get()
        defer { (destination as? any ShutdownableDestination)?.shutdown() }
        let outcome = await BlockingThread.run { destination.deliver(issueJSON: try! Samples.json(Samples.issue()), context: Samples.context()) }
        #expect(outcome.status == .retry, "\(outcome.message)")
        #expect(slack.messages.isEmpty)
    }

    @Test func webhookCAFileStillBecomesThePEMItReads() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-pathkeys")
        defer { dir.remove() }
        let certificate = try TestCertificate.make()
        let receiver = try await ReceiverDouble.start(tls: certificate)
        defer { stopLater { await receiver.stop() } }
        try certificate.certificatePEM.write(toFile: dir.file("ca.pem"), atomically: true, encoding: .utf8)
        let yaml = """
            destinations:
              - name: hook
                type: webhook
                config:
                  url: \(receiver.url("/in"))
                  ca_file: ca.pem
            default_destinations: [hook]
            """
        let destination = try await create(yaml, in: dir).get()
        defer { (destination as? any ShutdownableDestination)?.shutdown() }
        let outcome = await BlockingThread.run { destination.deliver(issueJSON: try! Samples.json(Samples.issue()), context: Samples.context()) }
        #expect(outcome.status == .delivered, "\(outcome.message)")
    }

    @Test func aTokenSlackRejectsFailsCreateNamingAuthTest() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-authtest")
        defer { dir.remove() }
        let slack = try await SlackDouble.start(token: testToken)
        defer { slack.stop() }
        let wrong = "xoxb-0000000000-wrong-but-well-formed"
        try wrong.write(toFile: dir.file("token"), atomically: true, encoding: .utf8)
        let test = TestServices()

        let result = try await create(slackYAML(apiURL: slack.apiURL), in: dir, services: test.services)
        guard case .failure(let error) = result else {
            Issue.record("create succeeded with a token Slack rejects")
            return
        }
        #expect(error.reason.contains("auth.test") && error.reason.contains("invalid_auth"), "\(error.reason)")
        #expect(error.code == .createFailed)
        assertNoSecret(wrong, in: [LeakSurface("create error", error.reason)] + test.logs.lines.map { LeakSurface("log", $0) })

        // validate's dry run makes no call: it must work offline and in CI.
        let before = slack.calls("auth.test").count
        let dry = try await create(slackYAML(apiURL: slack.apiURL), in: dir, flags: .validateOnly)
        let dryDestination = try dry.get()
        (dryDestination as? any ShutdownableDestination)?.shutdown()
        #expect(slack.calls("auth.test").count == before)

        // check_token: false opts out.
        let unchecked = try await create(slackYAML(apiURL: slack.apiURL, extra: "\n      check_token: false"), in: dir)
        (try unchecked.get() as? any ShutdownableDestination)?.shutdown()
        #expect(slack.calls("auth.test").count == before)
    }

    @Test func slackDownAtStartIsOnlyAWarning() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-authtest")
        defer { dir.remove() }
        try testToken.write(toFile: dir.file("token"), atomically: true, encoding: .utf8)
        let test = TestServices()
        // Port 1 on loopback: connection refused at once.
        let destination = try await create(slackYAML(apiURL: "http://127.0.0.1:1/api/"), in: dir, services: test.services).get()
        (destination as? any ShutdownableDestination)?.shutdown()
        #expect(test.logs.lines.contains { $0.contains("auth.test could not check the token") }, "\(test.logs.lines)")
    }

    /// A plugin's `path_keys` must be `[a-z0-9_]+_file`; anything else refuses the plugin.
    @Test func badPathKeysRefuseThePlugin() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-pathkeys")
        defer { dir.remove() }
        let good = try await CPluginCompiler.compile(CPluginCompiler.fixture("path_keys.c"), into: dir.path, as: "good.so")
        let bad = try await CPluginCompiler.compile(CPluginCompiler.fixture("path_keys.c"), into: dir.path, as: "bad.so", defines: ["BAD_PATH_KEY"])
        let loaded = try PluginLoader.load(path: good)
        #expect(loaded.pathKeys == ["ca_file", "cert_file"])
        #expect(throws: PluginLoadError.self) { try PluginLoader.load(path: bad) }
        do { _ = try PluginLoader.load(path: bad) } catch {
            #expect(error.code == .badPathKey)
            #expect(error.reason.contains("\"token\""), "\(error.reason)")
        }
        let secret = try await CPluginCompiler.compile(CPluginCompiler.fixture("path_keys.c"), into: dir.path, as: "secret.so", defines: ["SECRET_PATH_KEY"])
        do { _ = try PluginLoader.load(path: secret); Issue.record("a secret path key was accepted") } catch {
            #expect(error.code == .badPathKey)
            #expect(error.reason.contains("token_file") && error.reason.contains("secret"), "\(error.reason)")
        }
    }

    /// A genuine v1.0 descriptor (88 bytes, minor 0) with non-zero bytes where v1.1 put
    /// path_keys loads, and those bytes are never read.
    @Test func aV10DescriptorLoadsWithoutPathKeys() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-pathkeys")
        defer { dir.remove() }
        let so = try await CPluginCompiler.compile(CPluginCompiler.fixture("v1_0_descriptor.c"), into: dir.path, as: "v10.so")
        let loaded = try PluginLoader.load(path: so)
        #expect(loaded.abiMinor == 0)
        #expect(loaded.pathKeys.isEmpty)
    }

    /// A v1.0 host's table (72 bytes) has no create_flags: a flag byte past its end must
    /// not read as VALIDATE_ONLY.
    @Test func aV10HostTableIsNeverValidateOnly() {
        var table = cano_host_services()
        table.create_flags = 1
        table.struct_size = 72
        #expect(!HostServices(&table).isValidateOnly)
        table.struct_size = UInt32(MemoryLayout<cano_host_services>.size)
        #expect(HostServices(&table).isValidateOnly)
    }
}
