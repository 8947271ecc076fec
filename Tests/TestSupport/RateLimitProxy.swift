#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Collector
import Synchronization

/// A rate-limiting HTTP proxy on 127.0.0.1 for burst tests: it sits between a plugin and
/// that plugin's strict double, forwards every request it lets through unchanged (so the
/// double's contract checks still apply), and answers the others itself with
/// `429 Too Many Requests` and `Retry-After: <seconds>`, as a service's rate limiter does
/// (a throttled request never reaches the service).
///
/// Which requests are throttled is scripted by ``Policy`` over the *delivery requests*
/// (those for which the `identity` closure names a delivery): a window of consecutive ones
/// (a burst hitting the limit) and every k-th one after it (a limit hit again, retries
/// included). Requests without an identity (a plugin's credential check at create) are
/// forwarded, never throttled: throttling them would test destination creation, not
/// delivery.
///
/// Every request is recorded with its arrival time on the monotonic clock, what it was,
/// the delivery it belongs to and whether it was throttled, so a test can check that no
/// delivery came back before its Retry-After, and how many calls were in flight at once.
///
/// ```swift
/// let proxy = try await RateLimitProxy.start(upstream: double.url, policy: .init(retryAfterSeconds: 2, window: 10..<50)) {
///     $0.json?["dedup_key"]?.stringValue
/// }
/// // point the plugin's URL at proxy.url
/// ```
public final class RateLimitProxy: Sendable {
    /// Which delivery requests get a 429 instead of being forwarded.
    public struct Policy: Sendable {
        /// The Retry-After sent with every 429, in seconds (the delta-seconds form).
        public var retryAfterSeconds: Int
        /// Delivery requests (0-based, in arrival order) answered 429: a burst.
        public var window: Range<Int>
        /// Outside the window, every `every`-th delivery request is answered 429 too (nil:
        /// none), so deliveries that already waited once can be throttled again.
        public var every: Int?

        public init(retryAfterSeconds: Int, window: Range<Int>, every: Int? = nil) {
            self.retryAfterSeconds = retryAfterSeconds
            self.window = window
            self.every = every
        }

        /// The Retry-After as a duration.
        public var retryAfter: Duration { .seconds(retryAfterSeconds) }

        /// Whether delivery request number `index` (0-based) is throttled.
        public func throttles(_ index: Int) -> Bool {
            if window.contains(index) { return true }
            guard let every, every > 0, index >= window.upperBound else { return false }
            return (index - window.upperBound + 1) % every == 0
        }
    }

    /// A request as the proxy received it, for the identity closure.
    public struct Request: Sendable {
        public var method: String
        /// Path and query, as sent.
        public var target: String
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        /// The path, percent-decoded, without the query.
        public var path: String {
            let raw = String(target.prefix { $0 != "?" })
            return raw.removingPercentEncoding ?? raw
        }

        /// The path's segments, percent-decoded ("/v2/alerts/a%2Fb/close" → ["v2", "alerts", "a/b", "close"]).
        public var segments: [String] {
            String(target.prefix { $0 != "?" }).split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
        }

        /// A query parameter, percent-decoded (parsed by hand: URLComponents refuses a
        /// target with characters a client left unencoded, such as `^`).
        public func query(_ name: String) -> String? {
            guard let mark = target.firstIndex(of: "?") else { return nil }
            for pair in target[target.index(after: mark)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let key = parts.first, (String(key).removingPercentEncoding ?? String(key)) == name else { continue }
                let value = parts.count > 1 ? String(parts[1]) : ""
                return value.removingPercentEncoding ?? value
            }
            return nil
        }

        /// The body as JSON, when it is.
        public var json: JSONValue? { body.isEmpty ? nil : try? IssueCoding.decode(JSONValue.self, from: body) }

        /// The body as text.
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// One request and what became of it.
    public struct Exchange: Sendable {
        /// Position among all requests, in arrival order.
        public var sequence: Int
        /// When it arrived (its body read), on the monotonic clock.
        public var arrival: ContinuousClock.Instant
        /// When its answer was handed back; nil while in flight.
        public var finished: ContinuousClock.Instant?
        public var method: String
        /// Path and query, as sent.
        public var target: String
        /// The delivery it belongs to (the identity closure's answer); nil for other requests.
        public var identity: String?
        /// Answered 429 by the proxy (not forwarded).
        public var throttled: Bool
        /// The status given back: 429, the upstream's, or 502 when the upstream failed.
        public var status: Int?
    }

    private struct State {
        var exchanges: [Exchange] = []
        var deliveryRequests = 0
        var inFlight = 0
        var maxInFlight = 0
    }

    /// The proxy's base URL, `http://127.0.0.1:<port>`: give it to the plugin instead of the double's.
    public var url: String { server.baseURL }
    /// The double's base URL, which requests are forwarded to.
    public let upstream: String
    public let policy: Policy
    private let server: CaptureServer
    private let log: Log

    /// The record, shared between the server's responder and the proxy object.
    private final class Log: Sendable {
        let state = Mutex(State())
    }

    private init(server: CaptureServer, upstream: String, policy: Policy, log: Log) {
        self.server = server
        self.upstream = upstream
        self.policy = policy
        self.log = log
    }

    /// Starts a proxy in front of `upstream` (a double's base URL). `identity` names the
    /// delivery a request belongs to (nil: not a delivery request, never throttled).
    public static func start(
        upstream: String, policy: Policy, identity: @escaping @Sendable (Request) -> String?
    ) async throws -> RateLimitProxy {
        let log = Log()
        let server = try await CaptureServer.start { captured in
            let request = Request(method: captured.method, target: captured.target, headers: captured.headers, body: captured.body)
            let id = identity(request)
            // Arrival time and sequence are taken under the lock, so the log's order is the
            // arrival order and the instants in it never go backwards.
            let (sequence, throttled) = log.state.withLock { s -> (Int, Bool) in
                var throttled = false
                if id != nil {
                    throttled = policy.throttles(s.deliveryRequests)
                    s.deliveryRequests += 1
                }
                s.exchanges.append(Exchange(sequence: s.exchanges.count, arrival: .now, finished: nil, method: request.method,
                                            target: request.target, identity: id, throttled: throttled, status: nil))
                s.inFlight += 1
                s.maxInFlight = max(s.maxInFlight, s.inFlight)
                return (s.exchanges.count - 1, throttled)
            }
            let response: CaptureServer.Response
            if throttled {
                response = CaptureServer.Response(
                    status: 429, headers: [("Retry-After", String(policy.retryAfterSeconds)), ("Content-Type", "application/json")],
                    body: Array(#"{"message":"rate limited by the test proxy"}"#.utf8))
            } else {
                response = await forward(request, to: upstream)
            }
            // Marked done before the answer is written, so a caller's next request (which
            // needs this answer first) always finds this one finished: the in-flight count
            // is exact for a client that waits for each answer.
            log.state.withLock { s in
                s.exchanges[sequence].finished = .now
                s.exchanges[sequence].status = response.status
                s.inFlight -= 1
            }
            return response
        }
        return RateLimitProxy(server: server, upstream: upstream, policy: policy, log: log)
    }

    /// Stops the proxy (not the double behind it).
    public func stop() async { await server.stop() }

    /// Every request so far, in arrival order.
    public var exchanges: [Exchange] { log.state.withLock { $0.exchanges } }

    /// The most requests that were in flight at once.
    public var maxInFlight: Int { log.state.withLock { $0.maxInFlight } }

    /// Headers that describe one connection or the message framing, not the request: the
    /// forwarding client sets its own.
    private static let hopByHop: Set<String> = [
        "host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect",
        "proxy-authorization", "proxy-connection",
    ]

    /// Sends the request on to the upstream and returns its answer (502 if it could not).
    /// libcurl blocks, so the call runs on a thread of its own, never on Swift's cooperative
    /// pool (which also serves the doubles' servers in this process).
    private static func forward(_ request: Request, to upstream: String) async -> CaptureServer.Response {
        let outgoing = HTTPRequest(
            method: request.method, url: upstream + request.target,
            headers: request.headers.filter { !hopByHop.contains($0.name.lowercased()) }.map { HTTPHeader(name: $0.name, value: $0.value) },
            // A GET has no body; anything else keeps its (possibly empty) body and method.
            body: request.method == "GET" || request.method == "HEAD" ? nil : request.body,
            timeout: .seconds(10))
        let result = await BlockingThread.run(name: "test-rl-proxy") { () -> Result<HTTPResponse, any Error> in
            // One client per request: a client's calls are serialised and requests can overlap.
            do { return .success(try HTTPClient().send(outgoing)) } catch { return .failure(error) }
        }
        switch result {
        case .success(let response):
            return CaptureServer.Response(
                status: response.status,
                headers: response.headers.filter { !hopByHop.contains($0.name.lowercased()) }.map { ($0.name, $0.value) },
                body: response.body)
        case .failure(let error):
            return CaptureServer.Response(status: 502, body: Array("the test proxy could not reach the double: \(error)".utf8))
        }
    }
}
