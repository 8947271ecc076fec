@testable import Collector
import Testing

@Suite struct RedactorTests {
    @Test(arguments: [
        ("password=hunter2", "password=[REDACTED]"),
        ("DB_PASSWORD: 'hunter2'", "DB_PASSWORD: '[REDACTED]'"),
        (#"{"client_secret":"abc123xyz","user":"bob"}"#, #"{"client_secret":"[REDACTED]","user":"bob"}"#),
        ("Authorization: Bearer eyJhbGciOi.abc.def", "Authorization: Bearer [REDACTED]"),
        ("curl -H 'Authorization: Basic dXNlcjpwYXNz'", "curl -H 'Authorization: Basic [REDACTED]'"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token ghp_[REDACTED]"),
        ("key AKIAIOSFODNN7EXAMPLE used", "key [REDACTED] used"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end",
         "jwt [REDACTED] end"),
        ("redis://default:pa55@cache:6379/0", "redis://[REDACTED]@cache:6379/0"),
        ("api_key=AIzaSyD-1234567890abcdefghijklmnopqrstu", "api_key=[REDACTED]"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----",
         "-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----"),
    ])
    func masksSecrets(input: String, expected: String) {
        let out = Redactor.redact(input)
        if input.hasPrefix("token ghp_") {
            // Either rule may win for "token <value>"; the value must be gone either way.
            #expect(!out.contains("abcdefghijklmnopqrstuvwxyz0123456789"))
        } else {
            #expect(out == expected)
        }
    }

    @Test func keepsOrdinaryText() {
        for line in ["INFO request served in 12ms status=200", "tokenizer loaded 3 models", "ERROR pod payments/api OOMKilled exit code 137",
                     "see https://example.com/docs?page=2"] {
            #expect(Redactor.redact(line) == line)
        }
    }

    @Test func logTailsKeepTheEndOnALineStartAndValidUTF8() {
        let text = "first line\nsecond line ✓\nthird line\n"
        #expect(LogText.tail(text, bytes: 1000) == text)
        #expect(LogText.tail(text, bytes: 20) == "third line\n")
        // One long line: the cut falls inside it, and the tail is not empty.
        let long = String(repeating: "é", count: 100) + "\n"
        let cut = LogText.tail(long, bytes: 51)
        #expect(!cut.isEmpty && cut.utf8.count <= 51 && cut.hasSuffix("é\n"))
        #expect(LogText.tail("a\nb\nc\nd", lines: 2) == "c\nd")
        #expect(LogText.fenced("x ``` y").hasPrefix("~~~"))
    }
}
