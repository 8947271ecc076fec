#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Collector
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Synchronization

/// A PagerDuty Events API v2 test double: real HTTP on 127.0.0.1 (ephemeral port) that
/// enforces the contract in destinations.md §3, so a plugin that passes against it sends
/// what the real service accepts.
///
/// - `POST /v2/enqueue` (alert events) and `POST /v2/change/enqueue` (change events); any
///   other path is 404, any other method 405.
/// - Rejects, with PagerDuty's 400 body (`{"status":"invalid event","message":"Event object
///   is invalid","errors":[…]}`): a body that is not JSON or not `application/json`; a
///   missing routing key, one that is not 32 characters, or (with `routingKeys`) one it
///   does not know; an unknown `event_action`; a `dedup_key` over 255 characters or missing
///   on acknowledge/resolve; a trigger without `payload`, `summary` (or one over 1024
///   characters), `source` or a valid `severity`; a bad `timestamp`; `images` without an
///   https `src`; `links` without `href`; unknown fields (stricter than PagerDuty, which
///   ignores them: here a misspelt field is a test failure, not a silent loss); a ruleset
///   key (`R…`) on a change event. An event over 512,000 bytes gets 413.
/// - Keeps PagerDuty's alert state per (routing_key, dedup_key): trigger opens an alert
///   (or adds to the open one), acknowledge and resolve apply to the open alert and are
///   dropped when there is none, and a trigger after resolve opens a new alert.
/// - Scriptable faults (``inject(_:times:)``): 429 without Retry-After, as PagerDuty sends
///   it; 5xx with an HTML body, as its load balancers send it; any status and body.
/// - Records every request, every accepted event and every rejection.
///
/// ```swift
/// let pagerduty = try await PagerDutyDouble.start()
/// // config: url: pagerduty.url, routing_key: PagerDutyDouble.sampleRoutingKey
/// ```
public final class PagerDutyDouble: Sendable {
    /// A well-formed integration key (32 letters and digits) tests can use.
    public static let sampleRoutingKey = "e93facc04764012d7bfb002500d5d1a6"

    /// The underlying recording server.
    public let server: CaptureServer
    let model: PagerDutyDoubleModel

    private init(server: CaptureServer, model: PagerDutyDoubleModel) {
        self.server = server
        self.model = model
    }

    /// Starts a double. With `routingKeys`, only those keys are accepted (others get 400
    /// "Invalid routing key"); without, any well-formed key is. With `tls`, it speaks HTTPS.
    public static func start(routingKeys: Set<String>? = nil, tls: TestCertificate? = nil) async throws -> PagerDutyDouble {
        let model = PagerDutyDoubleModel(routingKeys: routingKeys)
        let builder: HTTPServerBuilder = try tls.map { certificate in
            try .tls(.http1(), tlsConfiguration: .makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(certificate.certificatePEM.utf8), format: .pem))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.privateKeyPEM.utf8), format: .pem))))
        } ?? .http1()
        let server = try await CaptureServer.start(server: builder, scheme: tls == nil ? "http" : "https") { request in
            model.handle(request)
        }
        return PagerDutyDouble(server: server, model: model)
    }

    /// `http://127.0.0.1:<port>`: the plugin's `url`.
    public var url: String { server.baseURL }

    /// Stops the server.
    public func stop() async { await server.stop() }

    // MARK: - Scripting

    /// Answers the next `times` requests with `fault` instead of processing them.
    public func inject(_ fault: PagerDutyFault, times: Int = 1) {
        model.state.withLock { $0.faults += Array(repeating: fault, count: times) }
    }

    // MARK: - Inspecting

    /// Every HTTP request received, in order (faulted and rejected ones included).
    public var requests: [CaptureServer.Request] { server.requests }
    /// Alert and change events accepted (202), in order.
    public var events: [PagerDutyDoubleEvent] { model.state.withLock { $0.events } }
    /// Accepted alert events only (trigger, acknowledge, resolve).
    public var alertEvents: [PagerDutyDoubleEvent] { events.filter { $0.action != "change" } }
    /// Accepted change events only.
    public var changeEvents: [PagerDutyDoubleEvent] { events.filter { $0.action == "change" } }
    /// Requests answered 400 or 413, with the errors the double gave.
    public var rejections: [PagerDutyRejection] { model.state.withLock { $0.rejections } }
    /// Alerts, oldest first (a trigger after a resolve makes a second one).
    public var alerts: [PagerDutyAlert] { model.state.withLock { $0.alerts } }
    /// The latest alert with this dedup key.
    public func alert(dedupKey: String) -> PagerDutyAlert? { alerts.last { $0.dedupKey == dedupKey } }
}

/// An answer the double gives instead of processing a request.
public enum PagerDutyFault: Sendable {
    /// 429 with PagerDuty's "throttle event" body and no Retry-After, as PagerDuty sends it.
    case rateLimited
    /// A 5xx with an HTML page, as a load balancer in front of PagerDuty sends it.
    case serverError(Int)
    /// Anything else.
    case response(CaptureServer.Response)
}

/// One accepted event.
public struct PagerDutyDoubleEvent: Sendable {
    /// "trigger", "acknowledge", "resolve" or "change".
    public var action: String
    public var routingKey: String
    /// The key sent, or the one the double generated; nil for change events.
    public var dedupKey: String?
    /// False for an acknowledge or resolve that found no open alert (PagerDuty drops it).
    public var applied: Bool
    /// The whole event as sent.
    public var body: JSONValue
    /// `payload`, or nil.
    public var payload: JSONValue? { body["payload"] }
    /// `payload.custom_details`, or nil.
    public var customDetails: [String: JSONValue]? { payload?["custom_details"]?.objectValue }
}

/// A request the double refused.
public struct PagerDutyRejection: Sendable {
    public var status: Int
    public var errors: [String]
    /// The request path.
    public var path: String
}

/// An alert as PagerDuty keeps it.
public struct PagerDutyAlert: Sendable {
    public enum Status: String, Sendable { case triggered, acknowledged, resolved }
    public var routingKey: String
    public var dedupKey: String
    public var status: Status
    /// Triggers deduplicated into this alert, the first included.
    public var triggers: Int
    /// The last trigger's payload.
    public var payload: JSONValue?
}

/// The double's rules and state, apart from the HTTP glue so they read top to bottom.
final class PagerDutyDoubleModel: Sendable {
    struct State {
        var faults: [PagerDutyFault] = []
        var events: [PagerDutyDoubleEvent] = []
        var rejections: [PagerDutyRejection] = []
        var alerts: [PagerDutyAlert] = []
    }

    let state = Mutex(State())
    let routingKeys: Set<String>?

    /// PagerDuty's limits (destinations.md §3.1).
    static let maxEventBytes = 512_000
    static let maxSummary = 1024
    static let maxDedupKey = 255
    static let severities: Set<String> = ["critical", "error", "warning", "info"]
    static let actions: Set<String> = ["trigger", "acknowledge", "resolve"]
    static let alertFields: Set<String> = ["routing_key", "event_action", "dedup_key", "payload", "images", "links", "client", "client_url"]
    static let payloadFields: Set<String> = ["summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"]
    static let changeFields: Set<String> = ["routing_key", "payload", "links"]
    static let changePayloadFields: Set<String> = ["summary", "source", "timestamp", "custom_details"]

    init(routingKeys: Set<String>?) { self.routingKeys = routingKeys }

    func handle(_ request: CaptureServer.Request) -> CaptureServer.Response {
        if let fault = state.withLock({ $0.faults.isEmpty ? nil : $0.faults.removeFirst() }) {
            switch fault {
            case .rateLimited:
                return json(429, ["status": .string("throttle event"), "message": .string("Requests for this service are arriving too quickly.  Please retry later.")])
            case .serverError(let status):
                return CaptureServer.Response(status: status, headers: [("Content-Type", "text/html")],
                                              body: Array("<html><body><h1>\(status) Server Error</h1>\n</body></html>".utf8))
            case .response(let response):
                return response
            }
        }
        let path = String(request.target.prefix { $0 != "?" })
        guard path == "/v2/enqueue" || path == "/v2/change/enqueue" else {
            return CaptureServer.Response(status: 404, body: Array("not found".utf8))
        }
        guard request.method == "POST" else { return CaptureServer.Response(status: 405) }
        // PagerDuty documents application/json as the only body type [doc]; the status for
        // another is not documented, so the double answers the usual invalid-event 400 [inf].
        guard request.header("Content-Type")?.lowercased().hasPrefix("application/json") == true else {
            return reject(400, path, ["Content-Type must be application/json"])
        }
        guard request.body.count <= Self.maxEventBytes else {
            return reject(413, path, ["Event object exceeds the 512 KB limit (\(request.body.count) bytes)"])
        }
        guard case .object(let event)? = try? IssueCoding.decode(JSONValue.self, from: request.body) else {
            return reject(400, path, ["Could not parse the event as a JSON object"])
        }
        return path == "/v2/enqueue" ? alertEvent(event, path: path) : changeEvent(event, path: path)
    }

    private func alertEvent(_ event: [String: JSONValue], path: String) -> CaptureServer.Response {
        var errors = unknownFields(event, allowed: Self.alertFields, prefix: "")
        let routingKey = checkRoutingKey(event["routing_key"], errors: &errors)
        let action = event["event_action"]?.stringValue ?? ""
        if !Self.actions.contains(action) { errors.append("'event_action' must be one of trigger, acknowledge, resolve") }
        var dedupKey: String?
        switch event["dedup_key"] {
        case nil, .null?: if action == "acknowledge" || action == "resolve" { errors.append("'dedup_key' is required for \(action)") }
        case .string(let key)?:
            if key.count > Self.maxDedupKey { errors.append("'dedup_key' must be at most 255 characters") }
            if key.isEmpty && action != "trigger" { errors.append("'dedup_key' is required for \(action)") }
            dedupKey = key.isEmpty ? nil : key
        default: errors.append("'dedup_key' must be a string")
        }
        if action == "trigger" {
            if case .object(let payload)? = event["payload"] {
                errors += unknownFields(payload, allowed: Self.payloadFields, prefix: "payload.")
                checkSummary(payload["summary"], errors: &errors)
                if payload["source"]?.stringValue?.isEmpty != false { errors.append("'payload.source' is missing or blank") }
                if !Self.severities.contains(payload["severity"]?.stringValue ?? "") {
                    errors.append("'payload.severity' must be one of critical, error, warning, info")
                }
                checkOptional(payload, ["timestamp", "component", "group", "class"], prefix: "payload.", errors: &errors)
                if let ts = payload["timestamp"]?.stringValue, RFC3339.parse(ts) == nil { errors.append("'payload.timestamp' is not an ISO 8601 timestamp") }
                if let details = payload["custom_details"], details.objectValue == nil { errors.append("'payload.custom_details' must be an object") }
            } else {
                errors.append("'payload' is required for trigger")
            }
            checkImages(event["images"], errors: &errors)
        }
        checkLinks(event["links"], errors: &errors)
        checkOptional(event, ["client", "client_url"], prefix: "", errors: &errors)
        guard errors.isEmpty, let routingKey else { return reject(400, path, errors) }

        let key = dedupKey ?? UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let applied: Bool = state.withLock { s in
            let open = s.alerts.lastIndex { $0.routingKey == routingKey && $0.dedupKey == key && $0.status != .resolved }
            switch action {
            case "trigger":
                if let open {
                    s.alerts[open].triggers += 1
                    s.alerts[open].payload = event["payload"]
                } else {
                    s.alerts.append(PagerDutyAlert(routingKey: routingKey, dedupKey: key, status: .triggered, triggers: 1, payload: event["payload"]))
                }
                return true
            case "acknowledge":
                guard let open else { return false }
                s.alerts[open].status = .acknowledged
                return true
            default:
                guard let open else { return false }
                s.alerts[open].status = .resolved
                return true
            }
        }
        state.withLock { $0.events.append(PagerDutyDoubleEvent(action: action, routingKey: routingKey, dedupKey: key, applied: applied, body: .object(event))) }
        return json(202, ["status": .string("success"), "message": .string("Event processed"), "dedup_key": .string(key)])
    }

    private func changeEvent(_ event: [String: JSONValue], path: String) -> CaptureServer.Response {
        var errors = unknownFields(event, allowed: Self.changeFields, prefix: "")
        let routingKey = checkRoutingKey(event["routing_key"], errors: &errors)
        if routingKey?.hasPrefix("R") == true { errors.append("change events need a service integration key, not a ruleset (R…) key") }
        if case .object(let payload)? = event["payload"] {
            errors += unknownFields(payload, allowed: Self.changePayloadFields, prefix: "payload.")
            checkSummary(payload["summary"], errors: &errors)
            checkOptional(payload, ["source", "timestamp"], prefix: "payload.", errors: &errors)
            if let ts = payload["timestamp"]?.stringValue, RFC3339.parse(ts) == nil { errors.append("'payload.timestamp' is not an ISO 8601 timestamp") }
            if let details = payload["custom_details"], details.objectValue == nil { errors.append("'payload.custom_details' must be an object") }
        } else {
            errors.append("'payload' is required")
        }
        checkLinks(event["links"], errors: &errors)
        guard errors.isEmpty, let routingKey else { return reject(400, path, errors) }
        state.withLock { $0.events.append(PagerDutyDoubleEvent(action: "change", routingKey: routingKey, dedupKey: nil, applied: true, body: .object(event))) }
        return json(202, ["status": .string("success"), "message": .string("Change event processed")])
    }

    // MARK: - Rules

    private func checkRoutingKey(_ value: JSONValue?, errors: inout [String]) -> String? {
        guard case .string(let key)? = value, !key.isEmpty else {
            errors.append("'routing_key' is missing or blank")
            return nil
        }
        guard key.count == 32 else {
            errors.append("'routing_key' must be 32 characters")
            return nil
        }
        if let known = routingKeys, !known.contains(key) {
            errors.append("Invalid routing key")
            return nil
        }
        return key
    }

    private func checkSummary(_ value: JSONValue?, errors: inout [String]) {
        guard case .string(let summary)? = value, !summary.isEmpty else {
            errors.append("'payload.summary' is missing or blank")
            return
        }
        // PagerDuty counts characters; Unicode scalars, as its Go clients do.
        if summary.unicodeScalars.count > Self.maxSummary { errors.append("'payload.summary' must be at most 1024 characters") }
    }

    private func checkOptional(_ object: [String: JSONValue], _ keys: [String], prefix: String, errors: inout [String]) {
        for key in keys {
            if let value = object[key], value.stringValue == nil { errors.append("'\(prefix)\(key)' must be a string") }
        }
    }

    private func checkImages(_ value: JSONValue?, errors: inout [String]) {
        guard let value else { return }
        guard let images = value.arrayValue else { errors.append("'images' must be an array"); return }
        for (i, image) in images.enumerated() {
            guard let src = image["src"]?.stringValue, src.hasPrefix("https://") else {
                errors.append("'images[\(i)].src' is required and must be an https URL")
                continue
            }
            if let object = image.objectValue { errors += unknownFields(object, allowed: ["src", "href", "alt"], prefix: "images[\(i)].") }
        }
    }

    private func checkLinks(_ value: JSONValue?, errors: inout [String]) {
        guard let value else { return }
        guard let links = value.arrayValue else { errors.append("'links' must be an array"); return }
        for (i, link) in links.enumerated() {
            if link["href"]?.stringValue?.isEmpty != false { errors.append("'links[\(i)].href' is required") }
            if let object = link.objectValue { errors += unknownFields(object, allowed: ["href", "text"], prefix: "links[\(i)].") }
        }
    }

    private func unknownFields(_ object: [String: JSONValue], allowed: Set<String>, prefix: String) -> [String] {
        object.keys.sorted().filter { !allowed.contains($0) }.map { "unknown field '\(prefix)\($0)'" }
    }

    // MARK: - Answers

    private func reject(_ status: Int, _ path: String, _ errors: [String]) -> CaptureServer.Response {
        state.withLock { $0.rejections.append(PagerDutyRejection(status: status, errors: errors, path: path)) }
        return json(status, ["status": .string("invalid event"), "message": .string("Event object is invalid"), "errors": .array(errors.map(JSONValue.string))])
    }

    private func json(_ status: Int, _ body: [String: JSONValue]) -> CaptureServer.Response {
        CaptureServer.Response(status: status, headers: [("Content-Type", "application/json")], body: (try? IssueCoding.encode(JSONValue.object(body))) ?? [])
    }
}
