// The alerts the suite sends, in Alertmanager's two formats: the webhook body (v4) that
// Alertmanager posts to receivers such as cano-collector, and the alert list its own API
// (`POST /api/v2/alerts`) takes from Prometheus. Both carry the same labels, annotations
// and times, so the ingest comparison is like for like.
import CanoSDK
import Foundation

/// One alert, independent of the wire format.
struct BenchAlert: Sendable {
    var labels: [(String, String)]
    var description: String
    var startsAt: String
    var fingerprint: String?

    private func labelsJSON() -> String {
        "{" + labels.map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",") + "}"
    }

    private var annotationsJSON: String {
        "{\"description\":\"\(description)\",\"runbook_url\":\"https://runbooks.example.com/bench\"}"
    }

    /// As an element of a webhook body's `alerts`.
    var webhookJSON: String {
        let fp = fingerprint.map { ",\"fingerprint\":\"\($0)\"" } ?? ""
        return "{\"status\":\"firing\",\"labels\":\(labelsJSON()),\"annotations\":\(annotationsJSON),\"startsAt\":\"\(startsAt)\","
            + "\"endsAt\":\"0001-01-01T00:00:00Z\",\"generatorURL\":\"http://prometheus.example:9090/graph?g0.expr=up\"\(fp)}"
    }

    /// As an element of `POST /api/v2/alerts`.
    var apiV2JSON: String {
        "{\"labels\":\(labelsJSON()),\"annotations\":\(annotationsJSON),\"startsAt\":\"\(startsAt)\","
            + "\"generatorURL\":\"http://prometheus.example:9090/graph?g0.expr=up\"}"
    }
}

enum AlertBodies {
    /// A webhook body (version 4) carrying `alerts`, as Alertmanager sends it.
    static func webhook(_ alerts: [BenchAlert]) -> [UInt8] {
        let group = alerts.first?.labels.first { $0.0 == "alertname" }?.1 ?? "bench"
        let text = "{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"\(group)\\\"}\",\"status\":\"firing\",\"receiver\":\"cano\","
            + "\"groupLabels\":{\"alertname\":\"\(group)\"},\"commonLabels\":{},\"commonAnnotations\":{},"
            + "\"externalURL\":\"http://alertmanager.example:9093\",\"truncatedAlerts\":0,\"alerts\":["
            + alerts.map(\.webhookJSON).joined(separator: ",") + "]}"
        return Array(text.utf8)
    }

    /// A body for Alertmanager's `POST /api/v2/alerts`.
    static func apiV2(_ alerts: [BenchAlert]) -> [UInt8] {
        Array(("[" + alerts.map(\.apiV2JSON).joined(separator: ",") + "]").utf8)
    }

    /// A realistic crash-loop alert, unique by `key`.
    static func crashLoop(_ key: String, namespace: String, extra: [(String, String)] = [], description: String? = nil, startsAt: String) -> BenchAlert {
        BenchAlert(
            labels: [("alertname", "KubePodCrashLooping"), ("namespace", namespace), ("pod", "worker-\(key)"), ("container", "worker"),
                     ("job", "kube-state-metrics"), ("severity", "critical")] + extra,
            description: description ?? "Pod \(namespace)/worker-\(key) (worker) is restarting 3 times in the last 10 minutes.",
            startsAt: startsAt)
    }
}
