import CanoSDK
import Testing
@testable import TeamsDestination

/// The `config:` block: what is accepted, what is refused, and that no error repeats the URL.
@Suite struct TeamsConfigTests {
    static let workflowURL =
        "https://prod-12.westeurope.logic.azure.com:443/workflows/9f8e7d6c/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Zm9vYmFyU2VjcmV0U2lnbmF0dXJl"

    func parse(_ object: [String: JSONValue]) -> Result<TeamsConfig, PluginError> {
        Result { () throws(PluginError) in try TeamsConfig(.object(object)) }
    }

    func error(_ object: [String: JSONValue]) -> String? {
        if case .failure(let error) = parse(object) { return error.message }
        return nil
    }

    @Test func workflowURLIsAcceptedWithDefaults() throws {
        let config = try TeamsConfig(.object(["url": .string(Self.workflowURL + "\n")]))
        #expect(config.url == Self.workflowURL, "a trailing newline from url_file is dropped")
        #expect(config.timeout == .seconds(10))
        #expect(config.origin == "https://prod-12.westeurope.logic.azure.com:443")
        #expect(config.secrets.contains(Self.workflowURL))
        #expect(config.secrets.contains("Zm9vYmFyU2VjcmV0U2lnbmF0dXJl"), "the signature alone is a secret too")
    }

    @Test func newerPowerPlatformHostsAreAccepted() throws {
        for url in ["https://default1234.56.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=abcdefgh",
                    "https://api.powerautomate.com/workflows/abc/triggers/manual/paths/invoke?sig=abcdefgh"] {
            #expect(error(["url": .string(url)]) == nil, "\(url)")
        }
    }

    @Test func timeoutIsParsed() throws {
        let config = try TeamsConfig(.object(["url": .string(Self.workflowURL), "timeout": .string("2500ms")]))
        #expect(config.timeout == .milliseconds(2500))
        #expect(error(["url": .string(Self.workflowURL), "timeout": .string("forever")])?.contains("key \"timeout\"") == true)
    }

    @Test func missingURLIsNamed() {
        #expect(error([:])?.contains("missing required key \"url\"") == true)
        #expect(error(["url": .number(3)])?.contains("key \"url\": expected a string") == true)
    }

    @Test func unknownKeyIsRefusedByName() {
        let message = error(["url": .string(Self.workflowURL), "mentions": .array([])])
        #expect(message?.contains("unknown config key \"mentions\"") == true, "\(message ?? "accepted")")
        #expect(message?.contains(Self.workflowURL) == false)
    }

    @Test func badURLIsRefusedWithoutEchoingIt() throws {
        let bad = "ftp://example.com/hook?sig=SuperSecretSig123"
        let message = try #require(error(["url": .string(bad)]))
        #expect(message.contains("key \"url\""))
        #expect(!message.contains("SuperSecretSig123"))
    }

    /// Microsoft retired O365 connectors (destinations.md §2.1): both URL shapes are
    /// refused at create, saying why and what to do, without repeating the URL.
    @Test(arguments: [
        "https://contoso.webhook.office.com/webhookb2/1234abcd-0000-4000-8000-000000000000@5678efab-0000-4000-8000-000000000000/IncomingWebhook/LegacySecretPart99/0000aaaa-0000-4000-8000-000000000000",
        "https://outlook.office.com/webhook/1234abcd@5678efab/IncomingWebhook/LegacySecretPart99/0000aaaa",
        "HTTPS://Contoso.Webhook.Office.com/webhookb2/x/IncomingWebhook/LegacySecretPart99/y",
    ])
    func legacyConnectorURLIsRefused(url: String) throws {
        let message = try #require(error(["url": .string(url)]))
        #expect(message.contains("Office 365 connector"))
        #expect(message.contains("retired"))
        #expect(message.contains("Workflows"))
        #expect(!message.contains("LegacySecretPart99"), "the URL must not be echoed")
        #expect(TeamsConfig.isLegacyConnectorURL(url))
    }

    @Test func lookalikeHostsAreNotLegacy() {
        #expect(!TeamsConfig.isLegacyConnectorURL(Self.workflowURL))
        #expect(!TeamsConfig.isLegacyConnectorURL("https://webhook.office.com.example.org/hook"))
        #expect(!TeamsConfig.isLegacyConnectorURL("https://outlook.office.com/owa/"))
    }

    @Test func tlsKeysAreShared() throws {
        let config = try TeamsConfig(.object(["url": .string(Self.workflowURL), "insecure_skip_verify": .bool(true)]))
        #expect(config.tls?.insecureSkipVerify == true)
        #expect(error(["url": .string(Self.workflowURL), "ca": .string("not a pem")])?.contains("key \"ca\"") == true)
    }
}
