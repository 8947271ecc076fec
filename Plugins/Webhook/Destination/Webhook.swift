import CanoSDK
import CLibCrypto

/// The `webhook` destination: POSTs each Issue's JSON, exactly as the host sent it, to a
/// configured URL.
///
/// - Headers: `Content-Type: application/json`, `Idempotency-Key` (stable across retries,
///   so receivers can drop duplicates), the configured `headers`, and with `hmac_secret`
///   a signature header (`X-Cano-Signature: sha256=<hex HMAC-SHA256 of the body>`).
/// - Results: 2xx delivered; 408, 429, 5xx, timeouts and connection errors retry
///   (honouring `Retry-After`); any other status is permanent.
///
/// Messages and logs show only the URL's origin, never its path or query. A
/// ``ForwardingDestination``: the Issue is never decoded, only forwarded.
public final class Webhook: PreviewableDestination, ForwardingDestination {
    /// The type name in config: `type: webhook`.
    public static let name = "webhook"
    /// This plugin's version, also sent in `User-Agent`.
    public static let version = "1.0.0"
    /// Grouped Issues are JSON like any other and go out as they are: the receiver sees
    /// the `group` object and decides itself (docs/webhook.md).
    public static let capabilities: PluginCapabilities = [.groups]

    private let config: WebhookConfig
    /// ``WebhookConfig/secrets``, prepared once: every result is cleaned of them.
    private let secrets: [[UInt8]]
    private let host: HostServices
    /// One client: the host serialises calls on an instance (no CANO_FLAG_REENTRANT), so
    /// one libcurl handle and its kept-alive connection serve every delivery.
    private let client = HTTPClient()

    /// Validates the config (see ``WebhookConfig``); no network I/O.
    public init(config: PluginConfig, host: HostServices) throws(PluginError) {
        self.config = try WebhookConfig(config.json)
        self.secrets = self.config.secrets
        self.host = host
    }

    /// POSTs the Issue; blocks until the response or the earlier of `timeout` and the deadline.
    public func deliver(_ request: RawDeliveryRequest) -> DeliveryResult {
        let remaining = request.remaining
        guard remaining > .milliseconds(1) else {
            return .retry(message: "the delivery deadline passed before sending to \(config.origin)")
        }
        let body = request.issueJSON
        var headers = [HTTPHeader(name: "Content-Type", value: "application/json"),
                       HTTPHeader(name: "User-Agent", value: "cano-collector-webhook/\(Self.version)"),
                       HTTPHeader(name: "Idempotency-Key", value: request.idempotencyKey)]
        if let secret = config.hmacSecret {
            guard let signature = Self.signature(body, secret: secret) else {
                return .permanent(message: "cannot sign the body for \(config.origin): OpenSSL's HMAC-SHA256 failed (is libcrypto intact?)")
            }
            headers.append(HTTPHeader(name: config.signatureHeader, value: "sha256=" + signature))
        }
        // Configured headers come last; a configured Content-Type replaces the default.
        let configured = Set(config.headers.map { $0.name.lowercased() })
        headers.removeAll { configured.contains($0.name.lowercased()) }
        headers += config.headers

        let httpRequest = HTTPRequest(
            method: "POST", url: config.url, headers: headers, body: body,
            timeout: min(config.timeout, remaining), maxResponseBytes: 64 * 1024, tls: config.tls)
        // The shared mapping (HTTPOutcome): 2xx delivered; 408, 429, 5xx and transport
        // failures retry with Retry-After; redirects and other 4xx are permanent; every
        // message redacted of this destination's secrets.
        let result: DeliveryResult
        do {
            result = HTTPOutcome.classify(try client.send(httpRequest), origin: config.origin, secrets: secrets)
        } catch {
            result = HTTPOutcome.classify(error, secrets: secrets)
        }
        switch result {
        case .delivered: host.log(.debug, "webhook delivered", fields: ["origin": config.origin])
        case .retry(_, let message), .permanent(let message): host.log(.warning, "webhook delivery failed", fields: ["reason": message])
        }
        return result
    }

    /// The body is the Issue JSON itself; the summary names only the URL's origin (a path
    /// or query may hold a token).
    public func render(_ issue: Issue) throws(PluginError) -> RenderedRequest {
        guard let body = try? IssueCoding.encode(issue) else { throw PluginError("the Issue does not encode as JSON") }
        return RenderedRequest(summary: "POST to \(config.origin)", body: body)
    }

    /// Lowercase hex HMAC-SHA256 of `body`, by OpenSSL's one-shot `HMAC()`; nil when
    /// OpenSSL cannot compute it (the digest cannot be fetched: a broken install) or the
    /// secret is longer than its `int` length can say (2 GiB).
    static func signature(_ body: [UInt8], secret: [UInt8]) -> String? {
        guard let keyLength = Int32(exactly: secret.count) else { return nil }
        var mac = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let done = secret.withUnsafeBytes { key in
            body.withUnsafeBufferPointer { data in
                HMAC(EVP_sha256(), key.baseAddress, keyLength, data.baseAddress, data.count, &mac, &length)
            }
        }
        guard done != nil, length == 32 else { return nil }
        return Hex.lowercase(mac.prefix(Int(length)))
    }
}
