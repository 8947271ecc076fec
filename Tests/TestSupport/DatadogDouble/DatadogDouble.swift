#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Collector
import Synchronization

/// A Datadog Events API test double: real HTTP on 127.0.0.1 (ephemeral port) that enforces
/// the contract in destinations.md §6, so a plugin that passes against it sends what the
/// real service accepts.
///
/// - It plays one site (§6.1): `POST /api/v1/events` only where the site has a v1 API host,
///   `POST /api/v2/events` only where it has the v2 intake; another path is 404, another
///   method 405. (The real hosts differ per version; the double serves both on one port.)
/// - Auth: `DD-API-KEY` must be one of `apiKeys`, else 403 `{"errors":["Forbidden"]}`.
/// - Key validation: `GET /api/v1/validate` answers 200 `{"valid":true}` for a key in
///   `apiKeys`, else 403 `{"errors":["Forbidden"]}`; another method is 405. The real
///   endpoint lives on the site's API host; the double serves it on every site (a test that
///   points `api_url` at the double is asking for it there).
/// - `Content-Type: application/json` and a JSON object, else 400.
/// - v1 (§6.2): `title` (≤ 100) and `text` (≤ 4,000) required; `alert_type`, `priority`
///   from their lists; `aggregation_key` ≤ 100; `date_happened` an integer ≤ 18 h old.
/// - v2 (§6.3): `data.type` = `event`; `title` (≤ 500) and `category` (`change`|`alert`)
///   required; an alert needs `attributes.status` (`ok`|`warn`|`error`); `priority` "1"…"5";
///   `custom` ≤ 100 properties; `links` ≤ 20; `message` ≤ 4,000; `aggregation_key` ≤ 100;
///   `timestamp` ISO 8601 ≤ 18 h old; `host` ≤ 255.
/// - Tags (both): ≤ 100 strings, each already in Datadog's form (starts with a letter; lower
///   case letters, digits, `_ - : . /`; ≤ 200). The real service rewrites a bad tag instead
///   of refusing it; the double refuses, so a plugin whose tags Datadog would alter fails.
/// - Unknown fields are refused (400): a misspelt field is a test failure, not a silent loss.
/// - Rejections use Datadog's shapes: v1 `{"errors":["…"]}`, v2 JSON:API
///   `{"errors":[{"status","title","detail"}]}`. Accepted events answer 202: v1
///   `{"status":"ok","event":{"id","id_str",…}}`, v2 `{"data":{"id","type":"event"}}` (the v2
///   success body is inferred, §6 does not give it).
/// - Scriptable faults (``inject(_:times:)``): 429 with the `X-RateLimit-*` headers and no
///   Retry-After, as Datadog sends it; a 5xx; any response.
/// - Records every request, every accepted event and every rejection.
public final class DatadogDouble: Sendable {
    /// The sites of §6.1 and the API versions each serves events on.
    public static let siteVersions: [String: Set<String>] = [
        "US1": ["v1", "v2"], "US3": ["v1", "v2"], "US5": ["v1", "v2"], "EU1": ["v1", "v2"], "AP1": ["v1", "v2"],
        "AP2": ["v1", "v2"], "UK1": ["v2"], "US1-FED": ["v1", "v2"], "US2-FED": ["v1", "v2"],
    ]

    /// The recording HTTP server underneath.
    public let server: CaptureServer
    let model: DatadogDoubleModel

    private init(server: CaptureServer, model: DatadogDoubleModel) {
        self.server = server
        self.model = model
    }

    /// Starts a double for `site` (a §6.1 name) that accepts the keys in `apiKeys`.
    public static func start(site: String = "US1", apiKeys: Set<String>) async throws -> DatadogDouble {
        let model = DatadogDoubleModel(versions: siteVersions[site] ?? [], apiKeys: apiKeys)
        let server = try await CaptureServer.start { request in model.handle(request) }
        return DatadogDouble(server: server, model: model)
    }

    /// `http://127.0.0.1:<port>`: the plugin's `api_url`.
    public var url: String { server.baseURL }

    /// Stops the server.
    public func stop() async { await server.stop() }

    /// Answers the next `times` requests with `fault` instead of processing them.
    public func inject(_ fault: DatadogFault, times: Int = 1) {
        model.state.withLock { $0.faults += Array(repeating: fault, count: times) }
    }

    /// The Events API requests received (everything but the key checks), in order, faulted
    /// and rejected ones included: what deliveries sent.
    public var requests: [CaptureServer.Request] { server.requests.filter { !Self.isKeyCheck($0) } }
    /// The key checks received (`/api/v1/validate`, what a plugin's create sends), in order.
    public var keyChecks: [CaptureServer.Request] { server.requests.filter(Self.isKeyCheck) }
    /// Every HTTP request received, in order.
    public var allRequests: [CaptureServer.Request] { server.requests }
    /// Events accepted (202), in order.
    public var events: [DatadogDoubleEvent] { model.state.withLock { $0.events } }
    /// Requests refused with 400, 403, 404 or 405, and why.
    public var rejections: [DatadogRejection] { model.state.withLock { $0.rejections } }
    /// Accepted events with this aggregation key, in order.
    public func events(aggregationKey: String) -> [DatadogDoubleEvent] { events.filter { $0.aggregationKey == aggregationKey } }

    /// The key validation path, where a plugin's create checks its key.
    public static let validatePath = "/api/v1/validate"

    static func isKeyCheck(_ request: CaptureServer.Request) -> Bool {
        request.target.prefix { $0 != "?" } == validatePath
    }
}

/// An answer the double gives instead of processing a request.
public enum DatadogFault: Sendable {
    /// 429 with `X-RateLimit-Reset: reset` (seconds) and the other `X-RateLimit-*` headers,
    /// no Retry-After, body `{"errors":["Too many requests"]}`.
    case rateLimited(reset: Int)
    /// A 5xx with Datadog's `{"errors":["Internal Server Error"]}`-style body.
    case serverError(Int)
    /// Anything else.
    case response(CaptureServer.Response)
}

/// One accepted event, in a form common to both versions.
public struct DatadogDoubleEvent: Sendable {
    /// "v1" or "v2".
    public var version: String
    public var apiKey: String
    public var title: String
    /// v1 `text`, v2 `message` ("" when absent).
    public var text: String
    /// v1 `alert_type` ("info" when absent, Datadog's default); v2 `attributes.status`
    /// (nil for a change event).
    public var alertType: String?
    public var aggregationKey: String?
    public var tags: [String]
    /// The id the double answered with.
    public var id: String
    /// The whole body as sent.
    public var body: JSONValue
}

/// A request the double refused.
public struct DatadogRejection: Sendable {
    public var status: Int
    public var errors: [String]
    public var path: String
}

/// The double's rules and state, apart from the HTTP glue so they read top to bottom.
final class DatadogDoubleModel: Sendable {
    struct State {
        var faults: [DatadogFault] = []
        var events: [DatadogDoubleEvent] = []
        var rejections: [DatadogRejection] = []
        var nextID: Int64 = 7_000_000_000_000_000_001
    }

    let state = Mutex(State())
    let versions: Set<String>
    let apiKeys: Set<String>

    static let v1Fields: Set<String> = [
        "title", "text", "alert_type", "aggregation_key", "priority", "tags", "host", "device_name", "source_type_name",
        "related_event_id", "date_happened",
    ]
    static let v2Fields: Set<String> = ["title", "category", "attributes", "message", "aggregation_key", "tags", "timestamp", "host", "integration_id"]
    static let v2AlertFields: Set<String> = ["status", "priority", "custom", "links"]
    static let alertTypes: Set<String> = ["error", "warning", "info", "success", "user_update", "recommendation", "snapshot"]
    /// Events may be at most 18 hours old (§6.2, §6.3).
    static let maxAge: TimeInterval = 18 * 3600

    init(versions: Set<String>, apiKeys: Set<String>) {
        self.versions = versions
        self.apiKeys = apiKeys
    }

    func handle(_ request: CaptureServer.Request) -> CaptureServer.Response {
        if let fault = state.withLock({ $0.faults.isEmpty ? nil : $0.faults.removeFirst() }) {
            return answer(fault)
        }
        let path = String(request.target.prefix { $0 != "?" })
        if path == DatadogDouble.validatePath { return validate(request, path: path) }
        let version: String
        switch path {
        case "/api/v1/events": version = "v1"
        case "/api/v2/events": version = "v2"
        default: return reject(404, path, version: "v1", ["Not found"])
        }
        // The site has no host for this version: the real request would not resolve; a 404
        // is the nearest an HTTP double can answer.
        guard versions.contains(version) else { return reject(404, path, version: version, ["this site has no \(version) events host"]) }
        guard request.method == "POST" else { return reject(405, path, version: version, ["Method Not Allowed"]) }
        guard let key = request.header("DD-API-KEY"), apiKeys.contains(key) else { return reject(403, path, version: version, ["Forbidden"]) }
        guard request.header("Content-Type")?.lowercased().hasPrefix("application/json") == true else {
            return reject(400, path, version: version, ["Content-Type must be application/json"])
        }
        guard case .object(let body)? = try? IssueCoding.decode(JSONValue.self, from: request.body) else {
            return reject(400, path, version: version, ["Payload is not a JSON object"])
        }
        return version == "v1" ? v1(body, key: key, path: path) : v2(body, key: key, path: path)
    }

    // MARK: - Key validation

    /// `GET /api/v1/validate`: `{"valid":true}` for a known key; Datadog's 403 otherwise.
    private func validate(_ request: CaptureServer.Request, path: String) -> CaptureServer.Response {
        guard request.method == "GET" else { return reject(405, path, version: "v1", ["Method Not Allowed"]) }
        guard let key = request.header("DD-API-KEY"), apiKeys.contains(key) else { return reject(403, path, version: "v1", ["Forbidden"]) }
        return json(200, ["valid": .bool(true)])
    }

    // MARK: - v1

    private func v1(_ body: [String: JSONValue], key: String, path: String) -> CaptureServer.Response {
        var errors = unknown(body, allowed: Self.v1Fields, prefix: "")
        let title = required(body["title"], "title", max: 100, errors: &errors)
        let text = required(body["text"], "text", max: 4_000, errors: &errors)
        let alertType = optional(body["alert_type"], "alert_type", errors: &errors)
        if let alertType, !Self.alertTypes.contains(alertType) { errors.append("'alert_type' must be one of \(Self.alertTypes.sorted().joined(separator: ", "))") }
        if let priority = optional(body["priority"], "priority", errors: &errors), priority != "normal", priority != "low" {
            errors.append("'priority' must be normal or low")
        }
        let aggregationKey = optional(body["aggregation_key"], "aggregation_key", max: 100, errors: &errors)
        for field in ["host", "device_name", "source_type_name"] { _ = optional(body[field], field, errors: &errors) }
        if let date = body["date_happened"] {
            if let seconds = date.numberValue, seconds == seconds.rounded() {
                if Date().timeIntervalSince1970 - seconds > Self.maxAge { errors.append("'date_happened' is older than 18 hours") }
            } else {
                errors.append("'date_happened' must be a POSIX timestamp (integer)")
            }
        }
        let tags = checkTags(body["tags"], errors: &errors)
        guard errors.isEmpty else { return reject(400, path, version: "v1", errors) }
        let id = takeID()
        let event = DatadogDoubleEvent(
            version: "v1", apiKey: key, title: title ?? "", text: text ?? "", alertType: alertType ?? "info",
            aggregationKey: aggregationKey, tags: tags, id: String(id), body: .object(body))
        state.withLock { $0.events.append(event) }
        let echo: [String: JSONValue] = [
            "id": .number(Double(id)), "id_str": .string(String(id)), "title": .string(event.title), "text": .string(event.text),
            "date_happened": .number(Date().timeIntervalSince1970.rounded()), "tags": .array(tags.map(JSONValue.string)),
            "url": .string("https://app.datadoghq.com/event/event?id=\(id)"),
        ]
        return json(202, ["status": .string("ok"), "event": .object(echo)])
    }

    // MARK: - v2

    private func v2(_ body: [String: JSONValue], key: String, path: String) -> CaptureServer.Response {
        var errors = unknown(body, allowed: ["data"], prefix: "")
        guard case .object(let data)? = body["data"] else { return reject(400, path, version: "v2", errors + ["'data' is required"]) }
        errors += unknown(data, allowed: ["type", "attributes"], prefix: "data.")
        if data["type"]?.stringValue != "event" { errors.append("'data.type' must be \"event\"") }
        guard case .object(let attributes)? = data["attributes"] else {
            return reject(400, path, version: "v2", errors + ["'data.attributes' is required"])
        }
        errors += unknown(attributes, allowed: Self.v2Fields, prefix: "data.attributes.")
        let title = required(attributes["title"], "data.attributes.title", max: 500, errors: &errors)
        let category = required(attributes["category"], "data.attributes.category", max: 20, errors: &errors)
        if let category, category != "alert", category != "change" { errors.append("'data.attributes.category' must be alert or change") }
        let message = optional(attributes["message"], "data.attributes.message", max: 4_000, errors: &errors)
        let aggregationKey = optional(attributes["aggregation_key"], "data.attributes.aggregation_key", max: 100, errors: &errors)
        _ = optional(attributes["host"], "data.attributes.host", max: 255, errors: &errors)
        if let ts = optional(attributes["timestamp"], "data.attributes.timestamp", errors: &errors) {
            if let date = RFC3339.parse(ts) {
                if Date().timeIntervalSince(date) > Self.maxAge { errors.append("'data.attributes.timestamp' is older than 18 hours") }
            } else {
                errors.append("'data.attributes.timestamp' is not ISO 8601")
            }
        }
        var status: String?
        switch attributes["attributes"] {
        case .object(let alert)?:
            errors += unknown(alert, allowed: Self.v2AlertFields, prefix: "data.attributes.attributes.")
            status = optional(alert["status"], "data.attributes.attributes.status", errors: &errors)
            if category == "alert" && !["ok", "warn", "error"].contains(status ?? "") {
                errors.append("'data.attributes.attributes.status' is required for alert events: ok, warn or error")
            }
            if let priority = optional(alert["priority"], "data.attributes.attributes.priority", errors: &errors), !["1", "2", "3", "4", "5"].contains(priority) {
                errors.append("'data.attributes.attributes.priority' must be \"1\" to \"5\"")
            }
            if let custom = alert["custom"] {
                if let object = custom.objectValue {
                    if object.count > 100 { errors.append("'data.attributes.attributes.custom' has more than 100 properties") }
                } else {
                    errors.append("'data.attributes.attributes.custom' must be an object")
                }
            }
            if let links = alert["links"], (links.arrayValue?.count ?? 21) > 20 { errors.append("'data.attributes.attributes.links' must be an array of at most 20") }
        case nil: errors.append("'data.attributes.attributes' is required")
        default: errors.append("'data.attributes.attributes' must be an object")
        }
        let tags = checkTags(attributes["tags"], errors: &errors)
        guard errors.isEmpty else { return reject(400, path, version: "v2", errors) }
        let id = "AZ" + String(takeID())
        let event = DatadogDoubleEvent(
            version: "v2", apiKey: key, title: title ?? "", text: message ?? "", alertType: category == "alert" ? status : nil,
            aggregationKey: aggregationKey, tags: tags, id: id, body: .object(body))
        state.withLock { $0.events.append(event) }
        let answer: [String: JSONValue] = ["id": .string(id), "type": .string("event")]
        return json(202, ["data": .object(answer)])
    }

    // MARK: - Rules

    /// Tags as Datadog keeps them unaltered: ≤ 100, each starting with a letter, only lower
    /// case letters, digits and `_ - : . /`, ≤ 200 characters.
    private func checkTags(_ value: JSONValue?, errors: inout [String]) -> [String] {
        guard let value else { return [] }
        guard let items = value.arrayValue else { errors.append("'tags' must be an array of strings"); return [] }
        if items.count > 100 { errors.append("'tags' has more than 100 tags") }
        var tags: [String] = []
        for item in items {
            guard let tag = item.stringValue else { errors.append("'tags' must be an array of strings"); continue }
            tags.append(tag)
            if !Self.isDatadogTag(tag) { errors.append("tag \"\(tag)\" is not in Datadog's form (Datadog would rewrite it)") }
        }
        return tags
    }

    static func isDatadogTag(_ tag: String) -> Bool {
        guard let first = tag.unicodeScalars.first, first.properties.isAlphabetic, tag.unicodeScalars.count <= 200 else { return false }
        return tag.unicodeScalars.allSatisfy { s in
            (s.properties.isAlphabetic && !s.properties.isUppercase) || s.properties.numericType != nil || "_-:./".unicodeScalars.contains(s)
        }
    }

    private func required(_ value: JSONValue?, _ name: String, max: Int, errors: inout [String]) -> String? {
        guard case .string(let text)? = value, !text.isEmpty else {
            errors.append("'\(name)' is required")
            return nil
        }
        if text.unicodeScalars.count > max { errors.append("'\(name)' must be at most \(max) characters") }
        return text
    }

    private func optional(_ value: JSONValue?, _ name: String, max: Int = .max, errors: inout [String]) -> String? {
        guard let value else { return nil }
        guard case .string(let text) = value else {
            errors.append("'\(name)' must be a string")
            return nil
        }
        if text.unicodeScalars.count > max { errors.append("'\(name)' must be at most \(max) characters") }
        return text
    }

    private func unknown(_ object: [String: JSONValue], allowed: Set<String>, prefix: String) -> [String] {
        object.keys.sorted().filter { !allowed.contains($0) }.map { "unknown field '\(prefix)\($0)'" }
    }

    private func takeID() -> Int64 {
        state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
    }

    // MARK: - Answers

    private func answer(_ fault: DatadogFault) -> CaptureServer.Response {
        switch fault {
        case .rateLimited(let reset):
            let headers: [(name: String, value: String)] = [
                ("Content-Type", "application/json"), ("X-RateLimit-Limit", "250000"), ("X-RateLimit-Period", "60"),
                ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", String(reset)), ("X-RateLimit-Name", "events_submission"),
            ]
            return CaptureServer.Response(status: 429, headers: headers, body: Array(#"{"errors":["Too many requests"]}"#.utf8))
        case .serverError(let status):
            return CaptureServer.Response(status: status, headers: [("Content-Type", "application/json")],
                                          body: Array(#"{"errors":["Internal Server Error"]}"#.utf8))
        case .response(let response):
            return response
        }
    }

    private func reject(_ status: Int, _ path: String, version: String, _ errors: [String]) -> CaptureServer.Response {
        state.withLock { $0.rejections.append(DatadogRejection(status: status, errors: errors, path: path)) }
        if version == "v2" {
            let items = errors.map { error -> JSONValue in
                .object(["status": .string(String(status)), "title": .string(status == 400 ? "Bad Request" : status == 403 ? "Forbidden" : "Error"), "detail": .string(error)])
            }
            return json(status, ["errors": .array(items)])
        }
        return json(status, ["errors": .array(errors.map(JSONValue.string))])
    }

    private func json(_ status: Int, _ body: [String: JSONValue]) -> CaptureServer.Response {
        CaptureServer.Response(status: status, headers: [("Content-Type", "application/json")], body: (try? IssueCoding.encode(JSONValue.object(body))) ?? [])
    }
}
