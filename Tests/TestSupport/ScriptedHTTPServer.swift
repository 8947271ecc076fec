import CanoSDK
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A loopback HTTP double for delivery tests: it answers `POST /deliver` by a script of
/// faults (status codes, Retry-After, a connection closed or reset without a response, a
/// response slower than the client's timeout), then by a default step, and records every
/// request with its arrival time.
///
/// Its contract, which it enforces like a real webhook receiver: the body must be an Issue
/// in the public JSON contract and the `Idempotency-Key` header must be present; otherwise
/// it answers 400. A 2xx answer's body is the reference: "ref-<n>" for the n-th success.
public final class ScriptedHTTPServer: Sendable {
    /// One scripted answer.
    public enum Step: Sendable, Equatable {
        /// Answer with this status and optional Retry-After header value.
        case status(Int, retryAfter: String? = nil)
        /// Close the connection without sending anything.
        case close
        /// Reset the connection (TCP RST) without sending anything.
        case reset
        /// Wait this long, then answer with the status (longer than the client's timeout).
        case slow(Duration, status: Int)
    }

    /// One request as the double saw it.
    public struct Recorded: Sendable {
        public var arrival: Date
        public var headers: [String: String]
        public var body: [UInt8]
        /// The step applied to it.
        public var step: Step
        /// The reference returned, for 2xx answers.
        public var reference: String?
        public var issue: Issue?

        /// The value of a request header (lowercased name).
        public func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    private struct State {
        var script: [Step] = []
        var defaultStep: Step = .status(200)
        var requests: [Recorded] = []
        var successes = 0
    }

    private let state = Mutex(State())
    private let loopback: Mutex<LoopbackServer?> = Mutex(nil)
    /// `http://127.0.0.1:<port>/deliver`.
    public let url: String

    private init(url: String) {
        self.url = url
    }

    /// Starts a double on an ephemeral loopback port.
    public static func start() async throws -> ScriptedHTTPServer {
        let box = Mutex<ScriptedHTTPServer?>(nil)
        let router = Router(context: DoubleContext.self)
        router.post("/deliver") { request, context -> Response in
            guard let server = box.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            return try await server.handle(request, channel: context.channel)
        }
        let loopback = try await LoopbackServer.start(router, label: "HTTP double")
        let port = loopback.port
        let server = ScriptedHTTPServer(url: "http://127.0.0.1:\(port)/deliver")
        box.withLock { $0 = server }
        server.loopback.withLock { $0 = loopback }
        return server
    }

    /// Stops the server.
    public func stop() async {
        await loopback.withLock { $0 }?.stop()
    }

    /// Appends steps to the script (used in order, one per request).
    public func enqueue(_ steps: [Step]) { state.withLock { $0.script += steps } }

    /// What to do once the script is used up.
    public func setDefault(_ step: Step) { state.withLock { $0.defaultStep = step } }

    /// Every request so far, in arrival order.
    public var requests: [Recorded] { state.withLock { $0.requests } }

    /// Requests answered with 2xx.
    public var delivered: [Recorded] { requests.filter { $0.reference != nil } }

    private func handle(_ request: Request, channel: any Channel) async throws -> Response {
        let arrival = Date()
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let body = Array(try await request.body.collect(upTo: 8 << 20).readableBytesView)
        let issue = try? IssueCoding.decode(Issue.self, from: body)
        guard issue != nil, headers["idempotency-key"]?.isEmpty == false else {
            state.withLock {
                $0.requests.append(Recorded(arrival: arrival, headers: headers, body: body, step: .status(400), reference: nil, issue: issue))
            }
            return Response(status: .badRequest, body: .init(byteBuffer: ByteBuffer(string: "want an Issue JSON body and an Idempotency-Key header")))
        }
        let (step, reference): (Step, String?) = state.withLock { s in
            let step = s.script.isEmpty ? s.defaultStep : s.script.removeFirst()
            var reference: String?
            if case .status(let code, _) = step, (200..<300).contains(code) {
                s.successes += 1
                reference = "ref-\(s.successes)"
            } else if case .slow(_, let code) = step, (200..<300).contains(code) {
                s.successes += 1
                reference = "ref-\(s.successes)"
            }
            s.requests.append(Recorded(arrival: arrival, headers: headers, body: body, step: step, reference: reference, issue: issue))
            return (step, reference)
        }
        switch step {
        case .status(let code, let retryAfter):
            var fields = HTTPFields()
            if let retryAfter { fields[.retryAfter] = retryAfter }
            return Response(status: .init(code: code), headers: fields, body: .init(byteBuffer: ByteBuffer(string: reference ?? "status \(code)")))
        case .close:
            try await channel.close()
            throw HTTPError(.internalServerError)
        case .reset:
            // SO_LINGER with a zero timeout turns close() into a TCP RST.
            if let provider = channel as? any SocketOptionProvider {
                try await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
            }
            try await channel.close()
            throw HTTPError(.internalServerError)
        case .slow(let delay, let code):
            // Simulates a slow service (not test synchronisation): the client gives up first.
            try await Task.sleep(for: delay)
            return Response(status: .init(code: code), body: .init(byteBuffer: ByteBuffer(string: reference ?? "status \(code)")))
        }
    }
}

/// A request context that keeps the connection, for the close/reset faults.
private struct DoubleContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel
    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
