import CanoSDK
import Foundation
import Hummingbird
import Logging
import NIOCore
import PrometheusAPI
import Synchronization

/// A loopback double of the Prometheus HTTP API's `GET /api/v1/query_range`, serving
/// answers recorded from a real Prometheus (Tests/Fixtures/prometheus) by the query they
/// answer. A query it has no recording for gets an empty matrix, as a selector that
/// matches nothing does.
///
/// It enforces the API's contract as Prometheus 2.x does: `query`, `start`, `end` and
/// `step` are required; times are Unix seconds or RFC 3339; `step` is a duration ("15s")
/// or seconds; `end` must not be before `start`; at most 11,000 points per series. A bad
/// request is a 400 with Prometheus's `{"status":"error","errorType":"bad_data"}` body. With
/// a bearer token set, a request without it is a 401.
public final class PrometheusDouble: Sendable {
    private struct State {
        var recordings: [String: [UInt8]] = [:]
        var failure: Int?
        var delay: Duration?
        var queries: [String] = []
    }
    private let state = Mutex(State())
    private let loopback: Mutex<LoopbackServer?> = Mutex(nil)
    /// The base URL to configure (`http://127.0.0.1:<port>`).
    public let url: String
    /// Required as `Authorization: Bearer` when set.
    public let bearerToken: String?

    private init(url: String, bearerToken: String?) {
        self.url = url
        self.bearerToken = bearerToken
    }

    /// The recorded answers of one container (`Tests/Fixtures/prometheus/<name>-*.json`),
    /// keyed by the queries ``ContainerQueries`` builds for it.
    public static func recordings(_ name: String, namespace: String, pod: String, container: String) throws -> [String: [UInt8]] {
        let dir = Fixtures.repositoryRoot + "/Tests/Fixtures/prometheus/"
        func file(_ kind: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: dir + "\(name)-\(kind).json"))) }
        var out: [String: [UInt8]] = [
            ContainerQueries.memoryWorkingSet(namespace: namespace, pod: pod, container: container): try file("memory"),
            ContainerQueries.cpuUsage(namespace: namespace, pod: pod, container: container): try file("cpu"),
        ]
        for kind in ["limits", "requests"] {
            for resource in ["memory", "cpu"] {
                out[ContainerQueries.resource(kind, resource, namespace: namespace, pod: pod, container: container)] =
                    try file("\(resource)-\(kind.dropLast())")
            }
        }
        return out
    }

    /// Starts a double on an ephemeral loopback port.
    public static func start(recordings: [String: [UInt8]], bearerToken: String? = nil) async throws -> PrometheusDouble {
        let box = Mutex<PrometheusDouble?>(nil)
        let router = Router()
        router.get("/api/v1/query_range") { request, _ -> Response in
            guard let double = box.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            if let delay = double.state.withLock({ $0.delay }) { try await Task.sleep(for: delay) }
            return double.handle(request)
        }
        let loopback = try await LoopbackServer.start(router, label: "Prometheus double")
        let port = loopback.port
        let double = PrometheusDouble(url: "http://127.0.0.1:\(port)", bearerToken: bearerToken)
        double.state.withLock { $0.recordings = recordings }
        box.withLock { $0 = double }
        double.loopback.withLock { $0 = loopback }
        return double
    }

    /// Stops the server.
    public func stop() async {
        await loopback.withLock { $0 }?.stop()
    }

    /// Answers every later valid request with this status (nil: the recordings again).
    public func fail(with status: Int?) { state.withLock { $0.failure = status } }

    /// Answers every later request only after `delay` (nil: at once), as a Prometheus
    /// under load does.
    public func answerAfter(_ delay: Duration?) { state.withLock { $0.delay = delay } }

    /// The `query` of every request so far.
    public var queries: [String] { state.withLock { $0.queries } }

    private static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private static func badData(_ message: String) -> Response {
        json(.badRequest, #"{"status":"error","errorType":"bad_data","error":"\#(message)"}"#)
    }

    /// Unix seconds or RFC 3339, as Prometheus' parseTime accepts them.
    private static func time(_ text: String?) -> Double? {
        guard let text else { return nil }
        if let seconds = Double(text) { return seconds }
        return RFC3339.parse(text)?.timeIntervalSince1970
    }

    /// "15s", "1m", "1h" or plain seconds.
    private static func duration(_ text: String?) -> Double? {
        guard let text, !text.isEmpty else { return nil }
        if let seconds = Double(text) { return seconds }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let unit = text.last.flatMap({ units[$0] }), let n = Double(text.dropLast()) else { return nil }
        return n * unit
    }

    private func handle(_ request: Request) -> Response {
        if let bearerToken, request.headers[.authorization] != "Bearer \(bearerToken)" {
            return Self.json(.unauthorized, #"{"status":"error","errorType":"unauthorized","error":"missing or wrong bearer token"}"#)
        }
        let params = request.uri.queryParameters
        guard let query = params["query"].map(String.init), !query.isEmpty else { return Self.badData("invalid parameter \\\"query\\\": query must not be empty") }
        guard let start = Self.time(params["start"].map(String.init)) else { return Self.badData("invalid parameter \\\"start\\\": cannot parse to a valid timestamp") }
        guard let end = Self.time(params["end"].map(String.init)) else { return Self.badData("invalid parameter \\\"end\\\": cannot parse to a valid timestamp") }
        guard end >= start else { return Self.badData("end timestamp must not be before start time") }
        guard let step = Self.duration(params["step"].map(String.init)), step > 0 else {
            return Self.badData("invalid parameter \\\"step\\\": zero or negative query resolution step widths are not accepted. Try a positive integer")
        }
        guard (end - start) / step <= 11_000 else {
            return Self.badData("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
        }
        let (body, failure) = state.withLock { s -> ([UInt8]?, Int?) in
            s.queries.append(query)
            return (s.recordings[query], s.failure)
        }
        if let failure {
            return Self.json(.init(code: failure), #"{"status":"error","errorType":"internal","error":"failed"}"#)
        }
        guard let body else { return Self.json(.ok, #"{"status":"success","data":{"resultType":"matrix","result":[]}}"#) }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
