import CanoSDK
import Foundation
import Testing
import TestSupport
@testable import JiraDestination

/// The config reader: defaults, every refusal naming its key, and the token never echoed.
@Suite("Jira config") struct JiraConfigTests {
    static let base: [String: JSONValue] = [
        "url": "https://example.atlassian.net/", "project": "OPS", "user": "alerts@example.com", "api_token": .string(testToken),
    ]

    static func config(_ changes: [String: JSONValue?]) throws(PluginError) -> JiraConfig {
        var object = base
        for (key, value) in changes { object[key] = value }
        return try JiraConfig(.object(object))
    }

    @Test func defaultsAndParsing() throws {
        let config = try Self.config([:])
        #expect(config.url == "https://example.atlassian.net", "the trailing slash is dropped")
        #expect(config.issueType == "Bug")
        #expect(config.resolveTransition == nil)
        #expect(config.reopenTransition == nil)
        #expect(config.priorities.isEmpty && config.labels.isEmpty && config.components.isEmpty)
        #expect(config.timeout == .seconds(10))
        #expect(config.authorization == "Basic " + Data(("alerts@example.com:" + testToken).utf8).base64EncodedString())

        let full = try Self.config([
            "issue_type": "Incident", "resolve_transition": "Done", "reopen_transition": "Reopen", "labels": ["k8s", "prod"], "priorities": ["high": "Highest", "LOW": "Low"],
            "components": ["platform"], "timeout": "30s",
        ])
        #expect(full.issueType == "Incident")
        #expect(full.resolveTransition == "Done")
        #expect(full.reopenTransition == "Reopen")
        #expect(full.labels == ["k8s", "prod"])
        #expect(full.priorities == [.high: "Highest", .low: "Low"])
        #expect(full.components == ["platform"])
        #expect(full.timeout == .seconds(30))
    }

    /// One refused config: `key` set to `value` (nil: removed), and how the error starts.
    struct Refusal: Sendable, CustomTestStringConvertible {
        var key: String
        var value: JSONValue?
        var message: String
        init(_ key: String, _ value: JSONValue?, _ message: String) {
            self.key = key
            self.value = value
            self.message = message
        }
        var testDescription: String { "\(key): \(message)" }
    }

    static let refusalCases: [Refusal] = [
        Refusal("projectKey", .string("OPS"), "unknown config key \"projectKey\" (known: api_token, components, issue_type, labels, priorities, project, reopen_transition, resolve_transition, timeout, url, user)"),
        Refusal("url", nil, "missing required key \"url\""),
        Refusal("url", .string("example.atlassian.net"), "key \"url\": expected the site's base URL"),
        Refusal("url", .string("https://example.atlassian.net/rest/api/3"), "key \"url\": give the site's base URL only"),
        Refusal("project", nil, "missing required key \"project\""),
        Refusal("project", .string("ops"), "key \"project\": expected a project key"),
        Refusal("project", .string("OPS\" OR project = \"X"), "key \"project\": expected a project key"),
        Refusal("user", nil, "missing required key \"user\""),
        Refusal("user", .string("a:b@example.com"), "key \"user\": expected the account's email address"),
        Refusal("api_token", nil, "missing required key \"api_token\" (or api_token_file: /path"),
        Refusal("api_token", .string(""), "key \"api_token\" is empty"),
        Refusal("api_token", .number(42), "key \"api_token\": expected a string"),
        Refusal("issue_type", .string(" "), "key \"issue_type\": expected an issue type name"),
        Refusal("resolve_transition", .array([.string("Done")]), "key \"resolve_transition\": expected a transition name"),
        Refusal("reopen_transition", .string(" "), "key \"reopen_transition\": expected a transition name"),
        Refusal("reopen_transition", .number(1), "key \"reopen_transition\": expected a transition name"),
        Refusal("labels", .array([.string("two words")]), "key \"labels\": \"two words\" is not a Jira label"),
        Refusal("labels", .string("k8s"), "key \"labels\": expected a list of strings"),
        Refusal("priorities", .object(["URGENT": .string("Highest")]), "key \"priorities.URGENT\": not a severity"),
        Refusal("priorities", .object(["HIGH": .number(1)]), "key \"priorities.HIGH\": expected a Jira priority name"),
        Refusal("components", .array([.string("")]), "key \"components\": a component name is empty"),
        Refusal("timeout", .string("forever"), "key \"timeout\": expected a duration"),
    ]

    @Test(arguments: refusalCases)
    func refusals(_ refusal: Refusal) {
        do {
            _ = try Self.config([refusal.key: refusal.value])
            Testing.Issue.record("accepted")
        } catch {
            #expect(error.message.hasPrefix(refusal.message), "\(error.message)")
            #expect(!error.message.contains(testToken))
        }
    }

    /// A token with a line break would inject a header; the error says so without showing it.
    @Test func aBadTokenIsNeverEchoed() {
        let token = "ATATT-secret-token-with\nnewline"
        do {
            _ = try Self.config(["api_token": .string(token)])
            Testing.Issue.record("accepted a token with a newline")
        } catch {
            #expect(error.message == "key \"api_token\" contains whitespace or control characters (the value is not shown)")
        }
    }

    /// The secrets every message is cleaned of: the token and the Basic credential.
    @Test func secretsCoverTheBasicCredential() throws {
        let config = try Self.config([:])
        let redacted = SecretSafe.redact("a \(config.authorization) b \(testToken) c", prepared: config.secrets)
        #expect(redacted == "a <redacted> b <redacted> c")
    }
}
