#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// The PagerDuty destination's core: picks the routing key, builds the event, sends it and
/// maps PagerDuty's answer. Its log goes through a closure, so tests run it without a host.
public final class PagerDutyNotifier: Sendable {
    /// One log line: level, message, fields. Never given a secret.
    public typealias Log = @Sendable (HostServices.LogLevel, String, [String: String]) -> Void

    /// How long to wait after a 429 that names no time. PagerDuty sends no Retry-After and
    /// counts events over a rolling 60 s window; its guidance is to retry after about 30 s
    /// (destinations.md §3.1), later than the host's first backoff steps.
    public static let rateLimitBackoff: Duration = .seconds(30)

    public let config: PagerDutyConfig
    private let log: Log
    /// The configured secrets, prepared once; a routing key from a label is added per call.
    private let secrets: [String]
    /// One client: calls on an instance are serialised by the host (no CANO_FLAG_REENTRANT),
    /// so one libcurl handle keeps its connection to PagerDuty alive across deliveries.
    private let client = HTTPClient()

    public init(config: PagerDutyConfig, log: @escaping Log) {
        self.config = config
        self.log = log
        self.secrets = config.secrets
    }

    /// Sends one Issue; blocks until PagerDuty answers or the earlier of `timeout` and the
    /// deadline passes.
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        let issue = request.issue
        let routingKey: String
        switch self.routingKey(for: issue) {
        case .success(let key): routingKey = key
        case .failure(let error):
            log(.warning, "pagerduty delivery refused", ["reason": error.message, "fingerprint": issue.fingerprint])
            return .permanent(message: error.message)
        }
        let secrets = SecretSafe.prepared(self.secrets + [routingKey])
        // Redacted where remote text enters (HTTPOutcome, before its cap can cut a key in
        // half) and once more over the whole result.
        let result = send(issue, routingKey: routingKey, remaining: request.remaining, secrets: secrets).redacting(secrets: secrets)
        switch result {
        case .delivered(_, let message):
            log(.debug, "pagerduty event accepted", ["origin": config.origin, "result": message])
        case .retry(_, let message), .permanent(let message):
            log(.warning, "pagerduty delivery failed", ["reason": message, "fingerprint": issue.fingerprint])
        }
        return result
    }

    /// The Issue's routing key: from `routing_key_label` when the Issue has that label,
    /// else the configured one. Errors never contain the key.
    func routingKey(for issue: Issue) -> Result<String, PluginError> {
        if let label = config.routingKeyLabel, let raw = issue.subject.labels[label] {
            let key = raw.trimming(" \t\r\n")
            guard PagerDutyConfig.isRoutingKey(key) else {
                return .failure(PluginError("label \"\(label)\" does not hold a \(PagerDutyConfig.routingKeyLength)-character Events API v2 routing key (\(key.count) characters); fix the label or remove it to use routing_key"))
            }
            return .success(key)
        }
        if let key = config.routingKey { return .success(key) }
        return .failure(PluginError("the Issue has no label \"\(config.routingKeyLabel ?? "")\" and no routing_key is configured, so there is no PagerDuty service to send it to"))
    }

    private func send(_ issue: Issue, routingKey: String, remaining: Duration, secrets: [[UInt8]]) -> DeliveryResult {
        let event: PagerDutyEvent
        do {
            event = try PagerDutyEventBuilder.build(issue, routingKey: routingKey, config: config)
        } catch {
            return .permanent(message: error.message)
        }
        if !event.trimmed.isEmpty {
            log(.info, "pagerduty event trimmed to 512 KB", ["fingerprint": issue.fingerprint, "left_out": event.trimmed.joined(separator: ", ")])
        }
        guard remaining > .milliseconds(1) else {
            return .retry(message: "the delivery deadline passed before sending to \(config.origin)")
        }
        let request = HTTPRequest(
            method: "POST", url: config.url + event.path,
            headers: [HTTPHeader(name: "Content-Type", value: "application/json"),
                      HTTPHeader(name: "User-Agent", value: "cano-collector-pagerduty/\(PagerDuty.version)")],
            body: event.body, timeout: min(config.timeout, remaining), maxResponseBytes: 64 * 1024, tls: config.tls)
        let response: HTTPResponse
        do {
            response = try client.send(request)
        } catch {
            return HTTPOutcome.classify(error, secrets: secrets)
        }
        let answer = Answer(response.body)
        let what = event.dedupKey.map { "\(event.kind.rawValue) dedup_key \($0)" } ?? "change event"
        let outcome = HTTPOutcome.classify(response, origin: config.origin, detail: (200..<300).contains(response.status) ? nil : answer.detail(response), secrets: secrets)
        switch outcome {
        case .delivered(_, let message):
            // PagerDuty echoes the dedup_key; it is the fingerprint, which the host hands
            // back as `reference` on the resolve (kept for tools that read references).
            return .delivered(reference: answer.dedupKey ?? event.dedupKey, message: "PagerDuty accepted the \(what): \(message)")
        case .retry(let after, let message):
            let wait = after ?? (response.status == 429 ? Self.rateLimitBackoff : nil)
            return .retry(after: wait, message: "PagerDuty did not take the \(what): \(message)")
        case .permanent(let message):
            return .permanent(message: "PagerDuty rejected the \(what): \(message)")
        }
    }

    /// PagerDuty's JSON answer: `{"status", "message", "dedup_key", "errors": [...]}`.
    struct Answer {
        var status: String?
        var message: String?
        var dedupKey: String?
        var errors: [String] = []
        var isJSON = false

        init(_ body: [UInt8]) {
            guard case .object(let object)? = try? IssueCoding.decode(JSONValue.self, from: body) else { return }
            isJSON = true
            status = object["status"]?.stringValue
            message = object["message"]?.stringValue
            dedupKey = object["dedup_key"]?.stringValue
            errors = object["errors"]?.arrayValue?.compactMap(\.stringValue) ?? []
        }

        /// "Event object is invalid: 'payload.severity' is invalid" from a 400; the body
        /// text when it is not PagerDuty's JSON (a proxy's error page); HTTPOutcome caps
        /// and redacts it.
        func detail(_ response: HTTPResponse) -> String? {
            guard isJSON else { return response.body.isEmpty ? nil : response.text }
            let head = message ?? status
            let tail = errors.joined(separator: "; ")
            switch (head, tail.isEmpty) {
            case (let head?, false): return "\(head): \(tail)"
            case (let head?, true): return head
            case (nil, false): return tail
            case (nil, true): return nil
            }
        }
    }
}
