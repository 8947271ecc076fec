#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// Where and how to reach a Prometheus server's HTTP API (`prometheus:` in the host's
/// config; the same keys in the graph plugin's config, which the host fills in).
///
/// Its descriptions show the URL's origin only: the token and password never reach a log.
public struct PrometheusConfig: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The server's base URL, e.g. `http://prometheus-operated.monitoring:9090`.
    public var url: String
    /// `Authorization: Bearer <token>` (a Thanos or Grafana Cloud front, say).
    public var bearerToken: String?
    /// Basic auth, when a proxy in front of Prometheus asks for it.
    public var username: String?
    public var password: String?
    /// A CA bundle for an https URL with a private CA.
    public var caFile: String?
    /// How far back the range queries look (the issue's "last hour").
    public var lookback: Duration = .seconds(3600)

    /// A server at `url`, without auth.
    public init(url: String) { self.url = url }

    public var description: String { "PrometheusConfig(\(RedactedURL.origin(of: url)))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: []) }

    /// The config as the graph plugin reads it (JSON object with the same keys as YAML).
    public var json: JSONValue {
        var o: [String: JSONValue] = ["url": .string(url), "lookback_seconds": .number(Double(lookback.components.seconds))]
        if let bearerToken { o["bearer_token"] = .string(bearerToken) }
        if let username { o["username"] = .string(username) }
        if let password { o["password"] = .string(password) }
        if let caFile { o["ca_file"] = .string(caFile) }
        return .object(o)
    }

    /// Reads what ``json`` wrote; nil when `url` is missing.
    public init?(json: JSONValue) {
        guard let url = json["url"]?.stringValue, !url.isEmpty else { return nil }
        self.url = url
        bearerToken = json["bearer_token"]?.stringValue
        username = json["username"]?.stringValue
        password = json["password"]?.stringValue
        caFile = json["ca_file"]?.stringValue
        if let s = json["lookback_seconds"]?.numberValue, s > 0 { lookback = .seconds(Int64(s)) }
    }
}

/// One time series of a range query: its labels and its samples, oldest first.
public struct Series: Sendable, Equatable {
    /// The series' labels (`container`, `pod`...).
    public var labels: [String: String]
    /// (Unix time in seconds, value) pairs. Samples that no container metric can hold
    /// (NaN, infinite, negative, over 10^18, or a time before 1970 or after 5138) are
    /// dropped when parsed.
    public var points: [Sample]

    /// One sample.
    public struct Sample: Sendable, Equatable {
        public var time: Double
        public var value: Double
        public init(time: Double, value: Double) {
            self.time = time
            self.value = value
        }
    }

    public init(labels: [String: String], points: [Sample]) {
        self.labels = labels
        self.points = points
    }
}

/// Why a query gave nothing usable. The message names the server's host only.
public struct PrometheusError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Blocking range queries against the Prometheus HTTP API (`GET /api/v1/query_range`),
/// over the SDK's libcurl client. Call it from a thread of its own.
public struct PrometheusClient: Sendable {
    public let config: PrometheusConfig

    public init(config: PrometheusConfig) { self.config = config }

    /// The series `query` returns between `end - lookback` and `end`, one sample per `step`.
    /// - Throws: ``PrometheusError`` for a transport failure, a non-200 answer, or a body
    ///   that is not a `matrix` result.
    public func queryRange(_ query: String, end: Date, step: Duration = .seconds(30), timeout: Duration = .seconds(3)) throws(PrometheusError) -> [Series] {
        let endSeconds = end.timeIntervalSince1970.rounded(.down)
        let start = endSeconds - Double(config.lookback.components.seconds)
        let base = config.url.hasSuffix("/") ? String(config.url.dropLast()) : config.url
        let parameters = [("query", query), ("start", String(Int64(start))), ("end", String(Int64(endSeconds))),
                          ("step", "\(step.components.seconds)s")]
        let url = base + "/api/v1/query_range?" + parameters.map { "\($0.0)=\(PercentEncoding.encode($0.1))" }.joined(separator: "&")
        var headers = [HTTPHeader(name: "Accept", value: "application/json")]
        if let token = config.bearerToken { headers.append(HTTPHeader(name: "Authorization", value: "Bearer \(token)")) }
        if let user = config.username { headers.append(.basicAuthorization(user: user, password: config.password ?? "")) }
        let request = HTTPRequest(url: url, headers: headers, timeout: timeout, connectTimeout: min(timeout, .seconds(2)),
                                  maxResponseBytes: 8 << 20, tls: config.caFile.map { TLSOptions(caFile: $0) })
        let response: HTTPResponse
        do { response = try HTTPClient().send(request) } catch {
            throw PrometheusError("Prometheus at \(RedactedURL.origin(of: config.url)) did not answer: \(error.code)")
        }
        guard response.status == 200 else {
            throw PrometheusError("Prometheus at \(RedactedURL.origin(of: config.url)) answered HTTP \(response.status)")
        }
        return try Self.parseMatrix(response.body)
    }

    /// The series of a `query_range` answer (`{"status":"success","data":{"resultType":"matrix","result":[...]}}`).
    public static func parseMatrix(_ body: [UInt8]) throws(PrometheusError) -> [Series] {
        guard let json = try? IssueCoding.decode(JSONValue.self, from: body), json["status"]?.stringValue == "success",
              json["data"]?["resultType"]?.stringValue == "matrix", let result = json["data"]?["result"]?.arrayValue
        else { throw PrometheusError("the answer is not a successful matrix result") }
        return result.map { entry in
            let labels = (entry["metric"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
            let points = (entry["values"]?.arrayValue ?? []).compactMap { pair -> Series.Sample? in
                guard let p = pair.arrayValue, p.count == 2, let t = p[0].numberValue, (0...1e11).contains(t),
                      let text = p[1].stringValue, let v = Double(text), (0...1e18).contains(v) else { return nil }
                return Series.Sample(time: t, value: v)
            }
            return Series(labels: labels, points: points)
        }
    }
}

/// The PromQL of the graphs and the diagnosis, for one container, as kube-prometheus-stack
/// names the metrics (cAdvisor's `container_*`, kube-state-metrics' `kube_pod_container_*`).
public enum ContainerQueries {
    /// A label value inside double quotes: backslashes and quotes escaped.
    public static func quote(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func selector(namespace: String, pod: String, container: String?) -> String {
        var terms = ["namespace=\(quote(namespace))", "pod=\(quote(pod))"]
        terms.append(container.map { "container=\(quote($0))" } ?? "container!=\"\", container!=\"POD\"")
        return terms.joined(separator: ", ")
    }

    /// Working-set bytes per container: what the kernel's OOM killer compares with the limit.
    public static func memoryWorkingSet(namespace: String, pod: String, container: String?) -> String {
        "max by (container) (container_memory_working_set_bytes{\(selector(namespace: namespace, pod: pod, container: container))})"
    }

    /// CPU cores used per container, as a 5-minute rate.
    public static func cpuUsage(namespace: String, pod: String, container: String?) -> String {
        "sum by (container) (rate(container_cpu_usage_seconds_total{\(selector(namespace: namespace, pod: pod, container: container))}[5m]))"
    }

    /// The container's limit or request of `resource` ("memory", "cpu").
    public static func resource(_ kind: String, _ resource: String, namespace: String, pod: String, container: String?) -> String {
        "max by (container) (kube_pod_container_resource_\(kind){\(selector(namespace: namespace, pod: pod, container: container)), resource=\(quote(resource))})"
    }
}
