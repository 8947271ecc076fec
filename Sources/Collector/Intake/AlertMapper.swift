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

    /// What the webhook says about the alert's group, beyond its alerts.
    struct Group: Sendable, Equatable {
        /// Alerts of the group Alertmanager left out of this notification (`truncatedAlerts`,
        /// set when the receiver's `max_alerts` is exceeded). They never reach the collector.
        var truncatedAlerts: Int = 0
        /// The group's labels (`groupLabels`, the values of the route's `group_by`).
        var labels: [String: String] = [:]
    }

    /// `alert` as an Issue. `externalURL` is the sending Alertmanager's; `group` what the
    /// webhook says about the alert's group (a truncation note when alerts were left out).
    func map(_ alert: AlertmanagerAlert, externalURL: String?, group: Group = Group()) throws(Failure) -> Issue {
        let status: IssueStatus
        switch alert.status {
        case "firing": status = .firing
        case "resolved": status = .resolved
        default: throw Failure(message: "status is \"\(BoundedEcho.cap(alert.status, limit: 64))\"; expected firing or resolved")
        }
        guard let startsAt = RFC3339.parse(alert.startsAt) else {
            throw Failure(message: "startsAt \"\(BoundedEcho.cap(alert.startsAt, limit: 64))\" is not an RFC 3339 timestamp")
        }
        var endsAt: Date?
        if let text = alert.endsAt, !text.isEmpty {
            guard let date = RFC3339.parse(text) else { throw Failure(message: "endsAt \"\(BoundedEcho.cap(text, limit: 64))\" is not an RFC 3339 timestamp") }
            // Go's zero time (0001-01-01) means "not ended".
            endsAt = date.timeIntervalSince1970 > 0 ? date : nil
        }
        let labels = alert.labels
        let annotations = alert.annotations ?? [:]
        // A blank (empty or whitespace-only) annotation counts as absent, so the next one in
        // line is used: rule templates often render an annotation empty.
        func annotation(_ name: String) -> String? { Self.nonBlank(annotations[name]) }
        let alertname = Self.nonBlank(labels["alertname"]) ?? "Alert"

        var subject = Subject(namespace: labels["namespace"], node: labels["node"], container: labels["container"], labels: labels, annotations: annotations)
        if let match = Self.subjectLabels.first(where: { labels[$0.label]?.isEmpty == false }) {
            subject.kind = match.kind
            subject.name = labels[match.label]
        }

        var links: [Link] = []
        if let url = alert.generatorURL, !url.isEmpty { links.append(Link(title: AlertLinks.prometheusTitle, url: url)) }
        if let url = annotation("runbook_url") { links.append(Link(title: "Runbook", url: url)) }
        // The sender's UI: the alert_labels enricher builds a silence link from it.
        if let url = externalURL, !url.isEmpty { links.append(Link(title: AlertLinks.alertmanagerTitle, url: url)) }

        return Issue(
            type: .alert,
            source: .prometheus,
            severity: severity(of: labels),
            status: status,
            title: alertname,
            description: annotation("description") ?? annotation("message") ?? annotation("summary"),
            aggregationKey: alertname,
            fingerprint: alert.fingerprint.flatMap { $0.isEmpty ? nil : $0 } ?? Self.fingerprint(of: labels),
            subject: subject,
            cluster: labels["cluster"] ?? cluster,
            startsAt: startsAt,
            endsAt: status == .resolved ? (endsAt ?? Date()) : endsAt,
            links: links,
            enrichments: Self.truncationNote(group, externalURL: externalURL).map { [$0] } ?? [])
    }

    /// `text` unless it is nil, empty or only whitespace.
    static func nonBlank(_ text: String?) -> String? {
        guard let text, text.contains(where: { !$0.isWhitespace }) else { return nil }
        return text
    }

    /// The `type` of the enrichment that says Alertmanager left alerts out of the notification.
    static let truncationEnrichmentType = "alertmanager_truncated"

    /// "Alertmanager left out N more alerts of this group", with a link to the group in
    /// Alertmanager's UI when the sender's externalURL is known; nil when nothing was left out.
    /// An enrichment made of markdown and links blocks, so every destination shows it as is.
    static func truncationNote(_ group: Group, externalURL: String?) -> Enrichment? {
        guard group.truncatedAlerts > 0 else { return nil }
        let n = group.truncatedAlerts
        var blocks: [Block] = [.markdown(
            "Alertmanager left out \(n) more \(n == 1 ? "alert" : "alerts") of this group from this notification "
                + "(the webhook receiver's `max_alerts`): the collector never received \(n == 1 ? "it" : "them"). "
                + "See the whole group in Alertmanager, or raise `max_alerts`.")]
        if let base = nonBlank(externalURL) {
            blocks.append(.links([Link(title: "Alertmanager group", url: AlertLinks.alertsURL(base: base, labels: group.labels))]))
        }
        return Enrichment(type: truncationEnrichmentType, title: "Alerts left out", blocks: blocks)
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
