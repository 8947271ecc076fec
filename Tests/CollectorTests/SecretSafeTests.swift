import CanoSDK
import Testing

/// The name rules and URL parsing behind every secret registration: a miss leaks a
/// credential, a false hit shreds ordinary log text.
@Suite("SecretSafe")
struct SecretSafeTests {
    @Test(arguments: [
        ("token", true), ("bearer_token", true), ("hmac_secret", true), ("password", true), ("api_key", true),
        ("key", true), ("routing_key", true), ("integration_key", true), ("credentials", true), ("Authorization", true),
        ("X-Api-Key", true), ("X-Auth-Token", true), ("SLACK_TOKEN", true), ("hmacSecret", true), ("webhook_url", true),
        ("channel", false), ("url", false), ("aggregation_key", false), ("label_key", false), ("signature_header", false),
        ("token_url", false), ("secret_name", false), ("username", false), ("X-Team", false), ("timeout", false),
    ])
    func secretKeyNames(_ key: String, _ secret: Bool) {
        #expect(SecretSafe.isSecretKey(key) == secret, "\(key)")
    }

    @Test func urlSecrets() {
        let found = Set(SecretSafe.secrets(inURL: "https://bot:pa%40ss@hooks.example.com/p?sig=abc123&team=sre&access_token=tok%2Fen#frag"))
        #expect(found == ["bot:pa%40ss", "pa%40ss", "pa@ss", "abc123", "tok%2Fen", "tok/en"])
        #expect(SecretSafe.secrets(inURL: "https://hooks.example.com/p?team=sre").isEmpty)
        #expect(SecretSafe.secrets(inURL: "not a url").isEmpty)
    }

    @Test func redactionIsLongestFirstAndSkipsShortValues() {
        let text = SecretSafe.redact("u=bot:hunter22 p=hunter22 x=ab café", secrets: ["hunter22", "bot:hunter22", "ab"])
        #expect(text == "u=<redacted> p=<redacted> x=ab café")
        // A secret followed by a combining accent is still found (byte matching).
        #expect(SecretSafe.redact("tokene\u{301}", secrets: ["token"]) == "<redacted>e\u{301}")
    }
}
