#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// The ServiceNow destination's logic, free of the C ABI: tests drive it with a log closure
/// of their own; ``ServiceNow`` adapts it to the host.
///
/// ServiceNow has no idempotency key (destinations.md §7.2), so every delivery starts with
/// a lookup of the open incidents whose `correlation_id` is the Issue's (its fingerprint):
///
/// - firing: `GET /api/now/table/incident?sysparm_query=correlation_id=<id>^active=true^stateNOT IN6,7,8`.
///   None open: `POST /api/now/table/incident` creates one. One open (a repeat, a retry
///   after a lost answer, a restart): `PATCH …/{sys_id}` adds a work note instead, so no
///   duplicate is ever created. The result's reference is the incident's `sys_id`.
/// - resolved: the same lookup, then `PATCH …/{sys_id}` with state 6 (Resolved),
///   `close_code` and `close_notes` on each open incident found. None open (resolved by
///   hand, or the firing never arrived): delivered, nothing to do.
/// - Each answer goes through ``HTTPOutcome``: 2xx on to the next step; 408, 429 and 5xx
///   retry, honouring `Retry-After`; 400, 401, 403 and other 4xx are permanent, with
///   ServiceNow's `error.message` and `error.detail`. A retry runs the lookup again, so a
///   create whose answer was lost becomes a work note, not a second incident.
/// - Auth: HTTP Basic, a configured bearer token, or an OAuth client's own access tokens
///   (``ServiceNowTokens``); with those, a 401 gets one new token and one resend.
/// - At create, ``checkCredentials()`` makes one bounded read of the table.
/// - The reference returned is the incident's `sys_id`, for the host's records. The plugin
///   does not rely on getting it back: the lookup is authoritative, so a resolve after a
///   restart (no reference) finds the incident, and one a person already resolved or
///   closed (a stale reference) is left alone.
final class ServiceNowNotifier: @unchecked Sendable {
    /// Writes one log line: (level, message, fields).
    typealias Log = @Sendable (HostServices.LogLevel, String, [String: String]) -> Void

    /// The incident table's path under the instance URL.
    static let tablePath = "/api/now/table/incident"
    /// Fields asked back: enough to identify the record, and a small answer.
    static let fields = "sys_id,number,state"
    /// At most this many open incidents with one correlation id are resolved per delivery
    /// (more only exist if something else created them).
    static let lookupLimit = 10

    /// The credential check's request, as messages name it.
    static let checkStep = "ServiceNow credential check (GET \(tablePath)?sysparm_limit=1)"

    let config: ServiceNowConfig
    private let staticSecrets: [[UInt8]]
    private let sink: Log
    /// The OAuth client's tokens; nil with Basic auth or a configured token.
    private let tokens: ServiceNowTokens?
    /// One client: the host serialises calls on an instance (no CANO_FLAG_REENTRANT), so one
    /// libcurl handle and its kept-alive connection serve every delivery. @unchecked
    /// Sendable rests on that serialisation.
    private let client = HTTPClient()

    /// - Parameter now: the clock OAuth token expiry is judged by (tests move it by hand).
    init(config: ServiceNowConfig, now: @escaping @Sendable () -> Date = { Date() }, log: @escaping Log) {
        self.config = config
        self.staticSecrets = config.secrets
        self.sink = log
        if case .oauth(let client) = config.auth {
            tokens = ServiceNowTokens(client: client, config: config, now: now)
        } else {
            tokens = nil
        }
    }

    /// What no result or log line may contain: the config's secrets and, with an OAuth
    /// client, the access tokens issued so far.
    private var secrets: [[UInt8]] { tokens?.secrets ?? staticSecrets }

    /// Writes one log line, cleaned of every secret (a field may quote a remote answer).
    private func log(_ level: HostServices.LogLevel, _ message: String, _ fields: [String: String]) {
        let secrets = secrets
        sink(level, SecretSafe.redact(message, prepared: secrets), fields.mapValues { SecretSafe.redact($0, prepared: secrets) })
    }

    // MARK: - Credential check

    /// The one remote call create makes (plugins.md §2): `GET /api/now/table/incident?sysparm_limit=1`
    /// (with an OAuth client, after getting a token), bounded by `timeout`. It needs the same
    /// read right as every delivery's lookup, so it proves the credentials and the role.
    ///
    /// - Throws: ``PluginError`` when ServiceNow rejects the credentials (401, 403, or a
    ///   token request refused), naming the check, ServiceNow's answer and the fix.
    ///   Anything else (unreachable, a timeout, 5xx, an odd answer) only logs a warning: a
    ///   ServiceNow that is down must not keep the collector from starting.
    func checkCredentials() throws(PluginError) {
        let deadline = Date().addingTimeInterval(Double(config.timeout.components.seconds)
            + Double(config.timeout.components.attoseconds) / 1e18)
        switch call("GET", path: "?sysparm_limit=1&sysparm_fields=sys_id", body: nil, deadline: deadline) {
        case .success, .failure(.missing):
            // API v1 answers an empty table with 404 "No Record found": the read was allowed.
            log(.info, "servicenow credentials checked", ["origin": config.origin])
        case .failure(.rejected(let result, _, let byTokenEndpoint)):
            let answer = Self.message(of: result.redacting(secrets: secrets))
            throw PluginError(byTokenEndpoint
                ? "ServiceNow credential check failed: \(answer)"
                : "\(Self.checkStep) was rejected: \(answer)")
        case .failure(.unanswered(let result)):
            log(.warning, "servicenow credential check skipped: ServiceNow did not answer; deliveries will tell",
                ["reason": Self.message(of: result)])
        case .failure(.result(let result)):
            log(.warning, "servicenow credential check inconclusive; deliveries will tell", ["reason": Self.message(of: result)])
        }
    }

    static func message(of result: DeliveryResult) -> String {
        switch result {
        case .delivered(_, let message), .retry(_, let message), .permanent(let message): message
        }
    }

    /// Creates, notes on or resolves the Issue's incident; blocks until done or the
    /// deadline (each call is bounded by the earlier of `timeout` and the deadline).
    func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        let issue = request.issue
        let correlationID = ServiceNowPayload.correlationID(for: issue)
        let outcome: DeliveryResult
        switch issue.status {
        case .firing: outcome = fire(issue, correlationID: correlationID, within: request)
        case .resolved: outcome = resolve(issue, correlationID: correlationID, within: request)
        }
        // Failures are clean already (HTTPOutcome); a success message quotes the number
        // ServiceNow returned, so it is cleaned too.
        let result = outcome.redacting(secrets: secrets)
        switch result {
        case .delivered(let reference, let message):
            log(.debug, "servicenow delivery done", ["correlation_id": correlationID, "sys_id": reference ?? "", "result": message])
        case .retry(_, let message), .permanent(let message):
            log(.warning, "servicenow delivery failed", ["correlation_id": correlationID, "reason": message])
        }
        return result
    }

    // MARK: - Steps

    private func fire(_ issue: Issue, correlationID: String, within request: DeliveryRequest) -> DeliveryResult {
        let open: [Incident]
        switch lookup(correlationID, within: request) {
        case .failure(let result): return result
        case .found(let found): open = found
        }
        if let incident = open.first {
            switch send("PATCH", path: "/" + incident.sysID, body: ServiceNowPayload.refire(issue), within: request) {
            case .success:
                return .delivered(reference: incident.sysID, message: "work note added to \(incident.label) (fired again)")
            case .failure(.missing):
                // Deleted between the lookup and the note: open a new one instead.
                log(.info, "servicenow incident vanished before the work note; creating a new one", ["sys_id": incident.sysID])
            case .failure(let failure):
                return failure.result
            }
        }
        switch send("POST", path: "", body: ServiceNowPayload.create(issue, config: config), within: request) {
        case .success(let answer):
            guard let created = answer.record else {
                // A real create answers 201 with the record. A page instead (a hibernating
                // developer instance, a proxy's login page) created nothing: retry, or the
                // alert is lost. Any other 2xx (`plugins check`'s probe) is taken at its word.
                log(.warning, "servicenow create answered 2xx without a sys_id", ["status": String(answer.status)])
                guard !answer.isWebPage else {
                    return .retry(message: "HTTP \(answer.status) from \(config.origin) is not a Table API record (a hibernating instance or a proxy page?); nothing was created")
                }
                return .delivered(reference: nil, message: "HTTP \(answer.status) from \(config.origin) without an incident record: check the instance URL")
            }
            return .delivered(reference: created.sysID, message: "created \(created.label)")
        case .failure(.missing):
            return .permanent(message: "HTTP 404 from \(config.origin): no incident table at \(ServiceNowNotifier.tablePath); check instance_url")
        case .failure(let failure):
            return failure.result
        }
    }

    private func resolve(_ issue: Issue, correlationID: String, within request: DeliveryRequest) -> DeliveryResult {
        let open: [Incident]
        switch lookup(correlationID, within: request) {
        case .failure(let result): return result
        case .found(let found): open = found
        }
        guard !open.isEmpty else {
            return .delivered(reference: nil, message: "no open incident with correlation_id \(correlationID); nothing to resolve")
        }
        var resolved: [Incident] = []
        for incident in open {
            switch send("PATCH", path: "/" + incident.sysID, body: ServiceNowPayload.resolve(issue, config: config), within: request) {
            case .success: resolved.append(incident)
            case .failure(.missing): continue  // deleted meanwhile: nothing left to resolve
            case .failure(let failure): return failure.result
            }
        }
        return .delivered(reference: resolved.first?.sysID, message: resolved.isEmpty
            ? "no open incident with correlation_id \(correlationID) left to resolve"
            : "resolved " + resolved.map(\.label).joined(separator: ", "))
    }

    // MARK: - HTTP

    /// An incident as the lookup and the writes return it.
    struct Incident: Equatable {
        var sysID: String
        var number: String?
        /// "INC0010002 (sys_id …)" or the sys_id alone.
        var label: String { number.map { "\($0) (sys_id \(sysID))" } ?? "sys_id \(sysID)" }
    }

    /// Why a call did not succeed.
    enum Failure: Error {
        /// A record that does not exist (404).
        case missing
        /// The credentials were refused: 401 or 403 from the Table API, or a token request
        /// the token endpoint refused (`byTokenEndpoint`).
        case rejected(DeliveryResult, status: Int, byTokenEndpoint: Bool)
        /// No HTTP answer at all: unreachable, reset, timed out.
        case unanswered(DeliveryResult)
        /// Any other answer, as ``HTTPOutcome`` classified it.
        case result(DeliveryResult)

        /// The delivery result for this failure.
        var result: DeliveryResult {
            switch self {
            case .missing: .permanent(message: "no such record")
            case .rejected(let result, _, _), .unanswered(let result), .result(let result): result
            }
        }
    }

    /// A 2xx answer.
    struct Answer {
        var status: Int
        /// The `result` object of a create or update, when it had a `sys_id`.
        var record: Incident?
        var body: [UInt8]
        /// A web page rather than the API's JSON (``HTTPResponse/isWebPage``).
        var isWebPage: Bool
    }

    /// What a lookup found.
    enum Lookup {
        case found([Incident])
        case failure(DeliveryResult)
    }

    /// The open incidents with this correlation id; a failure result when the lookup failed.
    private func lookup(_ correlationID: String, within request: DeliveryRequest) -> Lookup {
        let states = ServiceNowPayload.finishedStates.joined(separator: ",")
        let query = "correlation_id=\(correlationID)^active=true^stateNOT IN\(states)"
        let parameters = "?sysparm_query=" + PercentEncoding.encode(query) + "&sysparm_fields=" + PercentEncoding.encode(Self.fields)
            + "&sysparm_limit=\(Self.lookupLimit)"
        switch call("GET", path: parameters, body: nil, deadline: request.deadline) {
        case .success(let answer):
            guard let value = try? IssueCoding.decode(JSONValue.self, from: answer.body), let rows = value["result"]?.arrayValue else {
                log(.warning, "servicenow lookup answered without a result list", ["status": String(answer.status)])
                // A page instead of the list (a hibernating instance, a proxy) says nothing
                // about what is open: creating or resolving on it would duplicate or lose an
                // incident, so retry. Any other 2xx (`plugins check`'s probe) means none.
                guard !answer.isWebPage else {
                    return .failure(.retry(message: "HTTP \(answer.status) from \(config.origin) is not the Table API's result list (a hibernating instance or a proxy page?)"))
                }
                return .found([])
            }
            return .found(rows.compactMap(Self.incident))
        case .failure(.missing):
            // API v1 answered 404 for an empty match (§7.1).
            return .found([])
        case .failure(let failure):
            return .failure(failure.result)
        }
    }

    /// A write (`POST` to the table, `PATCH` to a record) with a JSON body.
    private func send(_ method: String, path: String, body: JSONValue, within request: DeliveryRequest) -> Result<Answer, Failure> {
        let encoded: [UInt8]
        do {
            encoded = try IssueCoding.encode(body)
        } catch {
            return .failure(.result(.permanent(message: "could not encode the ServiceNow request: \(error)")))
        }
        var query = "?sysparm_fields=" + PercentEncoding.encode(Self.fields) + "&sysparm_exclude_reference_link=true"
        if config.inputDisplayValue { query += "&sysparm_input_display_value=true" }
        return call(method, path: path + query, body: encoded, deadline: request.deadline)
    }

    /// One request; 2xx becomes an ``Answer``, a 404 with ServiceNow's "No Record found"
    /// (or any 404 to a record path) ``Failure/missing``, 401 and 403 ``Failure/rejected``,
    /// everything else HTTPOutcome's result. With an OAuth client a 401 drops the token, and
    /// the request is sent once more with a new one: a token can expire early or be revoked.
    private func call(_ method: String, path: String, body: [UInt8]?, deadline: Date) -> Result<Answer, Failure> {
        var renewed = false
        while true {
            let remaining = Duration.milliseconds(Int64(max(0, deadline.timeIntervalSinceNow) * 1000))
            guard remaining > .milliseconds(1) else {
                return .failure(.result(.retry(message: "the delivery deadline passed before sending to \(config.origin)")))
            }
            let authorization: String
            if let tokens {
                switch tokens.authorization(using: client, timeout: min(config.timeout, remaining)) {
                case .success(let value): authorization = value
                case .failure(let failure): return .failure(failure)
                }
            } else {
                authorization = config.authorization ?? ""
            }
            // The token request may have used part of the time left.
            let left = Duration.milliseconds(Int64(max(0, deadline.timeIntervalSinceNow) * 1000))
            guard left > .milliseconds(1) else {
                return .failure(.result(.retry(message: "the delivery deadline passed before sending to \(config.origin)")))
            }
            let result = exchange(method, path: path, body: body, authorization: authorization, timeout: min(config.timeout, left))
            if case .failure(.rejected(_, status: 401, byTokenEndpoint: false)) = result, let tokens, !renewed {
                // Once only: a 401 with a brand-new token is the user's or the ACL's doing,
                // and asking again would loop.
                tokens.invalidate()
                renewed = true
                log(.info, "servicenow refused the OAuth access token; getting a new one", ["origin": config.origin])
                continue
            }
            return result
        }
    }

    /// Sends one request with this `Authorization` and reads the answer (see ``call(_:path:body:deadline:)``).
    private func exchange(_ method: String, path: String, body: [UInt8]?, authorization: String, timeout: Duration) -> Result<Answer, Failure> {
        var headers = [
            HTTPHeader(name: "Authorization", value: authorization),
            HTTPHeader(name: "Accept", value: "application/json"),
            HTTPHeader(name: "User-Agent", value: "cano-collector-servicenow/\(ServiceNow.version)"),
        ]
        if body != nil { headers.append(HTTPHeader(name: "Content-Type", value: "application/json")) }
        let httpRequest = HTTPRequest(
            method: method, url: config.instanceURL + Self.tablePath + path, headers: headers, body: body,
            timeout: timeout, maxResponseBytes: 256 * 1024)
        let secrets = secrets
        let response: HTTPResponse
        do {
            response = try client.send(httpRequest)
        } catch {
            return .failure(.unanswered(HTTPOutcome.classify(error, secrets: secrets)))
        }
        if (200..<300).contains(response.status) {
            let record = (try? IssueCoding.decode(JSONValue.self, from: response.body))?["result"].flatMap(Self.incident)
            return .success(Answer(status: response.status, record: record, body: response.body, isWebPage: response.isWebPage))
        }
        let error = ServiceNowError(response.body)
        // "Missing" only when ServiceNow says so, or for a record path (`/<sys_id>`): a 404
        // from a load balancer or a wrong path on the collection must not read as "no
        // incident open" (a resolve would then be delivered with the incident left open).
        let recordPath = path.hasPrefix("/")
        if response.status == 404, error.isNoRecord || (recordPath && method != "POST") {
            return .failure(.missing)
        }
        let detail = error.explanation(status: response.status, oauth: tokens != nil) ?? (response.body.isEmpty ? nil : response.text)
        let outcome = HTTPOutcome.classify(response, origin: config.origin, detail: detail, secrets: secrets)
        if response.status == 401 || response.status == 403 {
            return .failure(.rejected(outcome, status: response.status, byTokenEndpoint: false))
        }
        return .failure(.result(outcome))
    }

    /// An incident from a `result` row; nil without a usable `sys_id`.
    static func incident(_ row: JSONValue) -> Incident? {
        guard let sysID = row["sys_id"]?.stringValue, isSysID(sysID) else { return nil }
        return Incident(sysID: sysID, number: row["number"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// A sys_id is 32 hex digits. Anything else is not put into a URL path.
    static func isSysID(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
        }
    }
}

/// ServiceNow's error body: `{"error":{"message":"…","detail":"…"},"status":"failure"}`.
struct ServiceNowError {
    var message: String?
    var detail: String?

    init(_ body: [UInt8]) {
        guard let value = try? IssueCoding.decode(JSONValue.self, from: body), let error = value["error"] else { return }
        message = error["message"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        detail = error["detail"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The Table API's answer for a sys_id (or, in v1, a query) that matches nothing.
    var isNoRecord: Bool { message?.lowercased().hasPrefix("no record") == true }

    /// "message (detail)", with a hint for the statuses that mean wrong credentials or
    /// missing roles; nil when the body said nothing.
    func explanation(status: Int, oauth: Bool = false) -> String? {
        var text = message ?? ""
        if let detail, detail != message { text = text.isEmpty ? detail : "\(text) (\(detail))" }
        let hint: String? = switch status {
        case 401 where oauth:
            "ServiceNow refused a new OAuth access token: the user the OAuth client acts for must be active and allowed web service access"
        case 401: "check username and password (or token): the user must exist, be active and allowed web service access"
        case 403: "the user lacks rights on the incident table: give it the itil role, or a table ACL for create, read and write"
        default: nil
        }
        if let hint { text += (text.isEmpty ? "" : "; ") + hint }
        return text.isEmpty ? nil : text
    }
}
