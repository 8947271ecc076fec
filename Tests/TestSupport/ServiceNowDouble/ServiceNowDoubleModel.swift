#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Synchronization

/// An incident as the double stores it.
public struct ServiceNowDoubleIncident: Sendable, Equatable {
    /// 32 lowercase hex digits, as ServiceNow's.
    public var sysID: String
    /// "INC0010001", "INC0010002"...
    public var number: String
    /// Every writable field as last set, string values (urgency "1"...).
    public var fields: [String: String]
    /// Work notes, oldest first: each PATCH with `work_notes` appends one (a journal field).
    public var workNotes: [String]
    /// The create body as sent.
    public var created: JSONValue

    public var state: String { fields["state"] ?? "1" }
    public var correlationID: String? { fields["correlation_id"] }
    /// True unless Closed (7) or Canceled (8): like a base instance, a Resolved incident
    /// stays active until it is closed.
    public var isActive: Bool { !["7", "8"].contains(state) }
    public var isResolved: Bool { state == "6" }
    /// Priority from the default urgency × impact matrix (read-only in ServiceNow).
    public var priority: String {
        let urgency = Int(fields["urgency"] ?? "3") ?? 3
        let impact = Int(fields["impact"] ?? "3") ?? 3
        let matrix = [[1, 2, 3], [2, 3, 4], [3, 4, 5]]
        return String(matrix[min(max(urgency, 1), 3) - 1][min(max(impact, 1), 3) - 1])
    }

    /// A field as the Table API shows it (computed ones included).
    func value(_ name: String) -> String? {
        switch name {
        case "sys_id": sysID
        case "number": number
        case "active": isActive ? "true" : "false"
        case "priority": priority
        case "state": state
        case "work_notes": ""  // journal fields read back empty in the Table API
        default: fields[name]
        }
    }
}

/// One request the double received, with what it answered.
public struct ServiceNowDoubleCall: Sendable {
    public var method: String
    /// The path, without the query.
    public var path: String
    /// Query parameters, percent-decoded (`sysparm_query`, `sysparm_fields`...).
    public var query: [String: String]
    /// Every request header, lower-cased names.
    public var headers: [String: String]
    /// The body as JSON, when it was JSON.
    public var body: JSONValue?
    public var rawBody: [UInt8]
    /// The HTTP status answered.
    public var status: Int
    /// `error.message` of an error answer.
    public var error: String?
    /// `error.detail` of an error answer.
    public var detail: String?

    /// The body read as a form (`application/x-www-form-urlencoded`), percent-decoded: the
    /// token request's fields.
    public var form: [String: String] { ServiceNowDoubleModel.split("/?" + String(decoding: rawBody, as: UTF8.self)).query }
}

/// A failure to answer instead of processing the next request.
public enum ServiceNowDoubleFault: Sendable, Equatable {
    /// HTTP 429 with `X-RateLimit-*` headers and, when given, `Retry-After` (seconds or a date).
    case rateLimited(retryAfter: String?)
    /// An HTTP 5xx with ServiceNow's error body.
    case serverError(Int)
    /// Any status with ServiceNow's error body.
    case error(status: Int, message: String, detail: String)
    /// An error whose `detail` quotes the request's `Authorization` header, as some proxies
    /// do: the plugin must not pass it on.
    case echoCredentials(status: Int)
    /// Process normally but answer only after this long (a client timeout: the work was done).
    case delay(Duration)
    /// A web page with this status instead of the API (a hibernating developer instance, a
    /// proxy's login page): nothing is processed.
    case page(status: Int)
    /// Process normally, then answer this status instead (a gateway that timed out while
    /// the instance did the work): the answer is lost, without any timing.
    case processedThen(status: Int)
    /// An error whose `detail` quotes the request body, as a careless proxy might: for the
    /// token request that is the client secret and password, which the plugin must not pass on.
    case echoBody(status: Int)
}

/// The OAuth client the double's token endpoint knows (ServiceNow's *Application Registry*
/// entry) and the grant it allows.
public struct ServiceNowDoubleOAuthClient: Sendable {
    /// The `grant_type` values ServiceNow's `/oauth_token.do` takes for an integration.
    public enum Grant: String, Sendable {
        case clientCredentials = "client_credentials"
        case password
    }
    public var clientID: String
    public var clientSecret: String
    public var grant: Grant
    /// With the password grant: the user the token acts for.
    public var username: String?
    public var password: String?
    /// `expires_in` of every token issued, in seconds (ServiceNow's default is 1800).
    public var lifetime: Int

    public init(clientID: String, clientSecret: String, grant: Grant = .clientCredentials, username: String? = nil,
                password: String? = nil, lifetime: Int = 1800) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.grant = grant
        self.username = username
        self.password = password
        self.lifetime = lifetime
    }
}

/// The answer to one request.
struct ServiceNowDoubleReply: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    var delay: Duration?
}

/// The double's behaviour, free of HTTP: a request in, a reply out (destinations.md §7).
final class ServiceNowDoubleModel: Sendable {
    struct State {
        var incidents: [ServiceNowDoubleIncident] = []
        var calls: [ServiceNowDoubleCall] = []
        var faults: [ServiceNowDoubleFault] = []
        /// API v1's answer to an empty match: 404 "No Record found" instead of `[]`.
        var emptyListIs404 = false
        /// Records ever created: a deleted record's sys_id and number are never reused.
        var created = 0
        /// OAuth access tokens issued, with when each expires; revoking empties it.
        var tokens: [String: Date] = [:]
        /// Every access token ever issued, in order.
        var issued: [String] = []
        /// Refuse every issued token (as for an OAuth user without rights to sign in).
        var rejectIssuedTokens = false
    }

    /// What the Table API accepts as `Authorization`.
    enum Auth: Sendable {
        /// This exact header value (HTTP Basic, or a fixed bearer token).
        case exact(String)
        /// `Bearer <token>` for a token this double issued at `/oauth_token.do` and that has
        /// not expired by ``ServiceNowDoubleModel/now``.
        case oauth(ServiceNowDoubleOAuthClient)
    }

    let auth: Auth
    /// The double's clock: token expiry is judged by it, so a test can move time on
    /// without waiting.
    let now: @Sendable () -> Date
    let state = Mutex(State())

    init(auth: Auth, now: @escaping @Sendable () -> Date = { Date() }) {
        self.auth = auth
        self.now = now
    }

    /// Fields a client may write on an incident; anything else is refused (the real
    /// service ignores unknown fields, which hides a typo such as `corelation_id`).
    static let writableFields: Set<String> = [
        "short_description", "description", "urgency", "impact", "correlation_id", "correlation_display", "caller_id",
        "assignment_group", "category", "subcategory", "cmdb_ci", "state", "close_code", "close_notes", "work_notes",
        "comments", "contact_type", "assigned_to",
    ]
    /// Fields a query may name (the writable ones and the system ones); a term on any other
    /// field is ignored, so it matches every record, as `glide.invalid_query.returns_no_rows`
    /// false does by default (§7.1).
    static let queryableFields: Set<String> = writableFields.union(["sys_id", "number", "active", "priority"])
    /// Length limits in Unicode scalars: §7.2's short_description, the base dictionary's
    /// others.
    static let limits: [String: Int] = [
        "short_description": 160, "description": 4000, "correlation_id": 100, "correlation_display": 100,
        "close_notes": 4000, "work_notes": 4000, "comments": 4000, "close_code": 40, "category": 40,
    ]
    static let levels: Set<String> = ["1", "2", "3"]
    static let states: Set<String> = ["1", "2", "3", "6", "7", "8"]

    func handle(method: String, target: String, headers: [String: String], body: [UInt8]) -> ServiceNowDoubleReply {
        let (path, query) = Self.split(target)
        var call = ServiceNowDoubleCall(
            method: method, path: path, query: query, headers: headers,
            body: try? IssueCoding.decode(JSONValue.self, from: body), rawBody: body, status: 0, error: nil, detail: nil)
        let fault = state.withLock { $0.faults.isEmpty ? nil : $0.faults.removeFirst() }
        var reply: ServiceNowDoubleReply
        switch fault {
        case .delay(let duration)?:
            reply = route(&call)
            reply.delay = duration
        case .processedThen(let status)?:
            _ = route(&call)
            reply = Self.error(status, "Gateway Timeout", "the instance did not answer the gateway in time", call: &call)
        case let fault?:
            reply = Self.faultReply(fault, call: &call)
        case nil:
            reply = route(&call)
        }
        call.status = reply.status
        let recorded = call
        state.withLock { $0.calls.append(recorded) }
        return reply
    }

    /// Validates and processes one request.
    private func route(_ call: inout ServiceNowDoubleCall) -> ServiceNowDoubleReply {
        if call.path == "/oauth_token.do" { return token(&call) }
        guard isAuthorized(call.headers["authorization"]) else {
            return Self.error(401, "User Not Authenticated", "Required to provide Auth information", call: &call)
        }
        // Without it the Table API answers XML: a JSON client must ask for JSON.
        guard call.headers["accept"]?.lowercased().contains("application/json") == true else {
            return Self.error(406, "Not Acceptable", "send Accept: application/json", call: &call)
        }
        var rest: Substring
        if call.path.hasPrefix("/api/now/table/incident") {
            rest = call.path.dropFirst("/api/now/table/incident".count)
        } else if call.path.hasPrefix("/api/now/v2/table/incident") {
            rest = call.path.dropFirst("/api/now/v2/table/incident".count)
        } else if call.path.hasPrefix("/api/now/table/") || call.path.hasPrefix("/api/now/v2/table/") {
            return Self.error(400, "Invalid table", "only the incident table exists in this double", call: &call)
        } else {
            return Self.error(400, "Requested URI does not represent any resource", "", call: &call)
        }
        if rest.hasPrefix("/") { rest = rest.dropFirst() }
        let sysID = rest.isEmpty ? nil : String(rest)

        switch (call.method, sysID) {
        case ("GET", nil):
            return list(&call)
        case ("POST", nil):
            if let problem = Self.requireJSONBody(&call) { return problem }
            return create(&call)
        case ("PATCH", let id?), ("PUT", let id?):
            if let problem = Self.requireJSONBody(&call) { return problem }
            return update(id, call: &call)
        case ("GET", let id?):
            guard let incident = state.withLock({ s in s.incidents.first { $0.sysID == id } }) else { return Self.noRecord(&call) }
            return Self.json(200, ["result": Self.row(incident, fields: call.query["sysparm_fields"])])
        default:
            return Self.error(405, "Method not Supported", "\(call.method) is not allowed here", call: &call)
        }
    }

    // MARK: - Operations

    private func list(_ call: inout ServiceNowDoubleCall) -> ServiceNowDoubleReply {
        let terms: [Term]
        switch Self.parseQuery(call.query["sysparm_query"] ?? "") {
        case .success(let parsed): terms = parsed
        case .failure(let problem): return Self.error(400, "Invalid query", problem.message, call: &call)
        }
        let limit = call.query["sysparm_limit"].flatMap { Int($0) } ?? 10_000
        let (matches, emptyIs404) = state.withLock { s in
            (s.incidents.filter { incident in terms.allSatisfy { $0.matches(incident) } }, s.emptyListIs404)
        }
        if matches.isEmpty, emptyIs404 {
            return Self.error(404, "No Record found", "Records matching query not found. Check query parameter or offset parameter", call: &call)
        }
        let rows = matches.prefix(limit).map { Self.row($0, fields: call.query["sysparm_fields"]) }
        return Self.json(200, ["result": .array(Array(rows))], extraHeaders: [("X-Total-Count", String(matches.count))])
    }

    private func create(_ call: inout ServiceNowDoubleCall) -> ServiceNowDoubleReply {
        guard case .object(let body)? = call.body else { return Self.badBody(&call) }
        if let problem = Self.validate(body) { return Self.error(400, "Invalid field", problem, call: &call) }
        for required in ["short_description", "correlation_id"] where (body[required]?.stringValue ?? "").isEmpty {
            return Self.error(400, "Mandatory field missing", "\(required) is required by this integration's contract", call: &call)
        }
        var fields: [String: String] = ["state": "1"]
        var notes: [String] = []
        for (key, value) in body {
            guard let text = value.stringValue else { continue }
            if key == "work_notes" { notes.append(text) } else { fields[key] = text }
        }
        if let problem = Self.dataPolicy(fields) { return Self.error(403, "Operation Failed", problem, call: &call) }
        let created = state.withLock { s -> ServiceNowDoubleIncident in
            s.created += 1
            let sequence = s.created
            let hex = String(sequence, radix: 16)
            let sysID = "a1b2c3d4e5f6" + String(repeating: "0", count: 20 - hex.count) + hex
            let number = "INC" + String(10_000 + sequence).leftPadded(to: 7)
            let incident = ServiceNowDoubleIncident(sysID: sysID, number: number, fields: fields, workNotes: notes, created: .object(body))
            s.incidents.append(incident)
            return incident
        }
        return Self.json(201, ["result": Self.row(created, fields: call.query["sysparm_fields"])],
                         extraHeaders: [("Location", "/api/now/table/incident/\(created.sysID)")])
    }

    private func update(_ sysID: String, call: inout ServiceNowDoubleCall) -> ServiceNowDoubleReply {
        guard case .object(let body)? = call.body else { return Self.badBody(&call) }
        if let problem = Self.validate(body) { return Self.error(400, "Invalid field", problem, call: &call) }
        enum Outcome { case missing, policy(String), updated(ServiceNowDoubleIncident) }
        let outcome = state.withLock { s -> Outcome in
            guard let index = s.incidents.firstIndex(where: { $0.sysID == sysID }) else { return .missing }
            var incident = s.incidents[index]
            for (key, value) in body {
                guard let text = value.stringValue else { continue }
                if key == "work_notes" { incident.workNotes.append(text) } else { incident.fields[key] = text }
            }
            if let problem = Self.dataPolicy(incident.fields) { return .policy(problem) }
            s.incidents[index] = incident
            return .updated(incident)
        }
        switch outcome {
        case .missing: return Self.noRecord(&call)
        case .policy(let problem): return Self.error(403, "Operation Failed", problem, call: &call)
        case .updated(let incident): return Self.json(200, ["result": Self.row(incident, fields: call.query["sysparm_fields"])])
        }
    }

    // MARK: - OAuth

    /// Whether a Table API call's `Authorization` is accepted.
    private func isAuthorized(_ header: String?) -> Bool {
        switch auth {
        case .exact(let value):
            return header == value
        case .oauth:
            guard let header, header.hasPrefix("Bearer ") else { return false }
            let token = String(header.dropFirst("Bearer ".count))
            let now = now()
            return state.withLock { s in
                guard !s.rejectIssuedTokens, let expiry = s.tokens[token] else { return false }
                return now < expiry
            }
        }
    }

    /// `POST /oauth_token.do`: ServiceNow's OAuth token endpoint. A form body
    /// (`application/x-www-form-urlencoded`) with `grant_type` `client_credentials`
    /// (client id and secret) or `password` (those and the user's name and password).
    /// Answers `{"access_token","refresh_token","scope","token_type":"Bearer","expires_in"}`;
    /// a wrong client or user is 401 `{"error":"server_error","error_description":"access_denied"}`
    /// as ServiceNow answers it, an unknown or disallowed grant 400 `unsupported_grant_type`.
    private func token(_ call: inout ServiceNowDoubleCall) -> ServiceNowDoubleReply {
        guard call.method == "POST" else { return Self.oauthError(405, "invalid_request", "POST only", call: &call) }
        guard call.headers["content-type"]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            return Self.oauthError(400, "invalid_request", "send a form: application/x-www-form-urlencoded", call: &call)
        }
        guard case .oauth(let client) = auth else { return Self.oauthError(401, "server_error", "access_denied", call: &call) }
        let form = call.form
        let grant = form["grant_type"] ?? ""
        guard grant == client.grant.rawValue else {
            return Self.oauthError(400, "unsupported_grant_type", "grant type \(grant) is not enabled for this client", call: &call)
        }
        var accepted = form["client_id"] == client.clientID && form["client_secret"] == client.clientSecret
        if client.grant == .password {
            accepted = accepted && form["username"] == client.username && form["password"] == client.password
        }
        guard accepted else { return Self.oauthError(401, "server_error", "access_denied", call: &call) }
        let token = "sn-at-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let expiry = now().addingTimeInterval(TimeInterval(client.lifetime))
        state.withLock { s in
            s.tokens[token] = expiry
            s.issued.append(token)
        }
        return Self.json(200, [
            "access_token": .string(token), "refresh_token": .string("sn-rt-" + UUID().uuidString), "scope": "useraccount",
            "token_type": "Bearer", "expires_in": .number(Double(client.lifetime)),
        ])
    }

    /// The token endpoint's error shape: `{"error","error_description"}` (OAuth 2.0, RFC 6749 §5.2).
    static func oauthError(_ status: Int, _ error: String, _ description: String, call: inout ServiceNowDoubleCall) -> ServiceNowDoubleReply {
        call.error = error
        call.detail = description
        return json(status, ["error": .string(error), "error_description": .string(description)])
    }

    // MARK: - Validation

    /// Every key writable, every value a string within its limit, levels and states known.
    static func validate(_ body: [String: JSONValue]) -> String? {
        for key in body.keys.sorted() {
            guard writableFields.contains(key) else { return "\(key) is not a writable incident field" }
            guard let text = body[key]?.stringValue else { return "\(key) must be a string" }
            if let limit = limits[key], text.unicodeScalars.count > limit {
                return "\(key) is \(text.unicodeScalars.count) characters; the limit is \(limit)"
            }
            if key == "urgency" || key == "impact", !levels.contains(text) { return "\(key) must be 1, 2 or 3" }
            if key == "state", !states.contains(text) { return "state \(text) is not an incident state" }
        }
        return nil
    }

    /// The usual data policy: Resolved and Closed need a close code and close notes (§7.2).
    static func dataPolicy(_ fields: [String: String]) -> String? {
        guard ["6", "7"].contains(fields["state"] ?? "1") else { return nil }
        let missing = ["close_code", "close_notes"].filter { (fields[$0] ?? "").isEmpty }
        return missing.isEmpty ? nil : "Data Policy Exception: the following fields are mandatory: " + missing.joined(separator: ", ")
    }

    /// JSON bodies only: the wrong media type is 415, a body that does not parse is 400.
    private static func requireJSONBody(_ call: inout ServiceNowDoubleCall) -> ServiceNowDoubleReply? {
        guard call.headers["content-type"]?.lowercased().hasPrefix("application/json") == true else {
            return error(415, "Unsupported Media Type", "send Content-Type: application/json", call: &call)
        }
        guard case .object? = call.body else { return badBody(&call) }
        return nil
    }

    // MARK: - Encoded queries

    /// One AND term of an encoded query.
    struct Term {
        enum Operator { case equals, notEquals, oneOf, noneOf }
        var field: String
        var op: Operator
        var values: [String]

        func matches(_ incident: ServiceNowDoubleIncident) -> Bool {
            // An unknown field is ignored: it matches everything (§7.1's default).
            guard ServiceNowDoubleModel.queryableFields.contains(field) else { return true }
            let actual = incident.value(field) ?? ""
            switch op {
            case .equals: return actual == values.first
            case .notEquals: return actual != values.first
            case .oneOf: return values.contains(actual)
            case .noneOf: return !values.contains(actual)
            }
        }
    }

    struct QueryProblem: Error { var message: String }

    /// "correlation_id=abc^active=true^stateNOT IN6,7,8" → terms. The double supports AND
    /// terms with `=`, `!=`, `IN` and `NOT IN`; anything else (`^OR`, `^NQ`, `LIKE`,
    /// `ORDERBY`) is refused, so a test notices a query it cannot vouch for.
    static func parseQuery(_ query: String) -> Result<[Term], QueryProblem> {
        var terms: [Term] = []
        for part in query.split(separator: "^", omittingEmptySubsequences: true) {
            // Field names are lower case; operators (NOT IN, IN, ORDERBY...) upper case.
            let name = part.prefix { ("a"..."z").contains($0) || $0.isNumber || $0 == "_" || $0 == "." }
            let rest = part.dropFirst(name.count)
            guard !name.isEmpty else {
                return .failure(QueryProblem(message: "unsupported query term \"\(part)\""))
            }
            let field = String(name)
            if rest.hasPrefix("NOT IN") {
                terms.append(Term(field: field, op: .noneOf, values: rest.dropFirst(6).split(separator: ",").map(String.init)))
            } else if rest.hasPrefix("IN") {
                terms.append(Term(field: field, op: .oneOf, values: rest.dropFirst(2).split(separator: ",").map(String.init)))
            } else if rest.hasPrefix("!=") {
                terms.append(Term(field: field, op: .notEquals, values: [String(rest.dropFirst(2))]))
            } else if rest.hasPrefix("=") {
                terms.append(Term(field: field, op: .equals, values: [String(rest.dropFirst())]))
            } else {
                return .failure(QueryProblem(message: "unsupported operator in \"\(part)\""))
            }
        }
        return .success(terms)
    }

    // MARK: - Replies

    /// A record as the Table API returns it: every field, or those in `sysparm_fields`.
    static func row(_ incident: ServiceNowDoubleIncident, fields: String?) -> JSONValue {
        let names: [String]
        if let fields, !fields.isEmpty {
            names = fields.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        } else {
            names = ["sys_id", "number", "active", "priority", "state"] + incident.fields.keys.sorted()
        }
        var object: [String: JSONValue] = [:]
        for name in names { object[name] = .string(incident.value(name) ?? "") }
        return .object(object)
    }

    static func json(_ status: Int, _ object: [String: JSONValue], extraHeaders: [(name: String, value: String)] = []) -> ServiceNowDoubleReply {
        ServiceNowDoubleReply(status: status, headers: [("Content-Type", "application/json;charset=UTF-8")] + extraHeaders,
                              body: (try? IssueCoding.encode(JSONValue.object(object))) ?? [], delay: nil)
    }

    /// ServiceNow's error shape: `{"error":{"message","detail"},"status":"failure"}`.
    static func error(_ status: Int, _ message: String, _ detail: String, call: inout ServiceNowDoubleCall,
                      extraHeaders: [(name: String, value: String)] = []) -> ServiceNowDoubleReply {
        call.error = message
        call.detail = detail
        let body: [String: JSONValue] = ["error": .object(["message": .string(message), "detail": .string(detail)]), "status": .string("failure")]
        return json(status, body, extraHeaders: extraHeaders)
    }

    static func noRecord(_ call: inout ServiceNowDoubleCall) -> ServiceNowDoubleReply {
        error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval", call: &call)
    }

    static func badBody(_ call: inout ServiceNowDoubleCall) -> ServiceNowDoubleReply {
        error(400, "Exception while reading request", "The payload is not valid JSON.", call: &call)
    }

    static func faultReply(_ fault: ServiceNowDoubleFault, call: inout ServiceNowDoubleCall) -> ServiceNowDoubleReply {
        switch fault {
        case .rateLimited(let retryAfter):
            var headers: [(name: String, value: String)] = [("X-RateLimit-Limit", "100"), ("X-RateLimit-Rule", "cano-test-rule"),
                                                            ("X-RateLimit-Reset", String(Int(Date().timeIntervalSince1970) + 60))]
            if let retryAfter { headers.append(("Retry-After", retryAfter)) }
            return error(429, "Too Many Requests", "Rate limit of 100 requests per hour exceeded", call: &call, extraHeaders: headers)
        case .serverError(let status):
            return error(status, "Internal Server Error", "the double was told to fail", call: &call)
        case .error(let status, let message, let detail):
            return error(status, message, detail, call: &call)
        case .echoCredentials(let status):
            return error(status, "User Not Authenticated", "rejected Authorization: \(call.headers["authorization"] ?? "")", call: &call)
        case .echoBody(let status):
            return error(status, "Bad request", "could not read: \(String(decoding: call.rawBody, as: UTF8.self))", call: &call)
        case .delay, .processedThen:
            return json(200, [:])
        case .page(let status):
            return ServiceNowDoubleReply(status: status, headers: [("Content-Type", "text/html;charset=UTF-8")],
                                         body: Array("<html><head><title>Instance Hibernating</title></head><body>Your instance is hibernating.</body></html>".utf8),
                                         delay: nil)
        }
    }

    /// "/api/now/table/incident?sysparm_query=a%3Db" → ("/api/now/table/incident",
    /// ["sysparm_query": "a=b"]); `+` in a query value is a space, as servlets read it.
    static func split(_ target: String) -> (path: String, query: [String: String]) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = decode(String(parts.first ?? ""), plusIsSpace: false)
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = decode(String(kv[0]), plusIsSpace: true)
                query[key] = kv.count > 1 ? decode(String(kv[1]), plusIsSpace: true) : ""
            }
        }
        return (path, query)
    }

    static func decode(_ text: String, plusIsSpace: Bool) -> String {
        var bytes: [UInt8] = []
        var input = Array(text.utf8)[...]
        while let byte = input.popFirst() {
            if byte == UInt8(ascii: "%"), input.count >= 2,
               let value = UInt8(String(decoding: input.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                input = input.dropFirst(2)
            } else if byte == UInt8(ascii: "+"), plusIsSpace {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    /// Zero-padded on the left to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
