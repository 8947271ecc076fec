import CanoSDK
import Foundation
import Testing
import TestSupport
@testable import ServiceNowDestination

/// The config block: what is accepted, and that every refusal names the key without
/// repeating the password.
@Suite("ServiceNow config") struct ServiceNowConfigTests {
    static let base: [String: JSONValue] = [
        "instance_url": "https://acme.service-now.com", "username": "cano", "password": .string(testPassword),
    ]

    func parse(_ changes: [String: JSONValue?]) throws(PluginError) -> ServiceNowConfig {
        var object = Self.base
        for (key, value) in changes { object[key] = value }
        return try ServiceNowConfig(.object(object))
    }

    func error(_ changes: [String: JSONValue?]) -> String {
        do {
            _ = try parse(changes)
            return "accepted"
        } catch {
            return error.message
        }
    }

    @Test func aMinimalConfigHasTheDefaults() throws {
        let config = try parse([:])
        #expect(config.instanceURL == "https://acme.service-now.com")
        #expect(config.auth == .basic(username: "cano", password: testPassword))
        #expect(config.urgency == [.high: 1, .low: 2, .info: 3, .debug: 3])
        #expect(config.impact == [.high: 2, .low: 2, .info: 3, .debug: 3])
        #expect(config.closeCode == "Resolved by caller")
        #expect(config.timeout == .seconds(10))
        #expect(!config.inputDisplayValue)
        #expect(config.origin == "https://acme.service-now.com")
    }

    @Test func aTrailingSlashIsDropped() throws {
        #expect(try parse(["instance_url": "https://acme.service-now.com/"]).instanceURL == "https://acme.service-now.com")
    }

    @Test func severityMapsMergeOverTheDefaults() throws {
        let config = try parse(["urgency": ["high": 2, "INFO": "2"], "impact": ["HIGH": 1]])
        #expect(config.urgency == [.high: 2, .low: 2, .info: 2, .debug: 3])
        #expect(config.impact == [.high: 1, .low: 2, .info: 3, .debug: 3])
    }

    @Test func unknownKeysAreRefusedByName() {
        #expect(error(["assignment_grp": "Platform"]).hasPrefix("unknown config key \"assignment_grp\" (known: assignment_group, assignment_group_by_namespace, assignment_group_label, caller_id,"))
        #expect(error(["instanceUrl": "https://x.service-now.com"]).hasPrefix("unknown config key \"instanceUrl\""))
    }

    /// One config change each, and the words its refusal must contain.
    static let mistakes: [([String: JSONValue?], String)] = [
        (["instance_url": nil], "missing required key \"instance_url\""),
        (["instance_url": "acme.service-now.com"], "key \"instance_url\": expected an absolute https:// URL"),
        (["instance_url": "https://acme.service-now.com?x=1"], "key \"instance_url\": expected an absolute https:// URL"),
        (["instance_url": 3], "key \"instance_url\": expected a string"),
        (["password": nil], "key \"username\" needs \"password\""),
        (["username": nil], "key \"password\" needs \"username\""),
        (["username": nil, "password": nil], "missing credentials"),
        (["token": "tok-123456"], "not both"),
        (["password": ""], "key \"password\" is empty"),
        (["password": 5], "key \"password\": expected a string (or password_file: /path)"),
        (["username": "a:b"], "key \"username\": must not contain \":\""),
        (["urgency": ["HIGH": 4]], "key \"urgency.HIGH\": expected 1 (High), 2 (Medium) or 3 (Low)"),
        (["impact": ["CRITICAL": 1]], "key \"impact.CRITICAL\": unknown severity"),
        (["urgency": 1], "key \"urgency\": expected a map"),
        (["timeout": "forever"], "key \"timeout\""),
        (["input_display_value": "yes"], "key \"input_display_value\": expected true or false"),
        (["assignment_group": ""], "key \"assignment_group\" is empty"),
        (["caller_id": 7], "key \"caller_id\": expected a string"),
    ]

    @Test(arguments: mistakes)
    func mistakesAreNamed(changes: [String: JSONValue?], message: String) {
        let text = error(changes)
        #expect(text.contains(message), "\(text)")
    }

    @Test func theBearerTokenAloneIsEnough() throws {
        let config = try ServiceNowConfig(.object(["instance_url": "https://acme.service-now.com", "token": "tok-abcdef-123"]))
        #expect(config.auth == .bearer(token: "tok-abcdef-123"))
        #expect(config.authorization == "Bearer tok-abcdef-123")
    }

    /// A password with a line break (a file read with an odd encoding) is refused without
    /// being quoted.
    @Test func aBadPasswordIsNeverQuoted() {
        let bad = testPassword + "\nX-Injected: 1"
        let text = error(["password": .string(bad)])
        #expect(text == "key \"password\": the value contains a line break")
        assertNoSecret(testPassword, in: [LeakSurface("config error", text)])
    }

    @Test func theSecretsCoverThePasswordAndItsBasicForm() throws {
        let config = try parse([:])
        let basic = Data("cano:\(testPassword)".utf8).base64EncodedString()
        #expect(config.authorization == "Basic " + basic)
        let cleaned = SecretSafe.redact("a \(testPassword) b \(basic) c", prepared: config.secrets)
        #expect(cleaned == "a <redacted> b <redacted> c")
    }
}
