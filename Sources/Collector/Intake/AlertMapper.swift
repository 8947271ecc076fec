#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// Turns one Alertmanager alert into an ``Issue``. Pure: same input, same Issue (but for
/// `id` and `createdAt`), so it is unit-tested without HTTP.
public struct AlertMapper: Sendable {
    public var config: AlertmanagerConfig
    /// The collector's cluster name, used when the alert has no `cluster` label.
    public var cluster: String?

    public init(config: AlertmanagerConfig, cluster: String?) {
        self.config = config
        self.cluster = cluster
    }

    /// A reason an alert could not become an Issue.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Subject label precedence. `job_name` is kube-state-metrics' label for a Kubernetes
    /// Job; the plain `job` label is the Prometheus scrape job (e.g. "kube-state-metrics"),
    /// never a subject. Workload labels come before `pod`: kube-state-metrics' workload
    /// series (kube_job_*, kube_deployment_*...) have no pod of their own, so a `pod`
    /// label next to them is the exporter's scrape target (as in the captured KubeJobFailed
    /// alert), while pod alerts (KubePodCrashLooping...) carry no workload label.
    static let subjectLabels: [(label: String, kind: String)] = [
        ("job_name", "Job"), ("cronjob", "CronJob"), ("deployment", "Deployment"), ("statefulset", "StatefulSet"),
        ("daemonset", "DaemonSet"), ("pod", "Pod"), ("node", "Node"),
        ("persistentvolumeclaim", "PersistentVolumeClaim"), ("namespace", "Namespace"),
    ]

    func map(_ alert: AlertmanagerAlert, externalURL: String?) throws(Failure) -> Issue {
        let status: IssueStatus
        switch alert.status {
        case "firing": status = .firing
        case "resolved": status = .resolved
        default: throw Failure(message: "status is \"\(alert.status)\"; expected firing or resolved")
        }
        guard let startsAt = RFC3339.parse(alert.startsAt) else {
            throw Failure(message: "startsAt \"\(alert.startsAt)\" is not an RFC 3339 timestamp")
        }
        var endsAt: Date?
        if let text = alert.endsAt, !text.isEmpty {
            guard let date = RFC3339.parse(text) else { throw Failure(message: "endsAt \"\(text)\" is not an RFC 3339 timestamp") }
            // Go's zero time (0001-01-01) means "not ended".
            endsAt = date.timeIntervalSince1970 > 0 ? date : nil
        }
        let labels = alert.labels
        let annotations = alert.annotations ?? [:]
        let alertname = labels["alertname"] ?? "Alert"

        var subject = Subject(namespace: labels["namespace"], node: labels["node"], container: labels["container"], labels: labels, annotations: annotations)
        if let match = Self.subjectLabels.first(where: { labels[$0.label]?.isEmpty == false }) {
            subject.kind = match.kind
            subject.name = labels[match.label]
        }

        var links: [Link] = []
        if let url = alert.generatorURL, !url.isEmpty { links.append(Link(title: AlertLinks.prometheusTitle, url: url)) }
        if let url = annotations["runbook_url"], !url.isEmpty { links.append(Link(title: "Runbook", url: url)) }
        // The sender's UI: the alert_labels enricher builds a silence link from it.
        if let url = externalURL, !url.isEmpty { links.append(Link(title: AlertLinks.alertmanagerTitle, url: url)) }

        return Issue(
            type: .alert,
            source: .prometheus,
            severity: severity(of: labels),
            status: status,
            title: alertname,
            description: annotations["description"] ?? annotations["message"] ?? annotations["summary"],
            aggregationKey: alertname,
            fingerprint: alert.fingerprint.flatMap { $0.isEmpty ? nil : $0 } ?? Self.fingerprint(of: labels),
            subject: subject,
            cluster: labels["cluster"] ?? cluster,
            startsAt: startsAt,
            endsAt: status == .resolved ? (endsAt ?? Date()) : endsAt,
            links: links)
    }

    func severity(of labels: [String: String]) -> Severity {
        labels["severity"].flatMap { config.severityMapping[$0.lowercased()] } ?? config.defaultSeverity
    }

    /// A stable fingerprint from the label set (FNV-1a 64 over sorted name=value pairs),
    /// for senders that leave `fingerprint` out. Stable across restarts and versions.
    static func fingerprint(of labels: [String: String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for (name, value) in labels.sorted(by: { $0.key < $1.key }) {
            for byte in name.utf8 + [0xff] + value.utf8 + [0xfe] {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01b3
            }
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
