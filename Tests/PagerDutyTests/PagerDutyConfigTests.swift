import Foundation
import CanoSDK
import Testing
import TestSupport
@testable import PagerDutyDestination

/// Config parsing: strict keys, errors that name the key and never the routing key.
@Suite struct PagerDutyConfigTests {
    static func error(_ config: JSONValue) -> String? {
        do {
            _ = try PagerDutyConfig(config)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func defaults() throws {
        let config = try PagerDutyConfig(["routing_key": .string(testRoutingKey)])
        #expect(config.url == "https://events.pagerduty.com")
        #expect(config.origin == "https://events.pagerduty.com")
        #expect(config.routingKey == testRoutingKey)
        #expect(config.routingKeyLabel == nil)
        #expect(config.helmChangeEvents)
        #expect(config.timeout == .seconds(10))
        #expect(config.severityMap == [.high: "critical", .low: "warning", .info: "info", .debug: "info"])
        #expect(config.tls == nil)
    }

    @Test func everyKey() throws {
        let config = try PagerDutyConfig([
            "routing_key": .string(testRoutingKey), "routing_key_label": "team_pd_key", "url": "https://events.eu.pagerduty.com/",
            "severity_map": ["LOW": "error"], "helm_change_events": false, "client": "cano prod", "client_url": "https://grafana.example",
            "timeout": "2500ms", "insecure_skip_verify": true,
        ])
        #expect(config.url == "https://events.eu.pagerduty.com", "no trailing slash, so paths join cleanly")
        #expect(config.routingKeyLabel == "team_pd_key")
        #expect(config.severityMap[.low] == "error")
        #expect(!config.helmChangeEvents)
        #expect(config.client == "cano prod")
        #expect(config.clientURL == "https://grafana.example")
        #expect(config.timeout == .milliseconds(2500))
        #expect(config.tls?.insecureSkipVerify == true)
    }

    /// `routing_key_file` reaches the plugin as `routing_key` with the file's content, which
    /// usually ends in a newline.
    @Test func keyFromAFileWithANewline() throws {
        #expect(try PagerDutyConfig(["routing_key": .string(testRoutingKey + "\r\n")]).routingKey == testRoutingKey)
        #expect(try PagerDutyConfig(["routing_key": .string(testRoutingKey + "\n")]).routingKey == testRoutingKey)
    }

    @Test func labelAloneIsEnough() throws {
        let config = try PagerDutyConfig(["routing_key_label": "pd_key"])
        #expect(config.routingKey == nil)
        #expect(config.routingKeyLabel == "pd_key")
    }

    @Test(arguments: [
        (JSONValue.object(["routing_key": .string(testRoutingKey), "routing_keys": "x"]), "unknown config key \"routing_keys\""),
        (.object(["routing_key": .string(testRoutingKey), "severity": "critical"]), "unknown config key \"severity\""),
        (.object([:]), "missing required key \"routing_key\""),
        (.object(["routing_key": 42]), "key \"routing_key\": expected a string"),
        (.object(["routing_key": .string(testRoutingKey), "url": "events.pagerduty.com"]), "key \"url\""),
        (.object(["routing_key": .string(testRoutingKey), "url": "ftp://x"]), "key \"url\""),
        (.object(["routing_key": .string(testRoutingKey), "severity_map": ["URGENT": "critical"]]), "\"URGENT\" is not an Issue severity"),
        (.object(["routing_key": .string(testRoutingKey), "severity_map": ["HIGH": "page"]]), "key \"severity_map.HIGH\": expected one of critical, error, warning, info"),
        (.object(["routing_key": .string(testRoutingKey), "timeout": "forever"]), "key \"timeout\""),
        (.object(["routing_key": .string(testRoutingKey), "timeout": "600s"]), "key \"timeout\""),
        (.object(["routing_key": .string(testRoutingKey), "helm_change_events": "yes"]), "key \"helm_change_events\""),
        (.object(["routing_key": .string(testRoutingKey), "ca": "not pem"]), "key \"ca\""),
        (.array([]), "config must be an object"),
    ])
    func refusals(config: JSONValue, mentioning text: String) {
        let message = Self.error(config)
        #expect(message?.contains(text) == true, "\(message ?? "accepted")")
    }

    /// A wrong key is refused at start, and the message says what is wrong with it
    /// without repeating it.
    @Test(arguments: ["too-short-SECRET-key", "e93facc04764012d7bfb002500d5d1a6X", "e93facc04764012d7bfb002500d5d1-!"])
    func malformedRoutingKeyIsRefusedWithoutEcho(key: String) {
        let message = Self.error(["routing_key": .string(key)])
        #expect(message?.contains("32-character Events API v2 integration key") == true, "\(message ?? "accepted")")
        #expect(message?.contains(key) == false)
        #expect(message?.contains(String(key.prefix(10))) == false, "not even a part of it")
    }

    @Test func secretsIncludeTheKeyAndURLCredentials() throws {
        let config = try PagerDutyConfig(["routing_key": .string(testRoutingKey), "url": "https://user:proxy-pass@pd-proxy.example"])
        #expect(config.secrets.contains(testRoutingKey))
        #expect(config.secrets.contains("proxy-pass"))
        #expect(config.origin == "https://pd-proxy.example")
    }
}
