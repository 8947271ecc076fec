import CanoSDK
import Collector
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Synchronization

/// A loopback webhook receiver for destination tests: records what it gets and answers
/// from a script (status, headers, delay), then 200 once the script runs out.
///
/// Like a strict real receiver it rejects what no webhook sender should send: a non-POST
/// (405), a body that is not JSON (400) or not `application/json` (415).
public final class ReceiverDouble: Sendable {
    /// The underlying recording server.
    public let server: CaptureServer
    private let script: Script

    private init(server: CaptureServer, script: Script) {
        self.server = server
        self.script = script
    }

    /// Starts a receiver on 127.0.0.1 with an ephemeral port; with `tls`, it speaks HTTPS
    /// with that certificate.
    public static func start(tls: TestCertificate? = nil) async throws -> ReceiverDouble {
        let script = Script()
        let builder: HTTPServerBuilder = try tls.map { certificate in
            try .tls(.http1(), tlsConfiguration: .makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(certificate.certificatePEM.utf8), format: .pem))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.privateKeyPEM.utf8), format: .pem))))
        } ?? .http1()
        let server = try await CaptureServer.start(server: builder, scheme: tls == nil ? "http" : "https") { request in
            guard request.method == "POST" else { return .init(status: 405) }
            guard request.header("Content-Type")?.lowercased().hasPrefix("application/json") == true else { return .init(status: 415) }
            guard (try? IssueCoding.decode(JSONValue.self, from: request.body)) != nil else { return .init(status: 400) }
            return script.next() ?? .init(status: 200, body: Array("{\"ok\":true}".utf8))
        }
        return ReceiverDouble(server: server, script: script)
    }

    /// Queues answers for the next requests, in order.
    public func enqueue(_ responses: CaptureServer.Response...) {
        script.queue.withLock { $0 += responses }
    }

    /// `http://127.0.0.1:<port><path>`.
    public func url(_ path: String = "/hook") -> String { server.baseURL + path }

    /// Everything received so far.
    public var requests: [CaptureServer.Request] { server.requests }

    /// Stops the server.
    public func stop() async { await server.stop() }

    /// The queued answers, shared with the server's responder.
    private final class Script: Sendable {
        let queue = Mutex<[CaptureServer.Response]>([])
        func next() -> CaptureServer.Response? { queue.withLock { $0.isEmpty ? nil : $0.removeFirst() } }
    }
}
