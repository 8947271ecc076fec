#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// The Teams destination's core: builds the card, posts it to the Workflows webhook and
/// maps the answer. Its log goes through a closure, so tests run it without a host.
///
/// | answer | result |
/// | --- | --- |
/// | 202 Accepted, empty body (Workflows) or 200 | delivered. The flow posts asynchronously, so 202 is all Teams ever says about success; the card is schema-valid before it leaves |
/// | 200 whose body reports "HTTP error 429" (how the old connectors throttled) | retry |
/// | 429 (with `Retry-After`), 408, 5xx, timeouts, refused connections | retry |
/// | 400, 413 and other 4xx | permanent, with the service's text |
public final class TeamsNotifier: Sendable {
    /// One log line: level, message, fields. Never given the URL.
    public typealias Log = @Sendable (HostServices.LogLevel, String, [String: String]) -> Void

    /// The parsed settings.
    public let config: TeamsConfig
    private let log: Log
    private let secrets: [[UInt8]]
    /// One client: calls on an instance are serialised by the host (no CANO_FLAG_REENTRANT),
    /// so one libcurl handle keeps its connection alive across deliveries.
    private let client = HTTPClient()

    /// A notifier for `config`, logging through `log`.
    public init(config: TeamsConfig, log: @escaping Log) {
        self.config = config
        self.log = log
        self.secrets = SecretSafe.prepared(config.secrets)
    }

    /// Posts one Issue's card; blocks until Teams answers or the earlier of `timeout` and
    /// the deadline passes.
    ///
    /// A delivered firing returns the time it was posted as its `reference`; the host hands
    /// it back with the resolve, whose card then names when the firing card was posted.
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        let issue = request.issue
        let result = send(request).redacting(secrets: secrets)
        switch result {
        case .delivered(_, let message):
            log(.debug, "msteams card accepted", ["origin": config.origin, "result": message, "fingerprint": issue.fingerprint])
        case .retry(_, let message), .permanent(let message):
            log(.warning, "msteams delivery failed", ["reason": message, "fingerprint": issue.fingerprint])
        }
        return result
    }

    private func send(_ request: DeliveryRequest) -> DeliveryResult {
        let issue = request.issue
        let postedAt = request.reference.flatMap(RFC3339.parse)
        let message: TeamsMessage
        do {
            message = try TeamsCardBuilder.build(issue, postedAt: postedAt)
        } catch {
            return .permanent(message: error.message)
        }
        if !message.trimmed.isEmpty {
            log(.info, "msteams card trimmed to fit 28 KB", ["fingerprint": issue.fingerprint, "left_out": message.trimmed.joined(separator: ", ")])
        }
        let remaining = request.remaining
        guard remaining > .milliseconds(1) else {
            return .retry(message: "the delivery deadline passed before posting to \(config.origin)")
        }
        let http = HTTPRequest(
            method: "POST", url: config.url,
            headers: [HTTPHeader(name: "Content-Type", value: "application/json"),
                      HTTPHeader(name: "User-Agent", value: "cano-collector-msteams/\(Teams.version)")],
            body: message.body, timeout: min(config.timeout, remaining), maxResponseBytes: 64 * 1024, tls: config.tls)
        let response: HTTPResponse
        do {
            response = try client.send(http)
        } catch {
            return HTTPOutcome.classify(error, secrets: secrets)
        }
        let what = issue.status == .resolved ? "resolved card" : "card"
        // Legacy connectors throttled with 200 and the 429 in the body (destinations.md §2.1).
        if response.status == 200, response.text.contains("HTTP error 429") {
            return .retry(after: response.retryAfter, message: "Teams throttled the \(what) (HTTP 200 reporting 429 from \(config.origin))")
        }
        let detail = (200..<300).contains(response.status) || response.body.isEmpty ? nil : response.text
        switch HTTPOutcome.classify(response, origin: config.origin, detail: detail, secrets: secrets) {
        case .delivered(_, let text):
            let reference = issue.status == .firing ? RFC3339.format(Date()) : nil
            return .delivered(reference: reference, message: "Teams accepted the \(what): \(text)")
        case .retry(let after, let text):
            return .retry(after: after, message: "Teams did not take the \(what): \(text)")
        case .permanent(let text):
            return .permanent(message: "Teams rejected the \(what): \(text)")
        }
    }
}
