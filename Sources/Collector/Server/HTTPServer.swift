import CanoSDK
import Hummingbird
import Logging
import HTTPTypes
import NIOCore

/// The collector's HTTP endpoints:
/// - `POST /api/alerts`: Alertmanager webhook intake (``AlertmanagerIntake``);
/// - `GET /healthz`: the process is alive;
/// - `GET /readyz`: ready for traffic (``Readiness``);
/// - `GET /metrics`: Prometheus text format;
/// - with a ``SilencesAPI``: `/api/silences` and the `/silences/new` form;
/// - with a ``Console``: the web console under `/ui/`.
public enum HTTPServer {
    /// Builds the application (a swift-service-lifecycle `Service`). `onListening` gets the
    /// bound port, which tests need when they ask for port 0. `silences` nil leaves the
    /// silences API out (404), `console` nil the console.
    public static func makeApplication(
        config: ServerConfig, intake: AlertmanagerIntake, readiness: Readiness, metrics: Metrics, logger: Logger,
        silences: SilencesAPI? = nil, console: Console? = nil,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        if let silences { addSilenceRoutes(router, silences) }
        if let console { addConsoleRoutes(router, console, maxBody: config.maxBodyBytes) }
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

    /// The silences API's routes (see ``SilencesAPI`` for what each answers).
    private static func addSilenceRoutes(_ router: Router<BasicRequestContext>, _ api: SilencesAPI) {
        let admin = HTTPField.Name(SilencesAPI.adminTokenHeader)!
        router.get("/api/silences") { request, _ in
            reply(await api.list(state: request.uri.queryParameters["state"].map(String.init), authorization: request.headers[.authorization]))
        }
        router.post("/api/silences") { request, _ -> Response in
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: SilencesAPI.maxBodyBytes)
            } catch is NIOTooManyBytesError {
                return reply(api.bodyTooLarge())
            }
            return reply(await api.create(body: Array(buffer: body), authorization: request.headers[.authorization], adminToken: request.headers[admin]))
        }
        router.get("/api/silences/:id") { request, context in
            reply(await api.get(id: context.parameters.get("id") ?? "", authorization: request.headers[.authorization]))
        }
        router.delete("/api/silences/:id") { request, context in
            reply(await api.expire(id: context.parameters.get("id") ?? "", authorization: request.headers[.authorization],
                                   adminToken: request.headers[admin]))
        }
        for method in [HTTPRequest.Method.put, .patch, .delete] {
            router.on("/api/silences", method: method) { request, _ in reply(api.methodNotAllowed(request.method.rawValue, allow: "GET, POST")) }
        }
        for method in [HTTPRequest.Method.put, .patch, .post] {
            router.on("/api/silences/:id", method: method) { request, _ in reply(api.methodNotAllowed(request.method.rawValue, allow: "GET, DELETE")) }
        }
        router.get("/silences/new") { request, _ in
            reply(api.form(matchers: request.uri.queryParameters["matchers"].map(String.init)))
        }
    }

    /// The console's routes: every GET and POST under `/ui/` goes to ``Console/handle(_:)``.
    private static func addConsoleRoutes(_ router: Router<BasicRequestContext>, _ console: Console, maxBody: Int) {
        for method in [HTTPRequest.Method.get, .post] {
            let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
                // The router treats `/ui` and `/ui/` alike; the pages' relative links need the slash.
                if request.uri.path == Console.base { return Response(status: .movedPermanently, headers: [.location: Console.base + "/"]) }
                var request = request
                var form: [String: String] = [:]
                if request.method == .post {
                    let body: ByteBuffer
                    do {
                        body = try await request.collectBody(upTo: maxBody)
                    } catch is NIOTooManyBytesError {
                        return text(.contentTooLarge, "413: the form is over \(maxBody) bytes (server.max_body_bytes)\n")
                    }
                    form = ConsoleRequest.formFields(String(buffer: body))
                }
                let path = String(request.uri.path.dropFirst(Console.base.count))
                let answer = await console.handle(ConsoleRequest(
                    method: request.method.rawValue, path: path.isEmpty ? "/" : path,
                    query: ConsoleRequest.formFields(request.uri.query ?? ""), form: form,
                    authorization: request.headers[.authorization], cookies: ConsoleRequest.cookies(request.headers[.cookie]),
                    origin: request.headers[.origin], host: request.head.authority,
                    secFetchSite: HTTPField.Name("Sec-Fetch-Site").flatMap { request.headers[$0] }))
                return Response(status: .init(code: answer.status), headers: fields(answer.headers), body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
            }
            router.on(RouterPath(Console.base), method: method, use: handler)
            router.on(RouterPath(Console.base + "/**"), method: method, use: handler)
        }
    }

    /// Our headers as HTTP fields, every one kept (a console answer sets two cookies).
    private static func fields(_ headers: [HTTPHeader]) -> HTTPFields {
        var fields = HTTPFields()
        for h in headers { if let name = HTTPField.Name(h.name) { fields.append(HTTPField(name: name, value: h.value)) } }
        return fields
    }

    private static func reply(_ response: SilencesAPI.Response) -> Response {
        var fields = fields(response.headers)
        fields[.contentType] = response.contentType
        return Response(status: .init(code: response.status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: response.body)))
    }

    /// An intake answer as an HTTP response: its status, headers and JSON body.
    private static func reply(_ response: AlertmanagerIntake.Response) -> Response {
        json(.init(code: response.status), response.body, extra: fields(response.headers))
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
