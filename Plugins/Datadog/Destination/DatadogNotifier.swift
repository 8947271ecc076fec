import CanoSDK

/// The Datadog destination's logic, free of the C ABI: tests drive it with a log closure
/// of their own; ``Datadog`` adapts it to the host.
///
/// Every Issue, firing or resolved, is one `POST` of a new event (Datadog events are
/// immutable, §6.4); the resolve lines up with the firing through `aggregation_key`.
/// Results go through ``HTTPOutcome``, plus Datadog's own rate-limit header: a 429
/// carries `X-RateLimit-Reset` (seconds until the window resets) and no `Retry-After`.
/// At create, ``checkKey()`` makes one bounded `GET /api/v1/validate`.
final class DatadogNotifier: Sendable {
    /// Writes one log line: (level, message, fields). Never given a secret.
    typealias Log = @Sendable (HostServices.LogLevel, String, [String: String]) -> Void

    /// The longest `X-RateLimit-Reset` honoured: the event window is a minute (§6.4), so a
    /// larger value is a broken proxy, and the host's own backoff is the better guide.
    static let maxRateLimitReset: Duration = .seconds(3_600)

    let config: DatadogConfig
    private let secrets: [[UInt8]]
    private let log: Log
    /// One client: the host serialises calls on an instance (no CANO_FLAG_REENTRANT), so one
    /// libcurl handle keeps its connection to Datadog alive across deliveries.
    private let client = HTTPClient()

    init(config: DatadogConfig, log: @escaping Log) {
        self.config = config
        self.secrets = config.secrets
        self.log = log
    }

    /// The key check's request, as messages name it.
    static let checkStep = "Datadog API key check (GET \(DatadogKeyCheck.path))"

    // MARK: - Key check

    /// The one remote call create makes (plugins.md §2): `GET /api/v1/validate` with the
    /// key in `DD-API-KEY`, bounded by `timeout`.
    ///
    /// - Throws: ``PluginError`` when Datadog rejects the key (403, or a 2xx saying
    ///   `{"valid": false}`), naming the check, Datadog's answer and the fix (the key, or
    ///   the site). Anything else (unreachable, a timeout, 5xx, 429, an odd answer) only
    ///   logs a warning: a Datadog that is down must not keep the collector from starting,
    ///   and deliveries retry on their own.
    func checkKey() throws(PluginError) {
        guard let url = config.keyCheckURL else {
            log(.info, "datadog API key check skipped: Datadog lists no API host for this site; deliveries will tell",
                ["site": config.site.name])
            return
        }
        let request = HTTPRequest(
            method: "GET", url: url,
            headers: [
                HTTPHeader(name: "DD-API-KEY", value: config.apiKey),
                HTTPHeader(name: "Accept", value: "application/json"),
                HTTPHeader(name: "User-Agent", value: "cano-collector-datadog/\(Datadog.version)"),
            ],
            timeout: config.timeout, maxResponseBytes: 16 * 1024, tls: config.tls)
        let origin = RedactedURL.origin(of: url)
        let response: HTTPResponse
        do {
            response = try client.send(request)
        } catch {
            log(.warning, "datadog API key check skipped: Datadog did not answer; deliveries will tell",
                ["origin": origin, "reason": Self.text(of: HTTPOutcome.classify(error, secrets: secrets))])
            return
        }
        let answer = DatadogAnswer(response.body)
        let ok = (200..<300).contains(response.status)
        if ok, answer.valid == true {
            log(.info, "datadog API key checked", ["origin": origin])
            return
        }
        guard response.status == 403 || (ok && answer.valid == false) else {
            let detail = ok ? "no {\"valid\": true} in the answer" : answer.detail(response, version: .v1)
            log(.warning, "datadog API key check inconclusive; deliveries will tell",
                ["reason": Self.text(of: HTTPOutcome.classify(response, origin: origin, detail: detail, secrets: secrets))])
            return
        }
        // 403's detail already carries the fix (DatadogAnswer.detail); a 2xx `valid: false`
        // gets the same words.
        let detail = ok ? "valid: false; " + DatadogAnswer.keyHint : answer.detail(response, version: .v1)
        let said = Self.text(of: HTTPOutcome.classify(response, origin: origin, detail: detail, secrets: secrets))
        throw PluginError("\(Self.checkStep) rejected the key: \(said)")
    }

    /// A result's message (HTTPOutcome's words, already capped and redacted).
    static func text(of result: DeliveryResult) -> String {
        switch result {
        case .delivered(_, let message), .retry(_, let message), .permanent(let message): message
        }
    }

    /// Posts the Issue's event; blocks until Datadog answers or the earlier of `timeout`
    /// and the deadline passes.
    func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        let issue = request.issue
        let what = "\(issue.status == .firing ? "firing" : "resolve") event"
            + (DatadogPayload.aggregationKey(issue).map { " (aggregation_key \($0))" } ?? "")
        let result = send(issue, what: what, remaining: request.remaining).redacting(secrets: secrets)
        switch result {
        case .delivered(_, let message):
            log(.debug, "datadog event accepted", ["origin": config.origin, "result": message])
        case .retry(_, let message), .permanent(let message):
            log(.warning, "datadog delivery failed", ["reason": message, "fingerprint": issue.fingerprint])
        }
        return result
    }

    private func send(_ issue: Issue, what: String, remaining: Duration) -> DeliveryResult {
        guard remaining > .milliseconds(1) else {
            return .retry(message: "the delivery deadline passed before sending to \(config.origin)")
        }
        let body: [UInt8]
        do {
            body = try IssueCoding.encode(DatadogPayload.body(issue, config: config))
        } catch {
            return .permanent(message: "could not encode the Datadog \(what): \(error)")
        }
        let request = HTTPRequest(
            method: "POST", url: config.eventsURL,
            headers: [
                HTTPHeader(name: "DD-API-KEY", value: config.apiKey),
                HTTPHeader(name: "Content-Type", value: "application/json"),
                HTTPHeader(name: "Accept", value: "application/json"),
                HTTPHeader(name: "User-Agent", value: "cano-collector-datadog/\(Datadog.version)"),
            ],
            body: body, timeout: min(config.timeout, remaining), maxResponseBytes: 64 * 1024, tls: config.tls)
        let response: HTTPResponse
        do {
            response = try client.send(request)
        } catch {
            return HTTPOutcome.classify(error, secrets: secrets)
        }
        let answer = DatadogAnswer(response.body)
        let ok = (200..<300).contains(response.status)
        let detail = ok ? answer.eventID.map { "event \($0)" } : answer.detail(response, version: config.version)
        switch HTTPOutcome.classify(response, origin: config.origin, detail: detail, secrets: secrets) {
        case .delivered(_, let message):
            return .delivered(reference: answer.eventID, message: "Datadog accepted the \(what) (\(config.version.rawValue)): \(message)")
        case .retry(let after, let message):
            return .retry(after: after ?? Self.rateLimitReset(response), message: "Datadog did not take the \(what): \(message)")
        case .permanent(let message):
            return .permanent(message: "Datadog rejected the \(what): \(message)")
        }
    }

    /// `X-RateLimit-Reset` on a 429: whole seconds until Datadog's rate-limit window resets
    /// (§6.4). HTTPOutcome reads only `Retry-After`, which Datadog does not send. Nil when
    /// absent, unreadable, negative or beyond ``maxRateLimitReset``.
    static func rateLimitReset(_ response: HTTPResponse) -> Duration? {
        guard response.status == 429, let raw = response.header("X-RateLimit-Reset"),
              let seconds = Double(raw.trimming(" \t")), seconds >= 0,
              seconds <= Double(maxRateLimitReset.components.seconds) else { return nil }
        // Bounded before the conversion: Int64(1e300) would trap and take the host down.
        return .milliseconds(Int64(seconds * 1000))
    }
}

/// What Datadog said in a response body.
///
/// - v1 202: `{"status":"ok","event":{"id":…,"id_str":"…",…}}`.
/// - v2 202: `{"data":{"id":"…","type":"event",…}}` (inferred from the JSON:API shape).
/// - errors: `{"errors":["…"]}` (v1, and 429 on v2) or JSON:API
///   `{"errors":[{"status":"400","title":"…","detail":"…"}]}` (v2 400/403).
struct DatadogAnswer {
    /// What to check when Datadog refuses the key.
    static let keyHint = "check api_key (an API key, not an application key) and that site matches the organisation's Datadog site"

    var eventID: String?
    /// `/api/v1/validate`'s `valid`; nil when absent.
    var valid: Bool?
    var errors: [String] = []
    var isJSON = false

    init(_ body: [UInt8]) {
        guard case .object(let object)? = try? IssueCoding.decode(JSONValue.self, from: body) else { return }
        isJSON = true
        valid = object["valid"]?.boolValue
        if let event = object["event"] {
            eventID = event["id_str"]?.stringValue ?? event["id"]?.numberValue.flatMap { Int64(exactly: $0) }.map(String.init)
        } else if let id = object["data"]?["id"]?.stringValue {
            eventID = id
        }
        for error in object["errors"]?.arrayValue ?? [] {
            if let text = error.stringValue {
                errors.append(text)
            } else {
                let parts = [error["title"]?.stringValue, error["detail"]?.stringValue].compactMap { $0 }.filter { !$0.isEmpty }
                if !parts.isEmpty { errors.append(parts.joined(separator: ": ")) }
            }
        }
    }

    /// Datadog's `errors`, joined, with a hint for a refused key; the body text when it is
    /// not Datadog's JSON (a proxy's page). HTTPOutcome caps and redacts it.
    func detail(_ response: HTTPResponse, version: DatadogAPIVersion) -> String? {
        var text = isJSON ? errors.joined(separator: "; ") : (response.body.isEmpty ? "" : response.text)
        if response.status == 403 {
            text += (text.isEmpty ? "" : "; ") + Self.keyHint
        }
        return text.isEmpty ? nil : text
    }
}
