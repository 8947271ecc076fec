import CanoSDK

/// The Opsgenie destination's logic, free of the C ABI: tests drive it with a log closure
/// of their own; ``Opsgenie`` adapts it to the host.
///
/// - firing: `POST {api_url}/v2/alerts` with `alias` = the Issue's fingerprint. Repeats of
///   an open alert only raise its count in Opsgenie.
/// - resolved: `POST {api_url}/v2/alerts/{alias}/close?identifierType=alias` with the
///   alias of the Issue's fingerprint, never the delivery's reference (a requestId): the
///   fingerprint is what the firing used, and it is known after a restart or when the
///   firing's reference was lost. Opsgenie accepts a close for an alias with no open alert
///   (202) and only records "Alert does not exist" in the request's status, so a resolve
///   whose firing never arrived is delivered, not retried forever.
/// - Results go through ``HTTPOutcome``: 2xx delivered (Opsgenie answers 202 and processes
///   later); 408, 429 and 5xx retry, honouring `Retry-After`; other statuses are permanent,
///   with Opsgenie's own error text. A 202's `requestId` is the delivery's reference: it
///   names the asynchronous request whose outcome `GET /v2/alerts/requests/{id}` reports.
final class OpsgenieNotifier: Sendable {
    /// Writes one log line: (level, message, fields).
    typealias Log = @Sendable (HostServices.LogLevel, String, [String: String]) -> Void

    let config: OpsgenieConfig
    private let secrets: [[UInt8]]
    private let log: Log
    /// One client: the host serialises calls on an instance (no CANO_FLAG_REENTRANT), so one
    /// libcurl handle and its kept-alive connection serve every delivery (the client would
    /// serialise concurrent calls itself).
    private let client = HTTPClient()

    init(config: OpsgenieConfig, log: @escaping Log) {
        self.config = config
        self.secrets = config.secrets
        self.log = log
    }

    /// Creates or closes the Issue's alert; blocks until the answer or the earlier of
    /// `timeout` and the deadline.
    func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        let issue = request.issue
        let remaining = request.remaining
        guard remaining > .milliseconds(1) else {
            return .retry(message: "the delivery deadline passed before sending to \(config.origin)")
        }
        let action: Action
        switch issue.status {
        case .firing:
            let alias = OpsgeniePayload.alias(for: issue)
            action = Action(name: "create", alias: alias, url: config.apiURL + "/v2/alerts", body: OpsgeniePayload.create(issue, config: config))
        case .resolved:
            // The fingerprint, not the reference: the reference is a requestId, and may be
            // missing (a restart, a firing dead-lettered); the alias never is.
            let alias = OpsgeniePayload.alias(for: issue)
            action = Action(
                name: "close", alias: alias,
                url: config.apiURL + "/v2/alerts/" + PercentEncoding.encode(alias) + "/close?identifierType=alias",
                body: OpsgeniePayload.close(issue, config: config))
        }
        let result = send(action, timeout: min(config.timeout, remaining))
        switch result {
        case .delivered(_, let message):
            log(.debug, "opsgenie \(action.name) accepted", ["alias": action.alias, "result": message])
        case .retry(_, let message), .permanent(let message):
            log(.warning, "opsgenie \(action.name) failed", ["alias": action.alias, "reason": message])
        }
        return result
    }

    /// One API call to make.
    struct Action {
        /// "create" or "close".
        var name: String
        var alias: String
        var url: String
        var body: JSONValue
    }

    private func send(_ action: Action, timeout: Duration) -> DeliveryResult {
        let body: [UInt8]
        do {
            body = try IssueCoding.encode(action.body)
        } catch {
            return .permanent(message: "could not encode the Opsgenie \(action.name) request: \(error)")
        }
        let request = HTTPRequest(
            method: "POST", url: action.url,
            headers: [
                HTTPHeader(name: "Authorization", value: "GenieKey " + config.apiKey),
                HTTPHeader(name: "Content-Type", value: "application/json"),
                HTTPHeader(name: "User-Agent", value: "cano-collector-opsgenie/\(Opsgenie.version)"),
            ],
            body: body, timeout: timeout, maxResponseBytes: 64 * 1024)
        let response: HTTPResponse
        do {
            response = try client.send(request)
        } catch {
            return HTTPOutcome.classify(error, secrets: secrets)
        }
        let answer = OpsgenieAnswer(response.body)
        let detail: String?
        if (200..<300).contains(response.status) {
            let id = answer.requestId.map { ", requestId \($0)" } ?? ""
            detail = "\(action.name) accepted for alias \(action.alias)\(id)"
        } else {
            detail = answer.explanation(status: response.status) ?? (response.body.isEmpty ? nil : response.text)
        }
        let result = HTTPOutcome.classify(response, origin: config.origin, detail: detail, secrets: secrets)
        // The requestId is kept as the reference: it is what the accepted (asynchronous)
        // request can be looked up by. Nothing depends on it: closes go by alias.
        if case .delivered(_, let message) = result {
            return .delivered(reference: Self.usableRequestId(answer.requestId), message: message)
        }
        return result
    }

    /// A requestId worth storing: 1 to 128 printable ASCII characters (Opsgenie's are UUIDs);
    /// anything else, such as a proxy's body, is no reference at all.
    static func usableRequestId(_ requestId: String?) -> String? {
        guard let requestId, !requestId.isEmpty, requestId.utf8.count <= 128,
              requestId.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        return requestId
    }
}

/// What Opsgenie said in a response body: `{"result"|"message", "took", "requestId", "errors"}`.
struct OpsgenieAnswer {
    var message: String?
    var requestId: String?
    /// Field → problem, from a 4xx's `errors` object, sorted by field.
    var errors: [(field: String, problem: String)] = []

    init(_ body: [UInt8]) {
        guard let value = try? IssueCoding.decode(JSONValue.self, from: body), case .object(let object) = value else { return }
        message = object["message"]?.stringValue
        requestId = object["requestId"]?.stringValue
        if case .object(let errors)? = object["errors"] {
            self.errors = errors.sorted { $0.key < $1.key }.map { ($0.key, $0.value.stringValue ?? "\($0.value)") }
        }
    }

    /// "Request body is not processable. (message: Message can not be empty.)", with a hint
    /// for the statuses that mean a wrong key or host; nil when the body said nothing.
    func explanation(status: Int) -> String? {
        var text = message ?? ""
        if !errors.isEmpty {
            let list = errors.map { "\($0.field): \($0.problem)" }.joined(separator: "; ")
            text = text.isEmpty ? list : "\(text) (\(list))"
        }
        switch status {
        case 401:
            text += (text.isEmpty ? "" : "; ") + "check api_key: it must be an API integration's key, and an EU account needs region: eu"
        case 403:
            text += (text.isEmpty ? "" : "; ") + "the key lacks the right: give the API integration create and update (close) access"
        default: break
        }
        return text.isEmpty ? nil : text
    }
}
