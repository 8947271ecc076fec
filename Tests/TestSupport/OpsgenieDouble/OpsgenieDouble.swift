import CanoSDK
import Collector

/// An Opsgenie Alert API v2 test double: real HTTP on 127.0.0.1 (ephemeral port) that
/// enforces the contract in destinations.md §4 and records every call, so tests assert on
/// what was really sent.
///
/// - Auth: `Authorization: GenieKey <key>` exactly, else 401 "Could not authenticate".
/// - `POST /v2/alerts`: JSON only (415 otherwise); `message` required; the §4.2 limits
///   (message 130, alias 512, description 15,000, entity 512, source 100, tags 20 × 50,
///   details string→string 8,000 in all, responders/visibleTo ≤ 50 of a known type with an
///   identifier that type accepts, priority P1–P5). §4 does not say what the real service
///   does with a value over a limit, so the double is strict: it answers 422 with Opsgenie's
///   error shape (`message` + `errors`), naming the field. It also refuses fields the API
///   does not define, which the real service would drop silently (a `visible_to` typo).
/// - Accepted requests answer 202 `{"result":"Request will be processed","took","requestId"}`
///   with `X-Request-Id`, `X-RateLimit-State` and `X-Response-Time`, and are processed as
///   Opsgenie does later: a create with the alias of an open alert only raises its count; a
///   closed alias opens a new alert.
/// - `POST /v2/alerts/{identifier}/close?identifierType=alias|id|tiny` (default `id`):
///   optional `{user, source, note}` body. An identifier with no open alert is still
///   accepted (202); its request status then says `success:false`, "Alert does not exist".
/// - `GET /v2/alerts/requests/{requestId}`: the outcome of an accepted request.
/// - Injected faults (``inject(_:times:)``): 429 (`X-RateLimit-State: THROTTLED`, optional
///   Retry-After), 5xx, any error, an error body quoting the key, a delayed answer, a 202
///   without a body (no `requestId`).
///
/// ```swift
/// let opsgenie = try await OpsgenieDouble.start(apiKey: "test-key")
/// defer { stopLater { await opsgenie.stop() } }
/// // point the plugin's api_url at opsgenie.apiURL
/// ```
public final class OpsgenieDouble: Sendable {
    /// The recording HTTP server underneath.
    public let server: CaptureServer
    let model: OpsgenieDoubleModel

    private init(server: CaptureServer, model: OpsgenieDoubleModel) {
        self.server = server
        self.model = model
    }

    /// Starts a double that accepts `apiKey`.
    public static func start(apiKey: String) async throws -> OpsgenieDouble {
        let model = OpsgenieDoubleModel(apiKey: apiKey)
        let server = try await CaptureServer.start { request in
            var headers: [String: String] = [:]
            for header in request.headers { headers[header.name.lowercased()] = header.value }
            let reply = model.handle(method: request.method, target: request.target, headers: headers, body: request.body)
            return CaptureServer.Response(status: reply.status, headers: reply.headers, body: reply.body, delay: reply.delay)
        }
        return OpsgenieDouble(server: server, model: model)
    }

    /// `http://127.0.0.1:PORT`: the plugin's `api_url`.
    public var apiURL: String { server.baseURL }

    /// Stops the server.
    public func stop() async { await server.stop() }

    // MARK: - Configuring

    /// Answers the next `times` requests (any endpoint) with `fault` instead of processing them.
    public func inject(_ fault: OpsgenieDoubleFault, times: Int = 1) {
        model.state.withLock { $0.faults += Array(repeating: fault, count: times) }
    }

    // MARK: - Inspecting

    /// Every request received, in order. A call is recorded once answered, after its effect
    /// on the double's state: a test that reads a call waits for the call, not for the effect.
    public var calls: [OpsgenieDoubleCall] { model.state.withLock { $0.calls } }

    /// Creates (`POST /v2/alerts`) received, accepted or not.
    public var creates: [OpsgenieDoubleCall] { calls.filter { $0.method == "POST" && $0.path == "/v2/alerts" } }

    /// Closes (`POST /v2/alerts/{id}/close`) received, accepted or not.
    public var closes: [OpsgenieDoubleCall] { calls.filter { $0.method == "POST" && $0.path.hasSuffix("/close") } }

    /// Every alert, in creation order.
    public var alerts: [OpsgenieDoubleAlert] { model.state.withLock { $0.alerts } }

    /// The newest alert with this alias (open or closed).
    public func alert(alias: String) -> OpsgenieDoubleAlert? { alerts.last { $0.alias == alias } }

    /// The processing outcome of an accepted request, as `GET /v2/alerts/requests/{id}` reports it.
    public func requestStatus(_ requestId: String) -> OpsgenieDoubleRequestStatus? {
        model.state.withLock { $0.requests[requestId] }
    }
}
