#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Collector

/// A ServiceNow Table API (incident) test double: real HTTP on 127.0.0.1 (ephemeral port)
/// that enforces the contract in destinations.md §7 and records every call, so tests
/// assert on what was really sent.
///
/// - Auth: the exact `Authorization` value (HTTP Basic for a user and password, or
///   `Bearer <token>`), or, with ``start(oauth:now:)``, a `Bearer` token issued by its
///   `POST /oauth_token.do` and not yet expired; else 401 "User Not Authenticated" in
///   ServiceNow's error shape `{"error":{"message","detail"},"status":"failure"}`.
/// - `Accept: application/json` on every call (406 otherwise: the real API would answer
///   XML); `Content-Type: application/json` and a JSON object on POST/PATCH/PUT (415, 400).
/// - `GET /api/now/table/incident` (or `/api/now/v2/...`): `sysparm_query` AND terms with
///   `=`, `!=`, `IN`, `NOT IN`; a term on an unknown field is ignored and so matches every
///   record, as the real default does (§7.1); `sysparm_fields`, `sysparm_limit`. An empty
///   match is `{"result":[]}`, or, after ``emulateV1EmptyList(_:)``, v1's 404.
///   `active` is false only for Closed (7) and Canceled (8): a Resolved incident stays
///   active, as on a base instance.
/// - `POST /api/now/table/incident`: only writable incident fields (400 naming any other:
///   the real service drops them silently), string values, `short_description` and
///   `correlation_id` required, the length limits (`short_description` 160, `description`
///   4000, `correlation_id` 100...), urgency and impact 1–3. Answers 201 with `Location`
///   and `{"result":{…}}`, sys_id 32 hex digits, number INC0010001 on.
/// - `PATCH`/`PUT /api/now/table/incident/{sys_id}`: known sys_ids only (404 "No Record
///   found"); `work_notes` appends a journal entry; state 6 (Resolved) or 7 needs
///   `close_code` and `close_notes` (403 "Data Policy Exception" otherwise).
/// - Injected faults (``inject(_:times:)``): 429 with `X-RateLimit-*` and an optional
///   Retry-After, 5xx, any error, an error quoting the credential, a delayed answer.
///
/// ```swift
/// let servicenow = try await ServiceNowDouble.start(username: "cano", password: "s3cret-pw")
/// defer { stopLater { await servicenow.stop() } }
/// // point the plugin's instance_url at servicenow.instanceURL
/// ```
public final class ServiceNowDouble: Sendable {
    /// The recording HTTP server underneath.
    public let server: CaptureServer
    let model: ServiceNowDoubleModel

    private init(server: CaptureServer, model: ServiceNowDoubleModel) {
        self.server = server
        self.model = model
    }

    /// Starts a double that accepts HTTP Basic with this user and password.
    public static func start(username: String, password: String) async throws -> ServiceNowDouble {
        try await start(model: ServiceNowDoubleModel(auth: .exact("Basic " + Data((username + ":" + password).utf8).base64EncodedString())))
    }

    /// Starts a double that accepts this OAuth bearer token.
    public static func start(token: String) async throws -> ServiceNowDouble {
        try await start(model: ServiceNowDoubleModel(auth: .exact("Bearer " + token)))
    }

    /// Starts a double with ServiceNow's OAuth token endpoint, `POST /oauth_token.do`, for
    /// this client: the Table API then accepts only `Bearer` tokens it issued, until each
    /// expires (`expires_in` = the client's lifetime) by `now`. Pass a clock of the test's
    /// own to expire tokens without waiting.
    public static func start(oauth client: ServiceNowDoubleOAuthClient,
                             now: @escaping @Sendable () -> Date = { Date() }) async throws -> ServiceNowDouble {
        try await start(model: ServiceNowDoubleModel(auth: .oauth(client), now: now))
    }

    private static func start(model: ServiceNowDoubleModel) async throws -> ServiceNowDouble {
        let server = try await CaptureServer.start { request in
            var headers: [String: String] = [:]
            for header in request.headers { headers[header.name.lowercased()] = header.value }
            let reply = model.handle(method: request.method, target: request.target, headers: headers, body: request.body)
            return CaptureServer.Response(status: reply.status, headers: reply.headers, body: reply.body, delay: reply.delay)
        }
        return ServiceNowDouble(server: server, model: model)
    }

    /// `http://127.0.0.1:PORT`: the plugin's `instance_url`.
    public var instanceURL: String { server.baseURL }

    /// Stops the server.
    public func stop() async { await server.stop() }

    // MARK: - Configuring

    /// Answers the next `times` requests (any endpoint) with `fault` instead of processing them.
    public func inject(_ fault: ServiceNowDoubleFault, times: Int = 1) {
        model.state.withLock { $0.faults += Array(repeating: fault, count: times) }
    }

    /// Answers an empty list with API v1's 404 "No Record found" instead of `[]`.
    public func emulateV1EmptyList(_ on: Bool = true) {
        model.state.withLock { $0.emptyListIs404 = on }
    }

    /// Sets fields on an incident as a person in the ServiceNow UI would (no validation).
    public func edit(sysID: String, _ fields: [String: String]) {
        model.state.withLock { s in
            guard let index = s.incidents.firstIndex(where: { $0.sysID == sysID }) else { return }
            for (key, value) in fields { s.incidents[index].fields[key] = value }
        }
    }

    /// Deletes an incident, as an administrator would.
    public func delete(sysID: String) {
        model.state.withLock { s in s.incidents.removeAll { $0.sysID == sysID } }
    }

    /// Revokes every access token issued so far (an administrator, or a token store reset):
    /// the next call with one is 401, and only a new token works.
    public func revokeTokens() {
        model.state.withLock { $0.tokens.removeAll() }
    }

    /// Keeps issuing tokens but refuses all of them on the Table API, as for a client whose
    /// user may not use web services: a client must not fetch tokens in a loop.
    public func rejectIssuedTokens(_ on: Bool = true) {
        model.state.withLock { $0.rejectIssuedTokens = on }
    }

    // MARK: - Inspecting

    /// Token requests (`POST /oauth_token.do`), accepted or not.
    public var tokenRequests: [ServiceNowDoubleCall] { calls.filter { $0.path == "/oauth_token.do" } }

    /// Every access token issued, oldest first.
    public var issuedTokens: [String] { model.state.withLock { $0.issued } }

    /// Every request received, in order. A call is recorded once answered, after its effect
    /// on ``incidents``: a test that reads a call waits for the call, not for the incident.
    public var calls: [ServiceNowDoubleCall] { model.state.withLock { $0.calls } }

    /// List queries (`GET` on the table).
    public var lookups: [ServiceNowDoubleCall] { calls.filter { $0.method == "GET" && Self.isTable($0.path) } }

    /// Creates (`POST` on the table), accepted or not.
    public var creates: [ServiceNowDoubleCall] { calls.filter { $0.method == "POST" && Self.isTable($0.path) } }

    /// Updates (`PATCH`/`PUT` on a record), accepted or not.
    public var updates: [ServiceNowDoubleCall] { calls.filter { ($0.method == "PATCH" || $0.method == "PUT") && !Self.isTable($0.path) } }

    /// Every incident, in creation order.
    public var incidents: [ServiceNowDoubleIncident] { model.state.withLock { $0.incidents } }

    /// Incidents with this correlation id, oldest first.
    public func incidents(correlationID: String) -> [ServiceNowDoubleIncident] { incidents.filter { $0.correlationID == correlationID } }

    /// The incident with this sys_id.
    public func incident(sysID: String) -> ServiceNowDoubleIncident? { incidents.first { $0.sysID == sysID } }

    static func isTable(_ path: String) -> Bool {
        path == "/api/now/table/incident" || path == "/api/now/v2/table/incident"
    }
}
