#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Synchronization

/// An alert as the double stores it.
public struct OpsgenieDoubleAlert: Sendable, Equatable {
    /// The double's alert id ("alert-1", "alert-2"...; Opsgenie's are UUIDs).
    public var id: String
    /// The alias it was created with (its id when none was sent).
    public var alias: String
    /// "open" or "closed".
    public var status: String
    /// How many creates with this alias arrived while it was open (1 for the first).
    public var count: Int
    /// The create body that opened it, as sent.
    public var created: JSONValue
    /// The close body, when closed.
    public var closeBody: JSONValue?

    /// The create's `message`.
    public var message: String? { created["message"]?.stringValue }
    /// Whether a close by alias would find it.
    public var isOpen: Bool { status == "open" }
}

/// What `GET /v2/alerts/requests/{requestId}` reports for one accepted request.
public struct OpsgenieDoubleRequestStatus: Sendable, Equatable {
    /// The id the 202 answered.
    public var requestId: String
    /// "Create" or "Close".
    public var action: String
    /// False when processing failed (closing an alias with no open alert).
    public var success: Bool
    /// "Created alert", "Alert count incremented", "Closed alert", "Alert does not exist".
    public var status: String
    /// The alert it created or closed, if any.
    public var alertId: String?
    /// The alias it was about.
    public var alias: String?
}

/// One request the double received, with what it answered.
public struct OpsgenieDoubleCall: Sendable {
    /// "POST", "GET"...
    public var method: String
    /// The path, percent-decoded, without the query.
    public var path: String
    /// Query parameters as sent (`identifierType`...).
    public var query: [String: String]
    /// Every request header, lower-cased names.
    public var headers: [String: String]
    /// The body as JSON, when it was JSON.
    public var body: JSONValue?
    /// The body as received.
    public var rawBody: [UInt8]
    /// The HTTP status answered.
    public var status: Int
    /// The `message` of an error answer.
    public var error: String?
    /// The `errors` of a 422: field → problem.
    public var errors: [String: String]
    /// The `requestId` answered (also for errors, as Opsgenie does).
    public var requestId: String
}

/// A failure to answer instead of processing the next request.
public enum OpsgenieDoubleFault: Sendable, Equatable {
    /// HTTP 429 with `X-RateLimit-State: THROTTLED` (and `Retry-After: seconds` when given:
    /// Opsgenie documents none, but a proxy in front of it may add one).
    case rateLimited(retryAfter: Int?)
    /// An HTTP 5xx with a JSON error body.
    case serverError(Int)
    /// Any status with Opsgenie's error shape and this `message`.
    case error(status: Int, message: String)
    /// A 4xx whose `message` quotes the request's `Authorization` header, as some gateways
    /// do: the plugin must not pass the key on.
    case echoCredentials(status: Int)
    /// Answer only after this long (for client timeouts), then behave normally.
    case delay(Duration)
    /// Process the request normally, but answer 202 with an empty body (no `requestId`), as
    /// a proxy in front of Opsgenie may.
    case acceptedWithoutBody
}

/// The answer to one request.
struct OpsgenieDoubleReply: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    var delay: Duration?
}

/// The double's behaviour, free of HTTP: a request in, a reply out (destinations.md §4).
final class OpsgenieDoubleModel: Sendable {
    struct State {
        var alerts: [OpsgenieDoubleAlert] = []
        var requests: [String: OpsgenieDoubleRequestStatus] = [:]
        var calls: [OpsgenieDoubleCall] = []
        var faults: [OpsgenieDoubleFault] = []
        var sequence = 0
    }

    let apiKey: String
    let state = Mutex(State())

    init(apiKey: String) { self.apiKey = apiKey }

    /// Fields the create endpoint defines; anything else is rejected (see ``OpsgenieDouble``).
    static let createFields: Set<String> = [
        "message", "alias", "description", "responders", "visibleTo", "actions", "tags", "details", "entity", "source",
        "priority", "user", "note",
    ]
    static let closeFields: Set<String> = ["user", "source", "note"]
    static let responderIdentifiers: [String: Set<String>] = [
        "team": ["id", "name"], "user": ["id", "username"], "escalation": ["id", "name"], "schedule": ["id", "name"],
    ]

    func handle(method: String, target: String, headers: [String: String], body: [UInt8]) -> OpsgenieDoubleReply {
        let (segments, query) = Self.split(target)
        let requestId = state.withLock { s -> String in
            s.sequence += 1
            return "00000000-0000-4000-8000-\(String(format: "%012d", s.sequence))"
        }
        var call = OpsgenieDoubleCall(
            method: method, path: "/" + segments.joined(separator: "/"), query: query, headers: headers,
            body: try? IssueCoding.decode(JSONValue.self, from: body), rawBody: body, status: 0, error: nil, errors: [:],
            requestId: requestId)
        let fault = state.withLock { $0.faults.isEmpty ? nil : $0.faults.removeFirst() }
        var reply: OpsgenieDoubleReply
        switch fault {
        case .delay(let duration)?:
            // Processed now, answered late: what a client that timed out and retries meets.
            reply = route(&call, segments: segments, headers: headers)
            reply.delay = duration
        case .acceptedWithoutBody?:
            reply = route(&call, segments: segments, headers: headers)
            if reply.status == 202 { reply = OpsgenieDoubleReply(status: 202, headers: [], body: [], delay: nil) }
        case let fault?:
            // The fault replaces the answer: nothing is processed.
            reply = Self.faultReply(fault, call: &call, headers: headers)
        case nil:
            reply = route(&call, segments: segments, headers: headers)
        }
        call.status = reply.status
        let recorded = call
        state.withLock { $0.calls.append(recorded) }
        return reply
    }

    /// Validates and processes one request.
    private func route(_ call: inout OpsgenieDoubleCall, segments: [String], headers: [String: String]) -> OpsgenieDoubleReply {
        guard headers["authorization"] == "GenieKey " + apiKey else {
            return Self.error(401, "Could not authenticate", call: &call)
        }
        switch (call.method, segments.count) {
        case ("GET", 4) where segments[0] == "v2" && segments[1] == "alerts" && segments[2] == "requests":
            guard let status = state.withLock({ $0.requests[segments[3]] }) else {
                return Self.error(404, "Request not found", call: &call)
            }
            return Self.json(200, [
                "data": [
                    "success": .bool(status.success), "isSuccess": .bool(status.success), "action": .string(status.action),
                    "status": .string(status.status), "alertId": status.alertId.map(JSONValue.string) ?? .string(""),
                    "alias": status.alias.map(JSONValue.string) ?? .string(""), "processedAt": .string(RFC3339.format(Date())),
                ],
                "took": .number(0.002), "requestId": .string(call.requestId),
            ], requestId: call.requestId)
        case ("POST", 2) where segments == ["v2", "alerts"]:
            if let problem = Self.requireJSON(&call, headers: headers) { return problem }
            let errors = Self.validateCreate(call.body)
            if !errors.isEmpty { return Self.unprocessable(errors, call: &call) }
            create(call)
            return Self.accepted(call)
        case ("POST", 4) where segments[0] == "v2" && segments[1] == "alerts" && segments[3] == "close":
            // The body is optional; when present it must be JSON with the close fields only.
            if !call.rawBody.isEmpty {
                if let problem = Self.requireJSON(&call, headers: headers) { return problem }
                let errors = Self.validateClose(call.body)
                if !errors.isEmpty { return Self.unprocessable(errors, call: &call) }
            }
            let type = call.query["identifierType"] ?? "id"
            guard ["id", "alias", "tiny"].contains(type) else {
                return Self.unprocessable(["identifierType": "should be one of id, alias, tiny"], call: &call)
            }
            close(identifier: segments[2], type: type, call: call)
            return Self.accepted(call)
        default:
            return Self.error(404, "Could not find the requested resource", call: &call)
        }
    }

    // MARK: - Processing (what Opsgenie does later with an accepted request)

    private func create(_ call: OpsgenieDoubleCall) {
        guard let body = call.body else { return }
        state.withLock { s in
            let alias = body["alias"]?.stringValue
            if let alias, let index = s.alerts.firstIndex(where: { $0.alias == alias && $0.isOpen }) {
                // Dedup: an open alert with this alias only counts the repeat.
                s.alerts[index].count += 1
                s.requests[call.requestId] = .init(requestId: call.requestId, action: "Create", success: true,
                                                   status: "Alert count incremented", alertId: s.alerts[index].id, alias: alias)
                return
            }
            let id = "alert-\(s.alerts.count + 1)"
            s.alerts.append(OpsgenieDoubleAlert(id: id, alias: alias ?? id, status: "open", count: 1, created: body))
            s.requests[call.requestId] = .init(requestId: call.requestId, action: "Create", success: true, status: "Created alert",
                                               alertId: id, alias: alias ?? id)
        }
    }

    private func close(identifier: String, type: String, call: OpsgenieDoubleCall) {
        state.withLock { s in
            // Alias lookup matches only open (or acknowledged) alerts; a closed alias is gone.
            let index = s.alerts.firstIndex { alert in
                switch type {
                case "alias": alert.alias == identifier && alert.isOpen
                default: alert.id == identifier
                }
            }
            guard let index, s.alerts[index].isOpen else {
                s.requests[call.requestId] = .init(requestId: call.requestId, action: "Close", success: false,
                                                   status: "Alert does not exist", alertId: nil, alias: type == "alias" ? identifier : nil)
                return
            }
            s.alerts[index].status = "closed"
            s.alerts[index].closeBody = call.body ?? .object([:])
            s.requests[call.requestId] = .init(requestId: call.requestId, action: "Close", success: true, status: "Closed alert",
                                               alertId: s.alerts[index].id, alias: s.alerts[index].alias)
        }
    }

    // MARK: - Validation

    /// Characters as Opsgenie counts them: Unicode scalars.
    static func length(_ text: String) -> Int { text.unicodeScalars.count }

    static func validateCreate(_ body: JSONValue?) -> [String: String] {
        guard case .object(let fields)? = body else { return ["body": "must be a JSON object"] }
        var errors: [String: String] = [:]
        for key in fields.keys where !createFields.contains(key) { errors[key] = "is not a field of the create alert request" }
        func string(_ key: String, limit: Int, required: Bool = false) {
            switch fields[key] {
            case nil: if required { errors[key] = key.capitalized + " can not be empty." }
            case .string(let text)?:
                if required && text.trimmingCharacters(in: .whitespaces).isEmpty { errors[key] = key.capitalized + " can not be empty." }
                if length(text) > limit { errors[key] = "\(key) is \(length(text)) characters; the limit is \(limit)" }
            default: errors[key] = "must be a string"
            }
        }
        string("message", limit: 130, required: true)
        string("alias", limit: 512)
        string("description", limit: 15_000)
        string("entity", limit: 512)
        string("source", limit: 100)
        string("user", limit: 100)
        string("note", limit: 25_000)
        if let priority = fields["priority"], !["P1", "P2", "P3", "P4", "P5"].contains(priority.stringValue ?? "") {
            errors["priority"] = "should be one of [P1, P2, P3, P4, P5]"
        }
        func stringList(_ key: String, count: Int, each: Int) {
            guard let value = fields[key] else { return }
            guard case .array(let items) = value, items.allSatisfy({ $0.stringValue != nil }) else { errors[key] = "must be a list of strings"; return }
            if items.count > count { errors[key] = "has \(items.count) items; the limit is \(count)" }
            if let long = items.compactMap(\.stringValue).first(where: { length($0) > each }) {
                errors[key] = "item \"\(long.prefix(60))\" is \(length(long)) characters; the limit is \(each)"
            }
        }
        stringList("tags", count: 20, each: 50)
        stringList("actions", count: 10, each: 50)
        if let details = fields["details"] {
            if case .object(let map) = details, map.values.allSatisfy({ $0.stringValue != nil }) {
                let total = map.reduce(0) { $0 + length($1.key) + length($1.value.stringValue ?? "") }
                if total > 8_000 { errors["details"] = "is \(total) characters; the limit is 8000" }
            } else {
                errors["details"] = "must be a map of string to string"
            }
        }
        for key in ["responders", "visibleTo"] {
            guard let value = fields[key] else { continue }
            guard case .array(let items) = value else { errors[key] = "must be a list"; continue }
            if items.count > 50 { errors[key] = "has \(items.count) items; the limit is 50" }
            for item in items {
                guard case .object(let entry) = item, let type = entry["type"]?.stringValue, let allowed = responderIdentifiers[type] else {
                    errors[key] = "type should be one of team, user, escalation, schedule"
                    break
                }
                let ids = entry.keys.filter { $0 != "type" }
                if ids.isEmpty || !ids.allSatisfy({ allowed.contains($0) && entry[$0]?.stringValue?.isEmpty == false }) {
                    errors[key] = "a \(type) needs one of \(allowed.sorted().joined(separator: ", "))"
                    break
                }
            }
        }
        return errors
    }

    static func validateClose(_ body: JSONValue?) -> [String: String] {
        guard case .object(let fields)? = body else { return ["body": "must be a JSON object"] }
        var errors: [String: String] = [:]
        for key in fields.keys where !closeFields.contains(key) { errors[key] = "is not a field of the close alert request" }
        for (key, limit) in [("user", 100), ("source", 100), ("note", 25_000)] {
            guard let value = fields[key] else { continue }
            guard let text = value.stringValue else { errors[key] = "must be a string"; continue }
            if length(text) > limit { errors[key] = "\(key) is \(length(text)) characters; the limit is \(limit)" }
        }
        return errors
    }

    /// JSON bodies only: the wrong media type is 415, a body that does not parse is 422.
    private static func requireJSON(_ call: inout OpsgenieDoubleCall, headers: [String: String]) -> OpsgenieDoubleReply? {
        guard headers["content-type"]?.lowercased().hasPrefix("application/json") == true else {
            return error(415, "Unsupported Media Type: send Content-Type: application/json", call: &call)
        }
        guard call.body != nil else {
            return unprocessable(["body": "could not be parsed as JSON"], call: &call)
        }
        return nil
    }

    // MARK: - Replies

    static func headers(_ requestId: String, throttled: Bool = false) -> [(name: String, value: String)] {
        [("Content-Type", "application/json"), ("X-Request-Id", requestId), ("X-RateLimit-State", throttled ? "THROTTLED" : "OK"),
         ("X-Response-Time", "0.002")]
    }

    static func json(_ status: Int, _ object: [String: JSONValue], requestId: String, extraHeaders: [(name: String, value: String)] = []) -> OpsgenieDoubleReply {
        OpsgenieDoubleReply(status: status, headers: headers(requestId, throttled: status == 429) + extraHeaders,
                            body: (try? IssueCoding.encode(JSONValue.object(object))) ?? [], delay: nil)
    }

    static func accepted(_ call: OpsgenieDoubleCall) -> OpsgenieDoubleReply {
        json(202, ["result": "Request will be processed", "took": .number(0.302), "requestId": .string(call.requestId)], requestId: call.requestId)
    }

    static func error(_ status: Int, _ message: String, call: inout OpsgenieDoubleCall, extraHeaders: [(name: String, value: String)] = []) -> OpsgenieDoubleReply {
        call.error = message
        return json(status, ["message": .string(message), "took": .number(0.001), "requestId": .string(call.requestId)],
                    requestId: call.requestId, extraHeaders: extraHeaders)
    }

    static func unprocessable(_ errors: [String: String], call: inout OpsgenieDoubleCall) -> OpsgenieDoubleReply {
        let message = "Request body is not processable. Please check the errors."
        call.error = message
        call.errors = errors
        return json(422, ["message": .string(message), "took": .number(0.001), "requestId": .string(call.requestId),
                          "errors": .object(errors.mapValues(JSONValue.string))], requestId: call.requestId)
    }

    static func faultReply(_ fault: OpsgenieDoubleFault, call: inout OpsgenieDoubleCall, headers: [String: String]) -> OpsgenieDoubleReply {
        call.errors = [:]
        switch fault {
        case .rateLimited(let retryAfter):
            return error(429, "You are making too many requests! To avoid errors, we recommend you limit requests.", call: &call,
                         extraHeaders: retryAfter.map { [("Retry-After", String($0))] } ?? [])
        case .serverError(let status):
            return error(status, "Internal Server Error", call: &call)
        case .error(let status, let message):
            return error(status, message, call: &call)
        case .echoCredentials(let status):
            return error(status, "Key rejected: Authorization: \(headers["authorization"] ?? "")", call: &call)
        case .delay, .acceptedWithoutBody:
            return accepted(call)
        }
    }

    /// "/v2/alerts/a%2Fb/close?identifierType=alias" → (["v2", "alerts", "a/b", "close"],
    /// ["identifierType": "alias"]): split before decoding, so an encoded "/" in an alias
    /// stays inside its segment.
    static func split(_ target: String) -> (segments: [String], query: [String: String]) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let rawPath = parts.first.map(String.init) ?? ""
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
                query[key] = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
            }
        }
        let segments = rawPath.split(separator: "/", omittingEmptySubsequences: true).map { String($0).removingPercentEncoding ?? String($0) }
        return (segments, query)
    }
}
