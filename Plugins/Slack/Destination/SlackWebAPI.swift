#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// The Slack Web API over CanoSDK's blocking ``HTTPClient``. Call only from threads the
/// host owns (deliver runs on them).
///
/// The token travels only in the `Authorization` header of calls to `api_url`; it is never
/// sent to an upload URL Slack hands back, and never appears in an error.
final class SlackWebAPI: Sendable {
    let baseURL: String
    private let token: String
    /// The token and `api_url` credentials, removed from any remote text put in an error.
    private let secrets: [[UInt8]]
    let timeout: Duration
    let tls: TLSOptions?
    let client: HTTPClient
    let clock: any SlackClock

    init(config: SlackConfig, clock: any SlackClock, client: HTTPClient = HTTPClient()) {
        baseURL = config.apiURL
        token = config.token
        secrets = config.secrets
        timeout = config.timeout
        tls = config.caFile.map { TLSOptions(caFile: $0) }
        self.client = client
        self.clock = clock
    }

    /// Calls `method` with a JSON body; returns the response object when `ok` is true.
    func call(_ method: String, json: JSONValue, deadline: Date) throws(SlackAPIError) -> JSONValue {
        let body: [UInt8]
        do { body = try IssueCoding.encode(json) } catch {
            throw SlackAPIError(.badResponse, method: method, message: "Slack \(method): request does not encode as JSON", retryable: false)
        }
        return try send(method, body: body, contentType: "application/json; charset=utf-8", deadline: deadline)
    }

    /// Calls `method` with a form body (what `files.getUploadURLExternal` and the
    /// `conversations.*` readers want).
    func call(_ method: String, form: [(String, String)], deadline: Date) throws(SlackAPIError) -> JSONValue {
        let body = form.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")
        return try send(method, body: Array(body.utf8), contentType: "application/x-www-form-urlencoded", deadline: deadline)
    }

    /// Step 2 of the upload flow: POST the bytes to the URL Slack returned. 200 is success.
    func upload(to url: String, bytes: [UInt8], deadline: Date) throws(SlackAPIError) {
        let method = "file upload"
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
            throw SlackAPIError(.badResponse, method: method, message: "Slack returned an upload_url that is not http(s)", retryable: false)
        }
        let request = HTTPRequest(
            method: "POST", url: url,
            headers: [HTTPHeader(name: "Content-Type", value: "application/octet-stream")],
            body: bytes, timeout: try callTimeout(method, deadline: deadline, bytes: bytes.count), tls: tls)
        let response = try perform(request, method: method)
        if response.status == 200 { return }
        throw statusError(response, method: method)
    }

    // MARK: - Implementation

    private func send(_ method: String, body: [UInt8], contentType: String, deadline: Date) throws(SlackAPIError) -> JSONValue {
        let request = HTTPRequest(
            method: "POST", url: baseURL + method,
            headers: [
                HTTPHeader(name: "Authorization", value: "Bearer " + token),
                HTTPHeader(name: "Content-Type", value: contentType),
            ],
            body: body, timeout: try callTimeout(method, deadline: deadline, bytes: body.count), tls: tls)
        let response = try perform(request, method: method)
        guard response.status == 200 else { throw statusError(response, method: method) }
        guard let envelope = try? IssueCoding.decode(JSONValue.self, from: response.body), let ok = envelope["ok"]?.boolValue else {
            throw SlackAPIError(.badResponse, method: method, message: "Slack \(method): HTTP 200 without Slack's JSON envelope", retryable: true)
        }
        if ok { return envelope }
        let rawCode = envelope["error"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown_error"
        // Everything below quotes the server; a proxy in front of Slack may echo the token.
        let code = remote(rawCode, limit: 120)
        var detail = ""
        if let errors = envelope["errors"]?.arrayValue ?? envelope["response_metadata"]?["messages"]?.arrayValue {
            let texts = errors.compactMap { $0.stringValue ?? $0["error"]?.stringValue }
            if !texts.isEmpty { detail = " (" + remote(texts.joined(separator: "; "), limit: 600) + ")" }
        }
        if rawCode == "ratelimited" || rawCode == "rate_limited" {
            let wait = response.retryAfter ?? SlackAPIError.defaultRateLimitWait
            throw SlackAPIError(.rateLimited, method: method, slackError: code, message: "Slack \(method): \(code); retry in \(wait.seconds)", retryable: true, retryAfter: wait)
        }
        let retryable = SlackAPIError.retryableSlackErrors.contains(rawCode)
        throw SlackAPIError(.slack, method: method, slackError: code, message: "Slack \(method) failed: \(code)\(detail)", retryable: retryable, retryAfter: retryable ? response.retryAfter : nil)
    }

    private func perform(_ request: HTTPRequest, method: String) throws(SlackAPIError) -> HTTPResponse {
        do {
            return try client.send(request)
        } catch {
            // HTTPClientError names the origin at most: no path, query or header values.
            throw SlackAPIError(.transport, method: method, message: "Slack \(method): " + remote(error.description, limit: 600), retryable: true)
        }
    }

    private func statusError(_ response: HTTPResponse, method: String) -> SlackAPIError {
        let status = response.status
        if status == 429 {
            let wait = response.retryAfter ?? SlackAPIError.defaultRateLimitWait
            let hint = response.retryAfter == nil ? " (no Retry-After; waiting \(wait.seconds))" : ""
            return SlackAPIError(.rateLimited, method: method, message: "Slack \(method): HTTP 429 rate limited; retry in \(wait.seconds)\(hint)", retryable: true, retryAfter: wait)
        }
        // 5xx (Slack sends an HTML page), 408 and proxy gateway errors are transient; other 4xx
        // mean a wrong api_url or a proxy refusing us, which retrying won't fix.
        let retryable = status >= 500 || status == 408 || status == 0
        return SlackAPIError(.httpStatus, method: method, message: "Slack \(method): HTTP \(status)", retryable: retryable, retryAfter: retryable ? response.retryAfter : nil)
    }

    /// Text that came from the other end (or from libcurl about it), fit for an error:
    /// secrets removed first (a cut could leave half a token), then capped.
    private func remote(_ text: String, limit: Int) -> String {
        BoundedEcho.cap(SecretSafe.redact(text, prepared: secrets), limit: limit)
    }

    /// The HTTP timeout: the configured one, cut to what is left before the deadline.
    private func callTimeout(_ method: String, deadline: Date, bytes: Int) throws(SlackAPIError) -> Duration {
        let left = deadline.timeIntervalSince(clock.now())
        guard left > 0.05 else {
            throw SlackAPIError(.deadline, method: method, message: "Slack \(method): delivery deadline reached before the call", retryable: true)
        }
        let leftDuration = Duration.milliseconds(Int64(left * 1000))
        // Big uploads get a second per MiB on top, so a slow link isn't mistaken for a hang.
        return min(timeout + .seconds(bytes >> 20), leftDuration)
    }

    static func formEncode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

extension Duration {
    /// "7s", "1.5s".
    var seconds: String {
        let ms = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(Double(ms) / 1000)s"
    }
}
