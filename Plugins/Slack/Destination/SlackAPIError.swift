/// Why a Slack call failed, classified for the host's retry logic. Messages name the
/// method and Slack's error code, never the token or a response body.
public struct SlackAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The failure class.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// HTTP 429, or `ok:false` with `ratelimited`/`rate_limited`.
        public static let rateLimited = Code("rate_limited")
        /// `ok:false` with another error code (see ``SlackAPIError/slackError``).
        public static let slack = Code("slack_error")
        /// An HTTP status other than 200 and 429.
        public static let httpStatus = Code("http_status")
        /// No response: timeout, connection refused, TLS.
        public static let transport = Code("transport")
        /// HTTP 200 with a body that is not Slack's JSON envelope.
        public static let badResponse = Code("bad_response")
        /// The delivery deadline passed before the call could be made.
        public static let deadline = Code("deadline")
        public var description: String { name }
    }

    public var code: Code
    /// The Web API method, e.g. `chat.postMessage`.
    public var method: String
    /// Slack's `error` code for ``Code/slack`` and ``Code/rateLimited``.
    public var slackError: String?
    /// Human-readable and secret-free.
    public var message: String
    /// True when trying again later may succeed.
    public var retryable: Bool
    /// With a retryable failure: do not retry before this.
    public var retryAfter: Duration?

    public init(_ code: Code, method: String, slackError: String? = nil, message: String, retryable: Bool, retryAfter: Duration? = nil) {
        self.code = code
        self.method = method
        self.slackError = slackError
        self.message = message
        self.retryable = retryable
        self.retryAfter = retryAfter
    }

    public var description: String { message }

    /// `ok:false` codes worth retrying: rate limits and Slack-side trouble. Everything else
    /// (`invalid_auth`, `channel_not_found`, `not_in_channel`, `invalid_blocks`,
    /// `msg_too_long`, `missing_scope`, ...) will fail the same way again.
    static let retryableSlackErrors: Set<String> = [
        "ratelimited", "rate_limited", "service_unavailable", "fatal_error", "internal_error",
        "request_timeout", "team_added_to_org",
    ]

    /// The wait used when Slack rate-limits without a `Retry-After` header.
    static let defaultRateLimitWait: Duration = .seconds(30)
}
