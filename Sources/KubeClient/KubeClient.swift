import Foundation
import CanoSDK
import Logging
import Synchronization

/// How ``KubeClient`` retries throttled (429), failing (5xx) and unreachable calls.
public struct KubeRetryPolicy: Sendable {
    /// Tries per call, the first included.
    public var maxAttempts: Int
    /// The first back-off; it doubles per try (with jitter) up to `maxBackoff`.
    public var initialBackoff: Duration
    /// The longest back-off between tries.
    public var maxBackoff: Duration
    /// The longest Retry-After we honour; larger values are clamped.
    public var maxRetryAfter: Duration

    /// A policy; the defaults suit API calls made by informer loops.
    public init(maxAttempts: Int = 6, initialBackoff: Duration = .milliseconds(200), maxBackoff: Duration = .seconds(30), maxRetryAfter: Duration = .seconds(120)) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.maxRetryAfter = maxRetryAfter
    }

    /// The wait before try `attempt + 1`: the server's Retry-After when it sent one,
    /// else exponential back-off with jitter.
    public func delay(afterAttempt attempt: Int, retryAfter: Duration?) -> Duration {
        if let retryAfter { return min(retryAfter, maxRetryAfter) }
        let exp = initialBackoff * (1 << min(attempt - 1, 20))
        let capped = min(exp, maxBackoff)
        return capped * Double.random(in: 0.5...1.0)
    }
}

/// A small Kubernetes API client on CanoSDK's libcurl ``HTTPClient``.
///
/// Every call blocks the calling thread: call it from threads you own (``BlockingThread``),
/// never from Swift's cooperative pool. Calls from several threads run in parallel, each on
/// its own pooled libcurl handle.
///
/// Credentials never reach logs or errors: errors name the API path and the server's Status.
public final class KubeClient: Sendable {
    /// Where and how to connect.
    public let connection: KubeConnection
    /// How failed calls are retried.
    public let retry: KubeRetryPolicy
    private let logger: Logger
    private let pool = Mutex<[HTTPClient]>([])

    /// The Accept header for metadata-only lists.
    public static let acceptMetadataList = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;q=0.9"
    /// The Accept header for metadata-only gets and watches.
    public static let acceptMetadata = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;q=0.9"

    /// A client for `connection`; `logger` gets retries and token re-reads (never credentials).
    public init(connection: KubeConnection, retry: KubeRetryPolicy = KubeRetryPolicy(), logger: Logger = Logger(label: "cano.kube")) {
        self.connection = connection
        self.retry = retry
        self.logger = logger
    }

    // MARK: Raw requests

    /// Sends one request; retries 429, 5xx and transport failures per ``retry`` (honouring
    /// Retry-After) when `retrying`, and re-reads a file token once after a 401.
    /// A non-2xx answer throws with the server's Status decoded.
    public func request(
        method: String = "GET", path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
        accept: String = "application/json", timeout: Duration = .seconds(30), retrying: Bool = true,
        stop: StopSignal? = nil
    ) throws(KubeError) -> HTTPResponse {
        var attempt = 0
        var refreshedToken = false
        while true {
            attempt += 1
            if stop?.isStopped == true { throw KubeError(.stopped, "\(method) \(path) stopped") }
            let req = try makeRequest(method: method, path: path, query: query, body: body, accept: accept, timeout: timeout)
            let outcome: Result<HTTPResponse, KubeError>
            do {
                let response = try withHTTP { http throws(HTTPClientError) in try http.send(req) }
                outcome = (200..<300).contains(response.status)
                    ? .success(response)
                    : .failure(Self.error(from: response, method: method, path: path))
            } catch {
                outcome = .failure(KubeError(.transport, "\(method) \(path): \(error.code) talking to \(connection.server): \(error.message)"))
            }
            switch outcome {
            case .success(let response):
                return response
            case .failure(let error):
                if error.code == .unauthorized, !refreshedToken, let token = connection.token, token.isRefreshable {
                    // The kubelet rotated the projected token: read the file again, once.
                    refreshedToken = true
                    token.invalidate()
                    logger.info("API server refused the token; re-reading the token file", metadata: ["path": "\(path)"])
                    continue
                }
                guard retrying, error.code.isRetryable, attempt < retry.maxAttempts else { throw error }
                let delay = retry.delay(afterAttempt: attempt, retryAfter: error.retryAfter)
                logger.warning("Kubernetes API call failed; retrying", metadata: [
                    "path": "\(path)", "error": "\(error.code)", "status": "\(error.httpStatus ?? 0)",
                    "retryIn": "\(delay)", "attempt": "\(attempt)",
                ])
                if let stop {
                    if !stop.wait(delay) { throw KubeError(.stopped, "\(method) \(path) stopped") }
                } else {
                    StopSignal().wait(delay)
                }
            }
        }
    }

    /// GETs and decodes one object.
    public func get<T: Decodable>(
        _ type: T.Type, path: String, accept: String = "application/json", timeout: Duration = .seconds(30),
        retrying: Bool = true, stop: StopSignal? = nil
    ) throws(KubeError) -> T {
        let response = try request(path: path, accept: accept, timeout: timeout, retrying: retrying, stop: stop)
        return try decode(type, response.body, what: "GET \(path)")
    }

    /// POSTs a new object to a collection path (not retried: the caller decides).
    public func create<T: Codable>(_ object: T, path: String, timeout: Duration = .seconds(30)) throws(KubeError) -> T {
        let body = try encode(object, what: "POST \(path)")
        let response = try request(method: "POST", path: path, body: body, timeout: timeout, retrying: false)
        return try decode(T.self, response.body, what: "POST \(path)")
    }

    /// PUTs an object (optimistic concurrency: its metadata.resourceVersion must match, else
    /// ``KubeError/Code/conflict``). Not retried.
    public func replace<T: Codable>(_ object: T, path: String, timeout: Duration = .seconds(30)) throws(KubeError) -> T {
        let body = try encode(object, what: "PUT \(path)")
        let response = try request(method: "PUT", path: path, body: body, timeout: timeout, retrying: false)
        return try decode(T.self, response.body, what: "PUT \(path)")
    }

    /// The last lines of a container's log (pods/log).
    public func podLog(namespace: String, pod: String, container: String? = nil, tailLines: Int = 100, stop: StopSignal? = nil) throws(KubeError) -> String {
        var query = [("tailLines", String(tailLines))]
        if let container { query.append(("container", container)) }
        let response = try request(
            path: KubeResource.pods.path(namespace: namespace, name: pod, subresource: "log"),
            query: query, accept: "text/plain", stop: stop)
        return response.text
    }

    // MARK: List and watch

    /// Lists a resource page by page (limit/continue), handing each page to `onPage` so
    /// the whole list is never in memory at once. Returns the list's resourceVersion, from
    /// which a watch continues. An expired continue token throws ``KubeError/Code/gone``.
    @discardableResult
    public func list<T: KubeObject>(
        _ type: T.Type, _ resource: KubeResource, namespace: String? = nil, options: ListOptions = ListOptions(),
        stop: StopSignal? = nil, onPage: ([T]) throws(KubeError) -> Void
    ) throws(KubeError) -> String {
        var opts = options
        if opts.limit == nil { opts.limit = 500 }
        let path = resource.path(namespace: namespace)
        var resourceVersion = ""
        repeat {
            let response = try request(
                path: path, query: opts.queryItems(watch: false),
                accept: opts.metadataOnly ? Self.acceptMetadataList : "application/json", timeout: .seconds(60), stop: stop)
            let page = try decode(ListPage<T>.self, response.body, what: "list \(resource)")
            if resourceVersion.isEmpty { resourceVersion = page.metadata.resourceVersion ?? "" }
            try onPage(page.items)
            opts.continueToken = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
            // Continue pages are served from the first page's snapshot; naming a
            // resourceVersion with a continue token is an error.
            opts.resourceVersion = nil
        } while opts.continueToken != nil
        return resourceVersion
    }

    /// Watches a resource from `options.resourceVersion`, decoding the newline-delimited
    /// JSON stream as it arrives and handing each event to `onEvent`.
    ///
    /// Returns when the server closes the stream (``WatchEnd/closedByServer``: resume from
    /// the last resourceVersion seen) or `stop` fires. A watch ERROR event or a non-2xx
    /// answer throws its Status; 410 (resourceVersion too old) throws ``KubeError/Code/gone``:
    /// relist. Not retried here: the informer loop owns resumption and back-off.
    public func watch<T: KubeObject>(
        _ type: T.Type, _ resource: KubeResource, namespace: String? = nil, options: ListOptions,
        stop: StopSignal, onEvent: @escaping (WatchEvent<T>) -> Void
    ) throws(KubeError) -> WatchEnd {
        let path = resource.path(namespace: namespace)
        let accept = options.metadataOnly ? Self.acceptMetadata : "application/json"
        // The server ends the watch after timeoutSeconds; allow a margin before libcurl does.
        let timeout = Duration.seconds((options.timeoutSeconds ?? 1800) + 60)
        var refreshedToken = false
        while true {
            let req = try makeRequest(method: "GET", path: path, query: options.queryItems(watch: true), body: nil, accept: accept, timeout: timeout)
            let state = WatchDecodeState<T>()
            let response: HTTPResponse
            do {
                response = try withHTTP { http throws(HTTPClientError) in
                    try http.stream(req, shouldContinue: { !stop.isStopped }) { chunk in
                        state.feed(chunk, onEvent: onEvent)
                    }
                }
            } catch {
                throw KubeError(.transport, "watch \(resource): \(error.code) talking to \(connection.server): \(error.message)")
            }
            if !(200..<300).contains(response.status) {
                let failed = HTTPResponse(status: response.status, headers: response.headers, body: state.raw)
                let error = Self.error(from: failed, method: "watch", path: path)
                if error.code == .unauthorized, !refreshedToken, let token = connection.token, token.isRefreshable {
                    refreshedToken = true
                    token.invalidate()
                    continue
                }
                throw error
            }
            if let status = state.errorStatus {
                let code = KubeError.code(forHTTPStatus: status.code ?? 500)
                throw KubeError(code, "watch \(resource) ended with an ERROR event", httpStatus: status.code, status: status)
            }
            if let failure = state.failure { throw failure }
            if stop.isStopped { return .stopped }
            return .closedByServer
        }
    }

    // MARK: Plumbing

    private func makeRequest(method: String, path: String, query: [(String, String)], body: [UInt8]?, accept: String, timeout: Duration) throws(KubeError) -> HTTPRequest {
        var headers = [HTTPHeader(name: "Accept", value: accept), HTTPHeader(name: "User-Agent", value: "cano-collector")]
        if body != nil { headers.append(HTTPHeader(name: "Content-Type", value: "application/json")) }
        if let token = connection.token {
            headers.append(HTTPHeader(name: "Authorization", value: "Bearer \(try token.token())"))
        } else if let basic = connection.basicAuth {
            let encoded = Data("\(basic.user):\(basic.password)".utf8).base64EncodedString()
            headers.append(HTTPHeader(name: "Authorization", value: "Basic \(encoded)"))
        }
        return HTTPRequest(
            method: method, url: connection.server + path + Query.string(query), headers: headers, body: body,
            timeout: timeout, connectTimeout: .seconds(10), maxResponseBytes: 256 << 20, tls: connection.tls)
    }

    /// Borrows a pooled libcurl handle so parallel threads never wait on each other.
    private func withHTTP<R>(_ body: (HTTPClient) throws(HTTPClientError) -> R) throws(HTTPClientError) -> R {
        let http = pool.withLock { $0.popLast() } ?? HTTPClient()
        defer { pool.withLock { if $0.count < 8 { $0.append(http) } } }
        return try body(http)
    }

    static func error(from response: HTTPResponse, method: String, path: String) -> KubeError {
        let status = try? JSONDecoder().decode(KubeStatus.self, from: Data(response.body))
        let code = KubeError.code(forHTTPStatus: response.status)
        var retryAfter = response.retryAfter
        if retryAfter == nil, let s = status?.details?.retryAfterSeconds { retryAfter = .seconds(s) }
        return KubeError(code, "\(method) \(path)", httpStatus: response.status, status: status?.kind == "Status" || status?.code != nil ? status : nil, retryAfter: retryAfter)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8], what: String) throws(KubeError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch {
            throw KubeError(.decoding, "\(what): the response is not a valid \(type): \(error)")
        }
    }

    private func encode<T: Encodable>(_ value: T, what: String) throws(KubeError) -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(value))
        } catch {
            throw KubeError(.decoding, "\(what): cannot encode \(T.self): \(error)")
        }
    }
}

/// Per-watch decoding state, touched only by the thread running the transfer.
private final class WatchDecodeState<T: KubeObject>: @unchecked Sendable {
    var splitter = LineSplitter(maxLineBytes: 32 << 20)
    var errorStatus: KubeStatus?
    var failure: KubeError?
    /// The body as received, kept (bounded) once lines stop decoding: a non-2xx answer is a
    /// Status, not events.
    var raw: [UInt8] = []
    var capturingRaw = false
    let decoder = JSONDecoder()

    func feed(_ chunk: [UInt8], onEvent: (WatchEvent<T>) -> Void) -> Bool {
        if capturingRaw {
            if raw.count < 1 << 16 { raw.append(contentsOf: chunk) }
            return true
        }
        guard let lines = splitter.feed(chunk) else {
            failure = KubeError(.decoding, "watch stream line exceeds 32 MiB")
            return false
        }
        if raw.count < 1 << 16 { raw.append(contentsOf: chunk) }
        for line in lines {
            do {
                let wire = try decoder.decode(WireWatchEvent<T>.self, from: Data(line))
                switch wire.decoded {
                case .event(let event): onEvent(event)
                case .error(let status):
                    errorStatus = status
                    return false
                }
            } catch {
                capturingRaw = true
                failure = KubeError(.decoding, "watch stream event is not valid: \(error)")
                return true
            }
        }
        if raw.count >= 1 << 16 { raw = [] }  // a healthy stream: no need to keep its bytes
        return true
    }
}
