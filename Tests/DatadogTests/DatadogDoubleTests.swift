import CanoSDK
import Foundation
import Testing
import TestSupport

/// The double refuses what Datadog refuses (or would rewrite), so the plugin tests mean something.
@Suite struct DatadogDoubleTests {
    let key = "double0test0key0000000000000000a"

    func post(_ double: DatadogDouble, _ path: String, _ body: String, headers: [String: String]? = nil) async throws -> HTTPResponse {
        _ = curlSetup
        let sent = headers ?? ["DD-API-KEY": key, "Content-Type": "application/json"]
        let request = HTTPRequest(method: "POST", url: double.url + path, headers: sent.map { HTTPHeader(name: $0.key, value: $0.value) },
                                  body: Array(body.utf8), timeout: .seconds(30))
        return try await BlockingThread.run { () throws(HTTPClientError) -> HTTPResponse in try HTTPClient().send(request) }
    }

    static let v1OK = #"{"title":"t","text":"x","alert_type":"error","aggregation_key":"k","tags":["a:b"]}"#
    static let v2OK = #"{"data":{"type":"event","attributes":{"title":"t","category":"alert","attributes":{"status":"error"}}}}"#

    @Test func acceptsWellFormedEventsOnBothPaths() async throws {
        let double = try await DatadogDouble.start(apiKeys: [key])
        defer { stopLater { await double.stop() } }
        #expect(try await post(double, "/api/v1/events", Self.v1OK).status == 202)
        #expect(try await post(double, "/api/v2/events", Self.v2OK).status == 202)
        #expect(double.events.map(\.version) == ["v1", "v2"])
        #expect(double.events.map(\.alertType) == ["error", "error"])
    }

    @Test func refusals() async throws {
        let double = try await DatadogDouble.start(site: "UK1", apiKeys: [key])
        defer { stopLater { await double.stop() } }
        // UK1 has no v1 host.
        #expect(try await post(double, "/api/v1/events", Self.v1OK).status == 404)
        // No or wrong key.
        #expect(try await post(double, "/api/v2/events", Self.v2OK, headers: ["Content-Type": "application/json"]).status == 403)
        #expect(try await post(double, "/api/v2/events", Self.v2OK, headers: ["DD-API-KEY": "nope0000", "Content-Type": "application/json"]).status == 403)
        // Not JSON.
        #expect(try await post(double, "/api/v2/events", Self.v2OK, headers: ["DD-API-KEY": key, "Content-Type": "text/plain"]).status == 400)
        // An alert without status, a bad tag, an over-long message, an unknown field.
        let bad = [
            #"{"data":{"type":"event","attributes":{"title":"t","category":"alert","attributes":{}}}}"#,
            #"{"data":{"type":"event","attributes":{"title":"t","category":"alert","attributes":{"status":"ok"},"tags":["Team:A"]}}}"#,
            #"{"data":{"type":"event","attributes":{"title":"t","category":"alert","attributes":{"status":"ok"},"message":"\#(String(repeating: "m", count: 4_001))"}}}"#,
            #"{"data":{"type":"event","attributes":{"title":"t","category":"alert","attributes":{"status":"ok"},"text":"x"}}}"#,
        ]
        for body in bad {
            let response = try await post(double, "/api/v2/events", body)
            #expect(response.status == 400, "\(body.prefix(120))")
            #expect(response.text.contains(#""detail""#), "v2 errors are JSON:API objects")
        }
        #expect(double.events.isEmpty)
        #expect(double.rejections.count == 8)
    }

    @Test func v1Limits() async throws {
        let double = try await DatadogDouble.start(apiKeys: [key])
        defer { stopLater { await double.stop() } }
        let longTitle = #"{"title":"\#(String(repeating: "t", count: 101))","text":"x"}"#
        let response = try await post(double, "/api/v1/events", longTitle)
        #expect(response.status == 400)
        #expect(response.text.contains("'title' must be at most 100 characters"))
        #expect(try await post(double, "/api/v1/events", #"{"title":"t"}"#).status == 400, "text is required")
        #expect(try await post(double, "/api/v1/events", #"{"title":"t","text":"x","alert_type":"critical"}"#).status == 400)
    }

    /// `GET /api/v1/validate`, the key check create makes: 200 `{"valid":true}` for a key
    /// the double accepts, else 403 `{"errors":["Forbidden"]}`, as Datadog answers; it is
    /// kept apart from the event requests.
    @Test func validateEndpoint() async throws {
        let double = try await DatadogDouble.start(site: "UK1", apiKeys: [key])
        defer { stopLater { await double.stop() } }
        func get(_ headers: [String: String]) async throws -> HTTPResponse {
            let request = HTTPRequest(method: "GET", url: double.url + "/api/v1/validate",
                                      headers: headers.map { HTTPHeader(name: $0.key, value: $0.value) }, timeout: .seconds(30))
            return try await BlockingThread.run { () throws(HTTPClientError) -> HTTPResponse in try HTTPClient().send(request) }
        }
        _ = curlSetup
        let good = try await get(["DD-API-KEY": key])
        #expect(good.status == 200)
        #expect(try IssueCoding.decode(JSONValue.self, from: good.body) == ["valid": true])
        let wrong = try await get(["DD-API-KEY": "nope0000"])
        #expect(wrong.status == 403)
        #expect(try IssueCoding.decode(JSONValue.self, from: wrong.body) == ["errors": ["Forbidden"]])
        #expect(try await get([:]).status == 403, "no key")
        #expect(try await post(double, "/api/v1/validate", "{}").status == 405)
        #expect(double.keyChecks.count == 4)
        #expect(double.requests.isEmpty, "key checks are not event requests")
        #expect(double.allRequests.count == 4)
        #expect(double.rejections.map(\.status) == [403, 403, 405])
    }

    @Test func scriptedRateLimit() async throws {
        let double = try await DatadogDouble.start(apiKeys: [key])
        defer { stopLater { await double.stop() } }
        double.inject(.rateLimited(reset: 9))
        let response = try await post(double, "/api/v2/events", Self.v2OK)
        #expect(response.status == 429)
        #expect(response.header("X-RateLimit-Reset") == "9")
        #expect(response.header("Retry-After") == nil)
        #expect(try await post(double, "/api/v2/events", Self.v2OK).status == 202)
    }
}
