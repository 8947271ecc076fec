#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import PrometheusAPI

/// The `prometheus` enricher plugin: a container's memory working set, or its CPU usage,
/// over the last hour (`lookback`), against its limit and request, as a PNG graph.
///
/// The host configures it from its `prometheus:` section and runs it for OOM kills, CPU
/// throttling and the kube-prometheus-stack pod alerts (docs/diagnosis.md). Which graph:
/// memory for memory and OOM Issues, CPU for CPU and throttling ones, both otherwise.
/// Each graph is an enrichment with a one-line summary and the image as a file block,
/// which Slack uploads and shows inline.
public final class PrometheusGraphs: EnricherPlugin {
    public static let name = "prometheus"
    public static let version = "1.0.0"

    let client: PrometheusClient
    let host: HostServices

    public init(config: PluginConfig, host: HostServices) throws(PluginError) {
        guard let prometheus = PrometheusConfig(json: config.json) else { throw PluginError("config needs url: the Prometheus server's base URL") }
        guard prometheus.url.hasPrefix("http://") || prometheus.url.hasPrefix("https://") else { throw PluginError("url must be an http(s) URL") }
        client = PrometheusClient(config: prometheus)
        self.host = host
    }

    /// What a graph shows.
    enum Graph: CaseIterable {
        case memory, cpu

        var title: String { self == .memory ? "Memory working set" : "CPU usage (cores)" }
        var resource: String { self == .memory ? "memory" : "cpu" }
        var format: @Sendable (Double) -> String { self == .memory ? Units.bytes : Units.cores }

        /// The graphs an Issue gets, from its reason or alert name.
        static func of(_ issue: Issue) -> [Graph] {
            let key = (issue.aggregationKey + " " + issue.title).lowercased()
            if key.contains("oom") || key.contains("memory") { return [.memory] }
            if key.contains("cpu") || key.contains("throttl") { return [.cpu] }
            return [.memory, .cpu]
        }
    }

    public func enrich(_ request: DeliveryRequest) -> Result<[Enrichment], PluginError> {
        let issue = request.issue
        let s = issue.subject
        guard let pod = s.kind == "Pod" ? s.name : s.labels["pod"], let namespace = s.namespace ?? s.labels["namespace"] else {
            return .success([])
        }
        let container = s.container ?? s.labels["container"]
        let end = Date()
        let step = Duration.seconds(max(15, client.config.lookback.components.seconds / 120))
        let timeout = Duration.milliseconds(max(200, Int64(request.deadline.timeIntervalSinceNow * 1000) / 4))
        var out: [Enrichment] = []
        do throws(PrometheusError) {
            for graph in Graph.of(issue) {
                let usage = graph == .memory ? ContainerQueries.memoryWorkingSet(namespace: namespace, pod: pod, container: container)
                                             : ContainerQueries.cpuUsage(namespace: namespace, pod: pod, container: container)
                let series = try client.queryRange(usage, end: end, step: step, timeout: timeout).filter { !$0.points.isEmpty }
                let minutes = client.config.lookback.components.seconds / 60
                let title = "\(graph.title), last \(minutes >= 60 && minutes % 60 == 0 ? "\(minutes / 60)h" : "\(minutes)m") (Prometheus)"
                guard !series.isEmpty else {
                    out.append(Enrichment(type: "prometheus", title: title, blocks: [.markdown("_no samples for \(namespace)/\(pod)\(container.map { " container \($0)" } ?? "") in Prometheus_")]))
                    continue
                }
                let limit = try latest(ContainerQueries.resource("limits", graph.resource, namespace: namespace, pod: pod, container: container), end: end, step: step, timeout: timeout)
                let requested = try latest(ContainerQueries.resource("requests", graph.resource, namespace: namespace, pod: pod, container: container), end: end, step: step, timeout: timeout)
                var thresholds: [LineChart.Threshold] = []
                if let limit { thresholds.append(.init(label: "limit", value: limit, isLimit: true)) }
                if let requested { thresholds.append(.init(label: "request", value: requested, isLimit: false)) }
                let lines = series.map { LineChart.Line(label: $0.labels["container"] ?? "value", points: $0.points) }
                let chart = LineChart(title: "\(title): \(namespace)/\(pod)", lines: lines, thresholds: thresholds, format: graph.format)
                let peak = series.flatMap(\.points).max { $0.value < $1.value }?.value ?? 0
                var summary = "Peak \(graph.format(peak))"
                if let limit, limit > 0 { summary += " against a \(graph.format(limit)) limit (\(Int(min(peak / limit * 100, 1e6).rounded()))%)" }
                if let requested { summary += ", request \(graph.format(requested))" }
                var blocks: [Block] = [.markdown(summary + ".")]
                if let png = chart.png() {
                    blocks.append(.file(Block.File(name: "\(graph.resource)-\(pod).png", mimeType: "image/png", bytes: png)))
                }
                out.append(Enrichment(type: "prometheus", title: title, blocks: blocks))
            }
        } catch {
            return .failure(PluginError(error.message))
        }
        return .success(out)
    }

    /// The last value of the first series `query` returns (a limit or a request).
    private func latest(_ query: String, end: Date, step: Duration, timeout: Duration) throws(PrometheusError) -> Double? {
        try client.queryRange(query, end: end, step: step, timeout: timeout).first?.points.last?.value
    }
}
