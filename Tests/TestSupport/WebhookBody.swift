/// Alertmanager v4 webhook bodies for process tests, shaped as Alertmanager sends them.
public enum WebhookBody {
    /// One group of firing alerts named `alertname`, one per fingerprint (a label `fp`
    /// carries it too, so the label sets differ as real ones do).
    public static func firing(alertname: String, fingerprints: [String]) -> [UInt8] {
        body(alerts: fingerprints.map { fp in
            (["alertname": alertname, "fp": fp, "severity": "critical", "namespace": "default"], "\(alertname.lowercased()) \(fp)", fp)
        }, groupLabels: ["alertname": alertname])
    }

    /// The same alerts as ``firing(alertname:fingerprints:)``, resolved (same labels,
    /// fingerprints and start; `endsAt` set), as Alertmanager sends a resolve.
    public static func resolved(alertname: String, fingerprints: [String]) -> [UInt8] {
        body(alerts: fingerprints.map { fp in
            (["alertname": alertname, "fp": fp, "severity": "critical", "namespace": "default"], "\(alertname.lowercased()) \(fp)", fp)
        }, groupLabels: ["alertname": alertname], resolved: true)
    }

    /// One firing alert per name, each its own `alertname`; the fingerprint is the name's
    /// UTF-8 in hex (stable across processes) and the summary the name in lower case.
    public static func firing(alertnames: [String]) -> [UInt8] {
        body(alerts: alertnames.map { name in
            (["alertname": name, "severity": "critical", "namespace": "default"], name.lowercased(),
             name.utf8.map { String($0, radix: 16) }.joined())
        }, groupLabels: [:])
    }

    static func body(alerts: [(labels: [String: String], summary: String, fingerprint: String)], groupLabels: [String: String],
                     resolved: Bool = false) -> [UInt8] {
        let status = resolved ? "resolved" : "firing"
        let endsAt = resolved ? "2026-11-26T10:30:00Z" : "0001-01-01T00:00:00Z"
        func object(_ map: [String: String]) -> String {
            "{" + map.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",") + "}"
        }
        let items = alerts.map { alert in
            """
            {"status":"\(status)","labels":\(object(alert.labels)),"annotations":{"summary":"\(alert.summary)"},
             "startsAt":"2026-11-26T10:00:00Z","endsAt":"\(endsAt)","generatorURL":"http://prometheus/graph",
             "fingerprint":"\(alert.fingerprint)"}
            """
        }
        return Array("""
            {"version":"4","groupKey":"{}:\(object(groupLabels).replacing("\"", with: "\\\""))","truncatedAlerts":0,"status":"\(status)",
             "receiver":"cano","groupLabels":\(object(groupLabels)),"commonLabels":\(object(groupLabels)),"commonAnnotations":{},
             "externalURL":"http://alertmanager:9093","alerts":[\(items.joined(separator: ","))]}
            """.utf8)
    }
}
