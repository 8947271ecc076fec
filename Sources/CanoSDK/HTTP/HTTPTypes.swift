#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One HTTP header field.
public struct HTTPHeader: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// The credential of HTTP Basic auth (RFC 7617): base64 of "user:password" in UTF-8.
    /// A secret as much as the password: list it with the plugin's secrets, since a proxy
    /// may echo the `Authorization` header it refused.
    public static func basicCredential(user: String, password: String) -> String {
        Data((user + ":" + password).utf8).base64EncodedString()
    }

    /// `Authorization: Basic <credential>`.
    public static func basicAuthorization(user: String, password: String) -> HTTPHeader {
        HTTPHeader(name: "Authorization", value: "Basic " + basicCredential(user: user, password: password))
    }
}

/// Certificates for HTTPS beyond the system trust store.
public struct TLSOptions: Sendable, Equatable {
    /// A CA bundle file to trust instead of the system's.
    public var caFile: String?
    /// A CA bundle (PEM) to trust instead of the system's.
    public var caPEM: [UInt8]?
    /// A client certificate (PEM) for mutual TLS.
    public var clientCertificatePEM: [UInt8]?
    /// The client certificate's private key (PEM).
    public var clientKeyPEM: [UInt8]?
    /// Skips server certificate verification. Only for explicit user opt-in.
    public var insecureSkipVerify: Bool

    public init(
        caFile: String? = nil, caPEM: [UInt8]? = nil, clientCertificatePEM: [UInt8]? = nil,
        clientKeyPEM: [UInt8]? = nil, insecureSkipVerify: Bool = false
    ) {
        self.caFile = caFile
        self.caPEM = caPEM
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.insecureSkipVerify = insecureSkipVerify
    }
}

/// A request for ``HTTPClient``.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [HTTPHeader]
    public var body: [UInt8]?
    /// The whole exchange must finish within this time.
    public var timeout: Duration
    public var connectTimeout: Duration
    /// A larger body fails with ``HTTPClientError/Code/responseTooLarge``.
    public var maxResponseBytes: Int
    public var tls: TLSOptions?

    public init(
        method: String = "GET", url: String, headers: [HTTPHeader] = [], body: [UInt8]? = nil,
        timeout: Duration = .seconds(10), connectTimeout: Duration = .seconds(5),
        maxResponseBytes: Int = 16 << 20, tls: TLSOptions? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.maxResponseBytes = maxResponseBytes
        self.tls = tls
    }

    /// "scheme://host:port" of the URL: what errors and logs may show of it.
    public var host: String { RedactedURL.origin(of: url) }
}

/// A response from ``HTTPClient``.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [HTTPHeader]
    public var body: [UInt8]

    public init(status: Int, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first header with this name, case-insensitively.
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.lowercased() == lowered }?.value
    }

    /// `Retry-After` as a delay: delay-seconds ("120"), or an HTTP-date (RFC 9110 §10.2.3)
    /// turned into the time left until it (zero when it has passed). Nil when absent or
    /// unreadable. At most ``maxRetryAfter``: a remote header must never be able to park a
    /// queue for years, or (`inf`, `1e300`) overflow the conversion.
    public var retryAfter: Duration? { retryAfter(now: Date()) }

    /// ``retryAfter`` with the clock given (tests).
    public func retryAfter(now: Date) -> Duration? {
        guard let raw = header("Retry-After") else { return nil }
        let value = raw.trimming(" \t")
        if let seconds = Double(value) {
            guard seconds >= 0, !seconds.isNaN else { return nil }
            return Self.bounded(seconds)
        }
        guard let date = HTTPDate.parse(value) else { return nil }
        return Self.bounded(max(0, date.timeIntervalSince(now)))
    }

    /// The longest `Retry-After` honoured: one day.
    public static let maxRetryAfter: Duration = .seconds(86_400)

    private static func bounded(_ seconds: Double) -> Duration {
        let cap = Double(maxRetryAfter.components.seconds)
        return .milliseconds(Int64(min(seconds, cap) * 1000))
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// True when the answer is a web page (`Content-Type: text/html`, or a body starting
    /// with `<`): what a hibernating instance, a proxy's login page or a maintenance page
    /// sends with a 200 instead of the API's JSON. A plugin must not read such a 2xx as
    /// "nothing found" (it would create a twin, or lose a resolve): it retries.
    public var isWebPage: Bool {
        if header("Content-Type")?.lowercased().contains("html") == true { return true }
        return body.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D } == UInt8(ascii: "<")
    }
}

/// A transport-level failure: no HTTP response was received.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, coarsely; every code but `.responseTooLarge` is worth a retry.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String { case timeout, connectionFailed, tls, responseTooLarge, other }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        public static let timeout = Code(.timeout)
        public static let connectionFailed = Code(.connectionFailed)
        public static let tls = Code(.tls)
        public static let responseTooLarge = Code(.responseTooLarge)
        public static let other = Code(.other)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// libcurl's explanation; names the host at most, never the path, query or headers.
    public let message: String
    /// "scheme://host:port" of the request.
    public let host: String

    public init(_ code: Code, _ message: String, host: String = "") {
        self.code = code
        self.message = message
        self.host = host
    }

    public var description: String {
        host.isEmpty ? "\(code): \(message)" : "\(code) talking to \(host): \(message)"
    }
}

/// Shows only the origin of a URL: paths and queries often carry keys.
public enum RedactedURL {
    /// "https://hooks.example.com:443" for "https://hooks.example.com:443/T0/B0/secret?x=1".
    public static func origin(of url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return "<url>" }
        let rest = url[schemeEnd.upperBound...]
        var authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }  // user:password@
        return String(url[..<schemeEnd.upperBound]) + authority
    }
}
