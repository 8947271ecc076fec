import CanoSDK

/// `alert_labels`: an Alertmanager Issue's labels and annotations as tables, plus links
/// to the Prometheus query, the runbook, and an Alertmanager silence form prefilled with
/// the alert's exact label set (so one click silences this alert and nothing else).
struct AlertLabelsEnricher: Enricher {
    /// Pure reshaping of the alert's own labels: runs inline.
    var blocks: Bool { false }

    let name = "alert_labels"
    var displayName: String { "alert labels" }

    func enrich(_ issue: Issue, parameters: EnricherParameters, deadline: ContinuousClock.Instant) throws(EnricherFailure) -> [Enrichment] {
        guard issue.source == .prometheus else { return [] }
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
}
