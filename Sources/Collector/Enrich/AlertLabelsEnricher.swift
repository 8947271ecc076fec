import CanoSDK

/// `alert_labels`: an Alertmanager Issue's labels and annotations as tables, plus links
/// to the Prometheus query, the runbook, and an Alertmanager silence form prefilled with
/// the alert's exact label set (so one click silences this alert and nothing else).
///
/// Issues from other sources (the Kubernetes detectors) have no Alertmanager to silence
/// them in; with `server.external_url` set they get a "Silence" link to the collector's own
/// form instead, prefilled with matchers for the Issue's subject.
struct AlertLabelsEnricher: Enricher {
    /// Pure reshaping of the alert's own labels: runs inline.
    var blocks: Bool { false }

    let name = "alert_labels"
    var displayName: String { "alert labels" }
    /// `server.external_url`: where the collector's silence form is; nil adds no link to
    /// non-Alertmanager Issues.
    var externalURL: String? = nil

    func enrich(_ issue: Issue, parameters: EnricherParameters, deadline: ContinuousClock.Instant) throws(EnricherFailure) -> [Enrichment] {
        guard issue.source == .prometheus else { return silenceLink(issue) }
        let labels = issue.subject.labels
        let annotations = issue.subject.annotations
        var blocks: [Block] = []
        if !labels.isEmpty {
            blocks.append(.table(Block.Table(headers: ["Label", "Value"], rows: labels.sorted { $0.key < $1.key }.map { [$0.key, $0.value] })))
        }
        if !annotations.isEmpty {
            blocks.append(.table(Block.Table(headers: ["Annotation", "Value"],
                                             rows: annotations.sorted { $0.key < $1.key }.map { [$0.key, $0.value] })))
        }
        var links: [Link] = []
        if let query = issue.links.first(where: { $0.title == AlertLinks.prometheusTitle }) { links.append(query) }
        if let runbook = annotations["runbook_url"], !runbook.isEmpty { links.append(Link(title: "Runbook", url: runbook)) }
        if let base = issue.links.first(where: { $0.title == AlertLinks.alertmanagerTitle })?.url, !labels.isEmpty {
            links.append(Link(title: "Silence", url: AlertLinks.silenceURL(base: base, labels: labels)))
        }
        if !links.isEmpty { blocks.append(.links(links)) }
        guard !blocks.isEmpty else { return [] }
        return [Enrichment(type: "alert_labels", title: "Alert", blocks: blocks)]
    }

    /// The collector's own Silence link for an Issue not from Alertmanager: matchers on the
    /// aggregation key (the detector's reason) and the subject (cluster, namespace, kind,
    /// name, container), so the silence covers this object's problem and nothing else.
    private func silenceLink(_ issue: Issue) -> [Enrichment] {
        guard let externalURL else { return [] }
        var fields: [(String, String)] = [("aggregation_key", issue.aggregationKey)]
        for (field, value) in [("cluster", issue.cluster), ("namespace", issue.subject.namespace), ("kind", issue.subject.kind),
                               ("name", issue.subject.name), ("container", issue.subject.container)] {
            if let value, !value.isEmpty { fields.append((field, value)) }
        }
        guard let url = SilencesAPI.silenceLink(externalURL: externalURL, labels: fields) else { return [] }
        return [Enrichment(type: "alert_labels", title: "Silence", blocks: [.links([Link(title: "Silence", url: url)])])]
    }
}
