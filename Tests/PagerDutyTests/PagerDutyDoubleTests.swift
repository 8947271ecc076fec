import Foundation
import CanoSDK
import Collector
import Testing
import TestSupport

/// The double refuses what PagerDuty refuses, so a plugin passing against it is not
/// passing against a pushover. Each case posts one hand-written event.
@Suite struct PagerDutyDoubleTests {
    static let key = PagerDutyDouble.sampleRoutingKey

    static func trigger(_ changes: (inout [String: JSONValue]) -> Void = { _ in }) -> JSONValue {
        var event: [String: JSONValue] = [
            "routing_key": .string(key), "event_action": "trigger", "dedup_key": "d-1",
            "payload": ["summary": "disk full", "source": "db-1", "severity": "critical"],
        ]
        changes(&event)
        return .object(event)
    }

    static func post(_ double: PagerDutyDouble, _ path: String = "/v2/enqueue", body: [UInt8], contentType: String = "application/json") async throws -> HTTPResponse {
        _ = curlSetup
        let request = HTTPRequest(method: "POST", url: double.url + path, headers: [HTTPHeader(name: "Content-Type", value: contentType)], body: body)
        return try await BlockingThread.run { () throws(HTTPClientError) -> HTTPResponse in try HTTPClient().send(request) }
    }

    static func post(_ double: PagerDutyDouble, _ path: String = "/v2/enqueue", json: JSONValue) async throws -> HTTPResponse {
        try await post(double, path, body: try IssueCoding.encode(json))
    }

    @Test func acceptsAValidTrigger() async throws {
        let double = try await PagerDutyDouble.start()
        defer { stopLater { await double.stop() } }
        let response = try await Self.post(double, json: Self.trigger())
        #expect(response.status == 202)
        let body = try IssueCoding.decode(JSONValue.self, from: response.body)
        #expect(body["status"]?.stringValue == "success")
        #expect(body["dedup_key"]?.stringValue == "d-1")
        #expect(double.alerts.count == 1)
    }

    @Test func triggerWithoutDedupKeyGetsOne() async throws {
        let double = try await PagerDutyDouble.start()
        defer { stopLater { await double.stop() } }
        let response = try await Self.post(double, json: Self.trigger { $0["dedup_key"] = nil })
        #expect(response.status == 202)
        let key = try IssueCoding.decode(JSONValue.self, from: response.body)["dedup_key"]?.stringValue
        #expect(key?.isEmpty == false)
        #expect(double.alerts.first?.dedupKey == key)
    }

    /// One broken event per case: what is changed from a valid trigger.
    static func breakEvent(_ name: String, _ e: inout [String: JSONValue]) {
        switch name {
        case "missing routing key": e["routing_key"] = nil
        case "31-character key": e["routing_key"] = .string(String(key.dropLast()))
        case "bad action": e["event_action"] = "open"
        case "bad severity": e["payload"] = ["summary": "s", "source": "x", "severity": "high"]
        case "no summary": e["payload"] = ["source": "x", "severity": "info"]
        case "summary 1025": e["payload"] = ["summary": .string(String(repeating: "é", count: 1025)), "source": "x", "severity": "info"]
        case "no source": e["payload"] = ["summary": "s", "severity": "info"]
        case "no payload": e["payload"] = nil
        case "bad timestamp": e["payload"] = ["summary": "s", "source": "x", "severity": "info", "timestamp": "yesterday"]
        case "dedup_key 256": e["dedup_key"] = .string(String(repeating: "k", count: 256))
        case "http image": e["images"] = [["src": "http://x/y.png"]]
        case "link without href": e["links"] = [["text": "x"]]
        case "misspelt field": e["dedupKey"] = "d"
        case "misspelt payload field": e["payload"] = ["summary": "s", "source": "x", "severity": "info", "details": [:]]
        case "resolve without key": e["event_action"] = "resolve"; e["dedup_key"] = nil
        default: Testing.Issue.record("no case \(name)")
        }
    }

    @Test(arguments: [
        ("missing routing key", "'routing_key' is missing"),
        ("31-character key", "'routing_key' must be 32 characters"),
        ("bad action", "'event_action' must be one of"),
        ("bad severity", "'payload.severity'"),
        ("no summary", "'payload.summary' is missing"),
        ("summary 1025", "at most 1024"),
        ("no source", "'payload.source'"),
        ("no payload", "'payload' is required"),
        ("bad timestamp", "'payload.timestamp'"),
        ("dedup_key 256", "at most 255"),
        ("http image", "'images[0].src'"),
        ("link without href", "'links[0].href'"),
        ("misspelt field", "unknown field 'dedupKey'"),
        ("misspelt payload field", "unknown field 'payload.details'"),
        ("resolve without key", "'dedup_key' is required for resolve"),
    ])
    func rejects(name: String, error: String) async throws {
        let double = try await PagerDutyDouble.start()
        defer { stopLater { await double.stop() } }
        let response = try await Self.post(double, json: Self.trigger { Self.breakEvent(name, &$0) })
        #expect(response.status == 400, "\(name)")
        let body = try IssueCoding.decode(JSONValue.self, from: response.body)
        #expect(body["status"]?.stringValue == "invalid event")
        #expect(body["message"]?.stringValue == "Event object is invalid")
        let errors = body["errors"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(errors.contains { $0.contains(error) }, "\(name): \(errors)")
        #expect(double.alerts.isEmpty && double.events.isEmpty)
    }

    @Test func rejectsWrongContentTypeAndBadJSON() async throws {
        let double = try await PagerDutyDouble.start()
        defer { stopLater { await double.stop() } }
        #expect(try await Self.post(double, body: try IssueCoding.encode(Self.trigger()), contentType: "text/plain").status == 400)
        #expect(try await Self.post(double, body: Array("{not json".utf8)).status == 400)
        #expect(double.rejections.map(\.errors.first) == ["Content-Type must be application/json", "Could not parse the event as a JSON object"])
    }

    @Test func rejectsEventsOver512KB() async throws {
        let double = try await PagerDutyDouble.start()
        defer { stopLater { await double.stop() } }
        let big = Self.trigger { e in
            e["payload"] = ["summary": "s", "source": "x", "severity": "info", "custom_details": ["log": .string(String(repeating: "x", count: 512_000))]]
        }
        #expect(try await Self.post(double, json: big).status == 413)
        #expect(double.alerts.isEmpty)
    }

    @Test func unknownKeysAreInvalidWhenKeysAreListed() async throws {
        let double = try await PagerDutyDouble.start(routingKeys: ["0123456789abcdef0123456789abcdef"])
        defer { stopLater { await double.stop() } }
        #expect(try await Self.post(double, json: Self.trigger()).status == 400)
        #expect(double.rejections.first?.errors == ["Invalid routing key"])
    }

    @Test func alertStateMachine() async throws {
        let double = try await PagerDutyDouble.start()
        defer { stopLater { await double.stop() } }
        let resolve: JSONValue = ["routing_key": .string(Self.key), "event_action": "resolve", "dedup_key": "d-1"]
        let ack: JSONValue = ["routing_key": .string(Self.key), "event_action": "acknowledge", "dedup_key": "d-1"]
        // Resolve and ack before any trigger: accepted, dropped, nothing created.
        #expect(try await Self.post(double, json: resolve).status == 202)
        #expect(double.alerts.isEmpty)
        #expect(double.events.last?.applied == false)
        #expect(try await Self.post(double, json: Self.trigger()).status == 202)
        #expect(try await Self.post(double, json: ack).status == 202)
        #expect(double.alert(dedupKey: "d-1")?.status == .acknowledged)
        #expect(try await Self.post(double, json: resolve).status == 202)
        #expect(double.alert(dedupKey: "d-1")?.status == .resolved)
        // A resolve with another routing key does not touch the alert.
        #expect(try await Self.post(double, json: Self.trigger()).status == 202)
        let otherKey: JSONValue = ["routing_key": "ffffffffffffffffffffffffffffffff", "event_action": "resolve", "dedup_key": "d-1"]
        #expect(try await Self.post(double, json: otherKey).status == 202)
        #expect(double.events.last?.applied == false)
        #expect(double.alerts.map(\.status) == [.resolved, .triggered], "a trigger after resolve opens a new alert")
    }

    @Test func changeEvents() async throws {
        let double = try await PagerDutyDouble.start()
        defer { stopLater { await double.stop() } }
        let change: JSONValue = ["routing_key": .string(Self.key), "payload": ["summary": "deployed v2", "source": "helm", "timestamp": "2026-01-01T00:00:00Z"]]
        let response = try await Self.post(double, "/v2/change/enqueue", json: change)
        #expect(response.status == 202)
        #expect(try IssueCoding.decode(JSONValue.self, from: response.body)["message"]?.stringValue == "Change event processed")
        #expect(double.changeEvents.count == 1)
        let ruleset: JSONValue = ["routing_key": "R0123456789abcdef0123456789abcde", "payload": ["summary": "x"]]
        #expect(try await Self.post(double, "/v2/change/enqueue", json: ruleset).status == 400)
        let withAction: JSONValue = ["routing_key": .string(Self.key), "event_action": "trigger", "payload": ["summary": "x"]]
        #expect(try await Self.post(double, "/v2/change/enqueue", json: withAction).status == 400)
        #expect(try await Self.post(double, "/v2/other", json: change).status == 404)
    }

    @Test func scriptedFaults() async throws {
        let double = try await PagerDutyDouble.start()
        defer { stopLater { await double.stop() } }
        double.inject(.rateLimited)
        double.inject(.serverError(503))
        let limited = try await Self.post(double, json: Self.trigger())
        #expect(limited.status == 429)
        #expect(limited.header("Retry-After") == nil, "PagerDuty sends none")
        #expect(try await Self.post(double, json: Self.trigger()).status == 503)
        #expect(try await Self.post(double, json: Self.trigger()).status == 202)
        #expect(double.requests.count == 3)
        #expect(double.alertEvents.count == 1, "faulted requests are not processed")
    }
}
