import CanoSDK
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import Synchronization

/// A Slack Web API test double: real HTTP on 127.0.0.1 (ephemeral port), enforcing the
/// contract in destinations.md §1 — token in header or form, form and JSON bodies, Block
/// Kit limits rejected with `invalid_blocks` + json-pointer `errors`, `msg_too_long`,
/// `no_text`, the three-step upload (its `upload_url` points back here), `chat.update`
/// only on a known ts, paginated `conversations.list`, and injectable failures (429 with
/// or without Retry-After, `ok:false ratelimited`, 5xx HTML, any error code, delays).
/// It records every call so tests assert on what was really sent.
///
/// ```swift
/// let slack = try await SlackDouble.start(token: "xoxb-test")
/// defer { slack.stop() }
/// // point the plugin at slack.apiURL
/// ```
public final class SlackDouble: Sendable {
    /// `http://127.0.0.1:PORT/api/`: the plugin's `api_url`.
    public let apiURL: String
    /// The port the double listens on.
    public let port: Int
    let model: SlackDoubleModel
    private let task: Task<Void, any Error>

    /// The channels every double starts with.
    public static let defaultChannels: [SlackDoubleChannel] = [
        SlackDoubleChannel(id: "C0ALERTS01", name: "alerts"),
        SlackDoubleChannel(id: "C0PAYMENT1", name: "alerts-payments"),
        SlackDoubleChannel(id: "G0PRIVATE1", name: "ops-private", isPrivate: true),
        SlackDoubleChannel(id: "C0OUTSIDE1", name: "not-joined", isMember: false),
    ]

    private init(apiURL: String, port: Int, model: SlackDoubleModel, task: Task<Void, any Error>) {
        self.apiURL = apiURL
        self.port = port
        self.model = model
        self.task = task
    }

    /// Starts a double that accepts `token`, with `channels`; with `tls`, it speaks HTTPS
    /// with that certificate (a proxy with a private CA, for `ca_file`).
    public static func start(token: String, channels: [SlackDoubleChannel] = defaultChannels, tls: TestCertificate? = nil) async throws -> SlackDouble {
        let model = SlackDoubleModel(token: token, channels: channels)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let baseBox = BaseURLBox()
        let router = Router()
        router.post("/api/:method") { request, context -> Response in
            let method = context.parameters.get("method") ?? ""
            let body = try await request.body.collect(upTo: 64 << 20)
            let reply = model.handle(method: method, headers: Self.headers(request), body: Array(buffer: body), uploadBase: baseBox.value)
            if let delay = reply.delay { try await Task.sleep(for: delay) }
            return Self.response(reply)
        }
        router.post("/upload/v1/:file") { request, context -> Response in
            let file = context.parameters.get("file") ?? ""
            let body = try await request.body.collect(upTo: 256 << 20)
            return Self.response(model.receiveUpload(fileID: file, headers: Self.headers(request), body: Array(buffer: body)))
        }
        let server: HTTPServerBuilder = try tls.map { certificate in
            try .tls(.http1(), tlsConfiguration: .makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(certificate.certificatePEM.utf8), format: .pem))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.privateKeyPEM.utf8), format: .pem))))
        } ?? .http1()
        let app = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "slack-double"),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: Self.quietLogger)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            throw SlackDoubleError(description: "the Slack double did not start")
        }
        let base = "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)"
        baseBox.set(base)
        return SlackDouble(apiURL: base + "/api/", port: port, model: model, task: task)
    }

    /// Server logs only at critical: cancelling the server on stop() makes Hummingbird log
    /// its in-flight channels as errors, which would bury test output.
    static let quietLogger: Logger = {
        var logger = Logger(label: "slack-double")
        logger.logLevel = .critical
        return logger
    }()

    /// Stops the server.
    public func stop() { task.cancel() }

    // MARK: - Configuring

    /// Queues a failure for the next call of `method` ("chat.postMessage", ...), `times` times.
    public func inject(_ fault: SlackDoubleFault, method: String, times: Int = 1) {
        model.state.withLock { $0.faults[method, default: []] += Array(repeating: fault, count: times) }
    }

    /// Enforces Slack's per-channel posting rate: a chat.postMessage sooner than `interval`
    /// after the channel's previous accepted one gets HTTP 429 with `Retry-After: 1`.
    public func enforcePostingRate(_ interval: Duration?) {
        model.state.withLock { $0.enforcedInterval = interval }
    }

    /// Adds (or replaces by ID) a channel.
    public func addChannel(_ channel: SlackDoubleChannel) {
        model.state.withLock { s in
            s.channels.removeAll { $0.id == channel.id }
            s.channels.append(channel)
        }
    }

    /// Deletes a message, as a user would in Slack.
    public func deleteMessage(channel: String, ts: String) {
        model.state.withLock { $0.messages.removeAll { $0.channel == channel && $0.ts == ts } }
    }

    // MARK: - Inspecting

    /// Every call received, in order. A call is recorded once answered, after its effect on
    /// ``messages``: a test that reads a call waits for the call, not for the message.
    public var calls: [SlackDoubleCall] { model.state.withLock { $0.calls } }

    /// Calls of one method.
    public func calls(_ method: String) -> [SlackDoubleCall] { calls.filter { $0.method == method } }

    /// Stored messages (roots and replies), in posting order.
    public var messages: [SlackDoubleMessage] { model.state.withLock { $0.messages } }

    /// Files completed into a channel.
    public var files: [SlackDoubleFile] { model.state.withLock { $0.files } }

    // MARK: - HTTP glue

    static func headers(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for field in request.headers { out[field.name.canonicalName] = field.value }
        return out
    }

    static func response(_ reply: SlackDoubleReply) -> Response {
        var fields = HTTPFields()
        for (name, value) in reply.headers {
            if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) }
        }
        return Response(status: .init(code: reply.status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }
}

/// Why the double could not start.
public struct SlackDoubleError: Error, CustomStringConvertible {
    public let description: String
}

/// The base URL, known only once the server has bound its port.
final class BaseURLBox: Sendable {
    private let storage = Mutex("")
    var value: String { storage.withLock { $0 } }
    func set(_ value: String) { storage.withLock { $0 = value } }
}
