#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Turns what an HTTP service answered into a ``DeliveryResult``: one mapping for every
/// HTTP plugin, so Webhook, PagerDuty, Opsgenie and the next one retry and dead-letter
/// the same way.
///
/// The decision follows Alertmanager's notifiers (`notify.Retrier`, `notify/util.go`):
///
/// | status | result | why |
/// | --- | --- | --- |
/// | 2xx | `.delivered` | accepted |
/// | 408, 429, 5xx | `.retry`, with `Retry-After` as the delay when present | timeout, rate limit, server trouble: the same request may succeed later |
/// | 3xx | `.permanent` | ``HTTPClient`` never follows redirects (a redirect could send the body, and its credentials, elsewhere); the configured URL is wrong |
/// | other 4xx | `.permanent` | the request itself is wrong (bad key, bad payload); resending it changes nothing |
/// | 1xx as a final answer | `.permanent` | a broken server or proxy; Alertmanager does not retry it either |
/// | not in 100...599 | `.retry` | not HTTP at all; fail safe, as the host treats an invalid status |
///
/// Messages read "HTTP 400 from https://events.pagerduty.com: <detail>". They name the
/// origin only (``RedactedURL/origin(of:)``), and every text that came from the remote
/// side is redacted with ``SecretSafe`` and capped with ``BoundedEcho``, so a service that
/// echoes the credential it refused never puts it into a log line.
public enum HTTPOutcome {
    /// How many UTF-8 bytes of a service's own error text (`detail`, or libcurl's text)
    /// a message keeps: enough to read PagerDuty's or Opsgenie's `errors`, small enough
    /// for one log line.
    public static let detailLimit = 512

    /// The result for an HTTP response.
    ///
    /// - Parameters:
    ///   - response: what ``HTTPClient/send(_:)`` returned.
    ///   - origin: "scheme://host:port" to name in the message (never a path or query:
    ///     pass ``HTTPRequest/host`` or ``RedactedURL/origin(of:)``).
    ///   - detail: the service's own explanation, such as PagerDuty's `errors` array or
    ///     Opsgenie's `message`, appended after a colon. Line breaks and control
    ///     characters become spaces; it is redacted, then capped at ``detailLimit`` bytes.
    ///   - secrets: ``SecretSafe/prepared(_:)`` secrets (routing keys, tokens) removed from
    ///     the whole message.
    ///   - now: the clock for an HTTP-date `Retry-After` (tests pass a fixed one).
    /// - Returns: `.delivered` for 2xx; `.retry(after:)` for 408, 429, 5xx (and a status
    ///   outside 100...599); `.permanent` for everything else (see the table above).
    public static func classify(
        _ response: HTTPResponse, origin: String, detail: String? = nil, secrets: [[UInt8]] = [], now: Date = Date()
    ) -> DeliveryResult {
        let status = response.status
        var message = "HTTP \(status)"
        if (300..<400).contains(status) { message += " (redirect)" }
        message += " from \(origin)"
        if (300..<400).contains(status) { message += ": redirects are not followed; configure the final URL" }
        if let detail, let cleaned = clean(detail, secrets: secrets) {
            message += (300..<400).contains(status) ? " (\(cleaned))" : ": \(cleaned)"
        }
        // The origin and our own words are redacted too: a secret may be the host name of
        // a self-hosted service, or the whole configured URL.
        message = SecretSafe.redact(message, prepared: secrets)

        switch status {
        case 200..<300:
            return .delivered(message: message)
        case 408, 429, 500..<600:
            return .retry(after: response.retryAfter(now: now), message: message)
        case 100..<600:
            return .permanent(message: message)
        default:
            return .retry(after: nil, message: message + " (not a valid HTTP status)")
        }
    }

    /// The result for a transport failure (no HTTP response at all).
    ///
    /// Timeouts, refused or reset connections, DNS and TLS failures retry: the service or
    /// the network may recover, and the host's backoff and `max_attempts` bound the
    /// retries. ``HTTPClientError/Code/responseTooLarge`` is permanent: the service
    /// answered, and it will answer with the same oversized body again.
    ///
    /// The message is ``HTTPClientError/description`` (which names the origin only),
    /// redacted with `secrets` (``SecretSafe/prepared(_:)``) and capped at
    /// ``detailLimit`` bytes: libcurl's text is not ours to vouch for.
    public static func classify(_ error: HTTPClientError, secrets: [[UInt8]] = []) -> DeliveryResult {
        let message = clean(error.description, secrets: secrets) ?? "\(error.code)"
        if error.code == .responseTooLarge {
            return .permanent(message: message)
        }
        return .retry(after: nil, message: message)
    }

    /// `text` on one line, redacted, then capped; nil when nothing is left.
    static func clean(_ text: String, secrets: [[UInt8]]) -> String? {
        // Redact before capping: a cap could cut a secret in half and leave its start,
        // which no longer matches. Redacting first replaces it whole.
        let redacted = SecretSafe.redact(text, prepared: secrets)
        var oneLine = ""
        var lastWasSpace = false
        for scalar in redacted.unicodeScalars {
            // Control characters (newlines in an HTML error page, escape sequences) would
            // break a log line or a terminal; runs of blanks say nothing.
            let blank = scalar.properties.generalCategory == .control || scalar == " " || scalar == "\u{2028}" || scalar == "\u{2029}"
            if blank {
                if !lastWasSpace, !oneLine.isEmpty { oneLine.unicodeScalars.append(" ") }
                lastWasSpace = true
            } else {
                oneLine.unicodeScalars.append(scalar)
                lastWasSpace = false
            }
        }
        while oneLine.last == " " { oneLine.removeLast() }
        guard !oneLine.isEmpty else { return nil }
        return BoundedEcho.cap(oneLine, limit: detailLimit)
    }
}
