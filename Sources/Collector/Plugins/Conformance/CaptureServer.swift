import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A loopback HTTP server that records every request and answers through a responder.
///
/// `plugins check` points HTTP plugins at it, and tests script it as a receiver double.
/// It binds 127.0.0.1 on an ephemeral port, so several can run at once.
public final class CaptureServer: Sendable {
    /// One request as received.
    public struct Request: Sendable {
        /// "POST", "GET"...
        public var method: String
        /// Path and query, as sent.
        public var target: String
        /// In the order received.
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        /// The first header with this name, case-insensitively.
        public func header(_ name: String) -> String? {
            let lowered = name.lowercased()
            return headers.first { $0.name.lowercased() == lowered }?.value
        }
    }

    /// What to answer.
    public struct Response: Sendable {
        /// The HTTP status code.
        public var status: Int
        /// Response headers, e.g. `Retry-After`.
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]
        /// Wait this long before answering (to provoke client timeouts).
        public var delay: Duration?
        /// Answer nothing: reset the connection (TCP RST, through SO_LINGER 0) instead.
        public var reset: Bool

        /// An answer; 200 with an empty body by default.
        public init(
            status: Int = 200, headers: [(name: String, value: String)] = [], body: [UInt8] = [], delay: Duration? = nil,
            reset: Bool = false
        ) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delay = delay
            self.reset = reset
        }
    }

    /// Decides the answer to a request (already recorded when it is called).
    public typealias Responder = @Sendable (Request) async -> Response

    /// Largest request body accepted; larger ones get 413 (and are recorded truncated).
    public static let maxBodyBytes = 8 << 20

    /// The bound port.
    public let port: Int
    /// "http", or "https" for a server started with a TLS server builder.
    public let scheme: String
    private let log: RequestLog
    private let task: Task<Void, Never>

    /// `http://127.0.0.1:<port>` (or https).
    public var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }

    /// Every request so far, oldest first.
    public var requests: [Request] { log.requests.withLock { $0 } }

    private init(port: Int, scheme: String, log: RequestLog, task: Task<Void, Never>) {
        self.port = port
        self.scheme = scheme
        self.log = log
        self.task = task
    }

    deinit { task.cancel() }

    /// Starts a server; it runs until `stop()` (or until this object is released).
    ///
    /// - Parameters:
    ///   - server: the channel setup; tests pass HummingbirdTLS's `.tls(...)` with
    ///     `scheme: "https"` for an HTTPS receiver.
    public static func start(
        server: HTTPServerBuilder = .http1(),
        scheme: String = "http",
        logger: Logger = Logger(label: "cano.capture", factory: { _ in SwiftLogNoOpLogHandler() }),
        responder: @escaping Responder = { _ in Response(status: 200, body: Array("ok".utf8)) }
    ) async throws -> CaptureServer {
        let log = RequestLog()
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = Application(
            responder: CallbackResponder { (request: HummingbirdCore.Request, context: CaptureRequestContext) in
                var body = try await request.body.collect(upTo: maxBodyBytes + 1)
                let bytes = body.readBytes(length: body.readableBytes) ?? []
                let captured = Request(
                    method: request.method.rawValue,
                    target: request.uri.string,
                    headers: request.headers.map { ($0.name.rawName, $0.value) },
                    body: Array(bytes.prefix(maxBodyBytes)))
                log.requests.withLock { $0.append(captured) }
                guard bytes.count <= maxBodyBytes else { return HummingbirdCore.Response(status: .contentTooLarge) }
                let answer = await responder(captured)
                if let delay = answer.delay { try? await Task.sleep(for: delay) }
                if answer.reset {
                    // Linger 0 makes close() send RST instead of FIN: the client sees a reset.
                    if let socket = context.channel as? any SocketOptionProvider {
                        _ = try? await socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
                    }
                    _ = try? await context.channel.close().get()
                    throw CaptureServerError(message: "connection reset on purpose")
                }
                var fields = HTTPFields()
                for header in answer.headers {
                    if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
                }
                return HummingbirdCore.Response(
                    status: .init(code: answer.status), headers: fields,
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
            },
            server: server,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portSink.yield(channel.localAddress?.port ?? 0)
                portSink.finish()
            },
            logger: logger)
        let task = Task {
            do { try await app.runService(gracefulShutdownSignals: []) } catch {
                logger.error("capture server stopped", metadata: ["error": "\(error)"])
            }
            portSink.finish()
        }
        var port = 0
        for await bound in ports { port = bound }
        guard port > 0 else {
            task.cancel()
            throw CaptureServerError(message: "the capture server could not bind 127.0.0.1")
        }
        return CaptureServer(port: port, scheme: scheme, log: log, task: task)
    }

    /// Stops the server and waits until it has.
    public func stop() async {
        task.cancel()
        await task.value
    }

    /// Shared between the request handler and the server object.
    private final class RequestLog: Sendable {
        let requests = Mutex<[Request]>([])
    }
}

/// A request context that keeps the connection's channel, so a scripted answer can reset it.
public struct CaptureRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request came on.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// The capture server could not start.
public struct CaptureServerError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    public var description: String { message }
}
