import CanoSDK

/// The Alertmanager button: Alertmanager's alert list filtered to this alert, rather than
/// the home page the webhook's `externalURL` opens.
///
/// The webhook carries the sending Alertmanager's `externalURL`, which the host puts on the
/// Issue as a link titled `AlertLinks.alertmanagerTitle`. Alone it opens the home page, where the reader must
/// find the alert again. The Issue does not carry the group's `group_by` labels, and a
/// guessed subset could match unrelated alerts, so the filter is the alert's own label set:
/// `<externalURL>/#/alerts?filter={a="b",…}`. That page shows the alert inside its group,
/// with its silenced and inhibited state. Without labels there is nothing to filter on and
/// the button is dropped, since a home-page button helps nobody.
enum AlertmanagerLink {
    /// The Issue's links with the Alertmanager one pointed at this alert (or dropped).
    static func rewrite(_ links: [Link], labels: [String: String]) -> [Link] {
        links.compactMap { link in
            guard link.title == AlertLinks.alertmanagerTitle else { return link }
            guard !labels.isEmpty else { return nil }
            return Link(title: link.title, url: AlertLinks.alertsURL(base: link.url, labels: labels))
        }
    }
}
