import CanoSDK
import Hummingbird
import Logging
import HTTPTypes
import NIOCore

/// The collector's HTTP endpoints:
/// - `POST /api/alerts`: Alertmanager webhook intake (``AlertmanagerIntake``);
/// - `GET /healthz`: the process is alive;
/// - `GET /readyz`: ready for traffic (``Readiness``);
/// - `GET /metrics`: Prometheus text format.
public enum HTTPServer {
    /// Builds the application (a swift-service-lifecycle `Service`). `onListening` gets the
    /// bound port, which tests need when they ask for port 0.
    public static func makeApplication(
        config: ServerConfig, intake: AlertmanagerIntake, readiness: Readiness, metrics: Metrics, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        let maxBody = config.maxBodyBytes
        router.post("/api/alerts") { request, _ -> Response in
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: maxBody)
            } catch is NIOTooManyBytesError {
                return reply(intake.bodyTooLarge(limit: maxBody))
            }
            return reply(await intake.handle(
                body: Array(buffer: body), authorization: request.headers[.authorization],
                contentEncoding: request.headers[.contentEncoding]))
        }
        // Anything but POST on the intake path is a client mistake (a browser, a probe):
        // 405 with Allow, never the router's 404 that hides the path exists.
        for method in [HTTPRequest.Method.get, .head, .put, .patch, .delete] {
            router.on("/api/alerts", method: method) { request, _ -> Response in
                reply(intake.methodNotAllowed(request.method.rawValue))
            }
        }
        router.get("/healthz") { _, _ in text(.ok, "ok\n") }
        router.get("/readyz") { _, _ in text(readiness.isReady ? .ok : .serviceUnavailable, readiness.report) }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "cano-collector"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? config.port) },
            logger: logger)
    }

    /// An intake answer as an HTTP response: its status, headers and JSON body.
    private static func reply(_ response: AlertmanagerIntake.Response) -> Response {
        var fields = HTTPFields()
        for h in response.headers { if let name = HTTPField.Name(h.name) { fields[name] = h.value } }
        return json(.init(code: response.status), response.body, extra: fields)
    }

    private static func json(_ status: HTTPResponse.Status, _ body: [UInt8], extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
