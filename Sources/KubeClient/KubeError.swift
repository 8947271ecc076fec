import CanoSDK

/// Why a Kubernetes API call failed. Messages name the API path at most, never a token,
/// a header value or a client key.
public struct KubeError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; callers branch on it (410 relists, 409 retries a Lease update...).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The kubeconfig or in-cluster files are missing or malformed.
        public static let configuration = Code("configuration")
        /// The kubeconfig asks for an auth mechanism we do not implement (exec, auth-provider).
        public static let unsupportedAuth = Code("unsupportedAuth")
        /// No HTTP response (connection, TLS, timeout).
        public static let transport = Code("transport")
        /// 401: the credentials were refused.
        public static let unauthorized = Code("unauthorized")
        /// 403: RBAC forbids the call.
        public static let forbidden = Code("forbidden")
        /// 404.
        public static let notFound = Code("notFound")
        /// 409: a resourceVersion conflict or an object that already exists.
        public static let conflict = Code("conflict")
        /// 410: the resourceVersion (or continue token) is too old: relist.
        public static let gone = Code("gone")
        /// 429: throttled.
        public static let tooManyRequests = Code("tooManyRequests")
        /// 5xx.
        public static let server = Code("server")
        /// Any other unexpected HTTP status.
        public static let unexpectedStatus = Code("unexpectedStatus")
        /// The body was not the JSON we expected.
        public static let decoding = Code("decoding")
        /// The caller stopped the call.
        public static let stopped = Code("stopped")

        /// Whether the same request may succeed if sent again later.
        public var isRetryable: Bool {
            self == .transport || self == .tooManyRequests || self == .server
        }
    }

    /// What kind of failure.
    public let code: Code
    /// Which call failed (method and API path); never credentials.
    public let message: String
    /// The HTTP status, when a response arrived.
    public let httpStatus: Int?
    /// The API server's Status object, when it sent one.
    public let status: KubeStatus?
    /// The server's Retry-After, when it sent one.
    public let retryAfter: Duration?

    /// An error; `status` is the server's Status object when it sent one.
    public init(_ code: Code, _ message: String, httpStatus: Int? = nil, status: KubeStatus? = nil, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.status = status
        self.retryAfter = retryAfter
    }

    /// Maps an HTTP status to a code.
    public static func code(forHTTPStatus status: Int) -> Code {
        switch status {
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 409: .conflict
        case 410: .gone
        case 429: .tooManyRequests
        case 500...599: .server
        default: .unexpectedStatus
        }
    }

    public var description: String {
        var text = "kubernetes \(code): \(message)"
        if let status {
            text += " (status \(status.code ?? httpStatus ?? 0)"
            if let reason = status.reason { text += " \(reason)" }
            if let m = status.message, !m.isEmpty { text += ": \(m)" }
            text += ")"
        } else if let httpStatus {
            text += " (HTTP \(httpStatus))"
        }
        return text
    }
}

/// A `meta/v1` Status object, as the API server returns it for failures and in watch
/// ERROR events.
public struct KubeStatus: Codable, Sendable, Equatable {
    /// "Status".
    public var kind: String?
    /// "Success" or "Failure".
    public var status: String?
    /// The server's human-readable explanation.
    public var message: String?
    /// The machine-readable reason ("Forbidden", "Expired", "Conflict"...).
    public var reason: String?
    /// The HTTP status code it stands for.
    public var code: Int?
    /// Which object the failure is about.
    public var details: Details?

    /// The `details` member: which object the failure is about.
    public struct Details: Codable, Sendable, Equatable {
        public var name: String?
        public var group: String?
        public var kind: String?
        public var retryAfterSeconds: Int?
    }

    /// A Status object (tests and doubles build them).
    public init(status: String? = "Failure", message: String?, reason: String?, code: Int?, details: Details? = nil) {
        self.kind = "Status"
        self.status = status
        self.message = message
        self.reason = reason
        self.code = code
        self.details = details
    }
}
