import CanoSDK

/// A destination that POSTs each Issue, as JSON, to a URL from its config:
///
/// ```yaml
/// destinations:
///   - name: my-service
///     type: my-destination
///     config:
///       url_file: /etc/cano-collector/secrets/my-service-url   # or url: https://...
/// ```
///
/// Replace `deliver` with your service's API call; keep the result mapping: the host's
/// retries, backoff and dead-lettering depend on it.
final class MyDestination: DestinationPlugin {
    static let name = "my-destination"
    static let version = "0.1.0"

    /// The config block, decoded; errors name the offending key.
    struct Config: Decodable {
        /// Where Issues go. Treat it as a secret: it often embeds a key.
        var url: String
        /// Per-request cap; the host's deadline still applies.
        var timeoutSeconds: Int?

        enum CodingKeys: String, CodingKey {
            case url
            case timeoutSeconds = "timeout_seconds"
        }
    }

    private let config: Config
    private let host: HostServices
    /// One libcurl handle per instance: the host serialises deliver() calls on an
    /// instance (the descriptor does not set CANO_FLAG_REENTRANT).
    private let http = HTTPClient()

    /// Validates and prepares; no network I/O here (the host calls it at start-up).
    init(config: PluginConfig, host: HostServices) throws(PluginError) {
        let decoded = try config.decode(Config.self)
        guard decoded.url.hasPrefix("https://") || decoded.url.hasPrefix("http://") else {
            // Never echo the URL itself: it may carry a key.
            throw PluginError("config: \"url\" must be an http(s) URL")
        }
        self.config = decoded
        self.host = host
    }

    /// Runs on a host delivery thread: blocking here is expected, trapping is not.
    func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        let timeout = min(request.remaining, .seconds(config.timeoutSeconds ?? 10))
        let response: HTTPResponse
        do {
            response = try http.send(HTTPRequest(
                method: "POST", url: config.url,
                headers: [
                    HTTPHeader(name: "Content-Type", value: "application/json"),
                    // Lets the receiver drop duplicates across retries and restarts.
                    HTTPHeader(name: "Idempotency-Key", value: request.idempotencyKey),
                ],
                body: request.issueJSON, timeout: timeout))
        } catch {
            // Transport errors name the host only; every one but an oversized answer retries.
            return HTTPOutcome.classify(error, secrets: secrets)
        }
        // CanoSDK's one mapping: 2xx delivered; 408, 429, 5xx retry (with Retry-After);
        // anything else permanent. Pass the service's own error text as `detail`.
        let result = HTTPOutcome.classify(response, origin: RedactedURL.origin(of: config.url), secrets: secrets)
        if case .delivered = result {
            host.increment("issues_sent")
            return .delivered(reference: response.header("Location"), message: "HTTP \(response.status)")
        }
        return result
    }

    /// What no message may carry: the URL's credentials (``SecretSafe``).
    private var secrets: [[UInt8]] { SecretSafe.prepared(SecretSafe.secrets(inURL: config.url)) }
}

/// The one exported symbol: the host dlopen()s the library and calls it.
@_cdecl("cano_plugin_entry")
public func canoPluginEntry() -> UnsafeRawPointer {
    PluginExport.destination(MyDestination.self)
}
