import CanoSDK
import Testing
import TestSupport
@testable import OpsgenieDestination

@Suite("Opsgenie config") struct OpsgenieConfigTests {
    func parse(_ config: JSONValue) throws(PluginError) -> OpsgenieConfig { try OpsgenieConfig(config) }

    func error(_ config: JSONValue) -> String? {
        do {
            _ = try OpsgenieConfig(config)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func defaults() throws {
        let config = try parse(["api_key": .string(testAPIKey)])
        #expect(config.apiURL == "https://api.opsgenie.com")
        #expect(config.origin == "https://api.opsgenie.com")
        #expect(config.priorities == [.high: "P1", .low: "P3", .info: "P5", .debug: "P5"])
        #expect(config.source == "cano-collector")
        #expect(config.tagLabels == ["alertname", "cluster", "namespace", "severity"])
        #expect(config.responders.isEmpty && config.visibleTo.isEmpty)
        #expect(config.timeout == .seconds(10))
    }

    @Test func regionPicksTheHost() throws {
        #expect(try parse(["api_key": "k-12345678", "region": "eu"]).apiURL == "https://api.eu.opsgenie.com")
        #expect(try parse(["api_key": "k-12345678", "region": "EU"]).apiURL == "https://api.eu.opsgenie.com")
        #expect(try parse(["api_key": "k-12345678", "region": "us"]).apiURL == "https://api.opsgenie.com")
        #expect(error(["api_key": "k-12345678", "region": "ap"]) == "key \"region\": expected \"us\" or \"eu\"")
        #expect(error(["api_key": "k-12345678", "region": "eu", "api_url": "https://api.eu.opsgenie.com"])?.contains("both set") == true)
    }

    @Test func apiURLKeepsItsPathWithoutTrailingSlash() throws {
        #expect(try parse(["api_key": "k-12345678", "api_url": "http://127.0.0.1:8080/proxy/"]).apiURL == "http://127.0.0.1:8080/proxy")
        for bad in ["api.opsgenie.com", "ftp://x", "https://api.opsgenie.com/?key=1", "https://", "https://a b"] {
            #expect(error(["api_key": "k-12345678", "api_url": .string(bad)])?.hasPrefix("key \"api_url\"") == true, "\(bad)")
        }
    }

    @Test func unknownKeysAreRefusedByName() {
        let message = error(["api_key": "k-12345678", "apiKey": "x"])
        #expect(message?.hasPrefix("unknown config key \"apiKey\" (known: api_key, api_url,") == true, "\(message ?? "")")
        #expect(error(["api_key": "k-12345678", "visibleTo": []])?.contains("unknown config key \"visibleTo\"") == true)
    }

    @Test func apiKeyIsRequiredAndNeverEchoed() {
        #expect(error([:])?.contains("missing required key \"api_key\" (or api_key_file") == true)
        #expect(error(["api_key": ""])?.contains("empty") == true)
        #expect(error(["api_key": 42]) == "key \"api_key\": expected a string")
        let broken = "abc-SECRET-\n-def"
        let message = error(["api_key": .string(broken)])
        #expect(message?.contains("whitespace or control characters") == true)
        #expect(message?.contains("SECRET") == false)
        let prefixed = error(["api_key": .string("GenieKey " + testAPIKey)])
        #expect(prefixed?.contains("adds the \"GenieKey \" prefix itself") == true, "\(prefixed ?? "")")
        assertNoSecret(testAPIKey, in: [prefixed ?? ""], named: "create error")
    }

    @Test func prioritiesMergeOverTheDefaults() throws {
        let config = try parse(["api_key": "k-12345678", "priorities": ["high": "P2", "INFO": "p4"]])
        #expect(config.priorities == [.high: "P2", .low: "P3", .info: "P4", .debug: "P5"])
        #expect(error(["api_key": "k-12345678", "priorities": ["CRITICAL": "P1"]])?.contains("priorities.CRITICAL\": not a severity") == true)
        #expect(error(["api_key": "k-12345678", "priorities": ["HIGH": "P6"]])?.contains("expected one of P1, P2, P3, P4, P5") == true)
        #expect(error(["api_key": "k-12345678", "priorities": "P1"])?.hasPrefix("key \"priorities\"") == true)
    }

    @Test func respondersAreCheckedPerEntry() throws {
        let config = try parse([
            "api_key": "k-12345678", "team": "platform",
            "responders": [["type": "user", "username": "ana@example.com"], ["type": "schedule", "id": "4513b7ea"]],
            "visible_to": [["type": "team", "name": "sre"]],
        ])
        #expect(config.team == "platform")
        #expect(config.responders == [
            OpsgenieResponder(type: "user", field: "username", value: "ana@example.com"),
            OpsgenieResponder(type: "schedule", field: "id", value: "4513b7ea"),
        ])
        #expect(config.visibleTo == [OpsgenieResponder(type: "team", field: "name", value: "sre")])
        #expect(error(["api_key": "k-12345678", "responders": [["type": "group", "name": "x"]]])
            == "key \"responders[0]\": \"type\" must be team, user, escalation or schedule")
        #expect(error(["api_key": "k-12345678", "responders": [["type": "user", "name": "x"]]])?.contains("a user needs exactly one of id or username") == true)
        #expect(error(["api_key": "k-12345678", "responders": [["type": "team", "name": "x", "id": "y"]]])?.contains("exactly one") == true)
        let many = JSONValue.array((0..<51).map { .object(["type": "team", "name": .string("t\($0)")]) })
        #expect(error(["api_key": "k-12345678", "responders": many])?.contains("at most 50") == true)
    }

    /// Dynamic team routing: `team_annotation` and `team_by_namespace`, validated with the
    /// key named; `team` is kept apart from `responders` (it is the last fallback).
    @Test func teamRoutingKeys() throws {
        let config = try parse([
            "api_key": "k-12345678", "team": "platform", "team_label": "team", "team_annotation": "opsgenie.com/team",
            "team_by_namespace": ["shop": "payments", "kube-system": "sre"],
        ])
        #expect(config.team == "platform")
        #expect(config.responders.isEmpty, "team is not a fixed responder any more: dynamic routing may replace it")
        #expect(config.teamLabel == "team")
        #expect(config.teamAnnotation == "opsgenie.com/team")
        #expect(config.teamByNamespace == ["shop": "payments", "kube-system": "sre"])
        #expect(try parse(["api_key": "k-12345678"]).teamByNamespace.isEmpty)

        #expect(error(["api_key": "k-12345678", "team_annotation": ""]) == "key \"team_annotation\": expected an annotation name")
        #expect(error(["api_key": "k-12345678", "team_annotation": ["a"]]) == "key \"team_annotation\": expected an annotation name")
        #expect(error(["api_key": "k-12345678", "team_label": 1]) == "key \"team_label\": expected a label name")
        #expect(error(["api_key": "k-12345678", "team_by_namespace": ["shop"]])
            == "key \"team_by_namespace\": expected an object of namespace: team name, like {shop: payments}")
        #expect(error(["api_key": "k-12345678", "team_by_namespace": ["shop": 1]]) == "key \"team_by_namespace.shop\": expected a team name")
        #expect(error(["api_key": "k-12345678", "team_by_namespace": ["shop": " "]]) == "key \"team_by_namespace.shop\": expected a team name")
        #expect(error(["api_key": "k-12345678", "team_by_namespace": ["": "payments"]]) == "key \"team_by_namespace\": a namespace is empty")
        #expect(error(["api_key": "k-12345678", "team": "a\nb"]) == "key \"team\": expected a team name")
        let many = JSONValue.array((0..<50).map { .object(["type": "user", "username": .string("u\($0)@example.com")]) })
        #expect(error(["api_key": "k-12345678", "team": "platform", "responders": many])?.hasPrefix("key \"responders\": at most 49 entries next to the routed team") == true,
                "a routed team plus 50 responders would be 51")
    }

    @Test func fixedValuesMustFitOpsgeniesLimits() {
        #expect(error(["api_key": "k-12345678", "source": .string(String(repeating: "s", count: 101))])?.contains("1 to 100") == true)
        #expect(error(["api_key": "k-12345678", "tags": .array((0..<21).map { .string("t\($0)") })])?.contains("at most 20") == true)
        #expect(error(["api_key": "k-12345678", "tags": [.string(String(repeating: "t", count: 51))]])?.contains("longer than 50") == true)
        #expect(error(["api_key": "k-12345678", "details": ["a": 1]])?.contains("details.a\": expected a string") == true)
        #expect(error(["api_key": "k-12345678", "details": ["a": .string(String(repeating: "x", count: 4_001))]])?.contains("keep fixed details under 4000") == true)
        #expect(error(["api_key": "k-12345678", "include_labels": "yes"]) == "key \"include_labels\": expected true or false")
    }

    @Test func timeout() throws {
        #expect(try parse(["api_key": "k-12345678", "timeout": "500ms"]).timeout == .milliseconds(500))
        #expect(try parse(["api_key": "k-12345678", "timeout": 3]).timeout == .seconds(3))
        #expect(error(["api_key": "k-12345678", "timeout": "10 minutes"])?.hasPrefix("key \"timeout\"") == true)
        #expect(error(["api_key": "k-12345678", "timeout": "301s"])?.hasPrefix("key \"timeout\"") == true)
    }

    @Test func secretsCoverTheKeyAndTheHeader() throws {
        let config = try parse(["api_key": .string(testAPIKey), "api_url": "https://user:proxy-pass-123@proxy.example.com/og"])
        let text = "got GenieKey \(testAPIKey) via proxy-pass-123"
        let cleaned = SecretSafe.redact(text, prepared: config.secrets)
        #expect(!cleaned.contains(testAPIKey) && !cleaned.contains("proxy-pass-123"), "\(cleaned)")
        #expect(config.origin == "https://proxy.example.com")
    }
}
