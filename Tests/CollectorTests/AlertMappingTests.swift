@testable import Collector
import CanoSDK
import TestSupport
import Testing
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

@Suite struct AlertMappingTests {
    let mapper = AlertMapper(config: AlertmanagerConfig(), cluster: "home")

    func alert(_ labels: [String: String], status: String = "firing", annotations: [String: String] = [:], endsAt: String = "0001-01-01T00:00:00Z") -> AlertmanagerAlert {
        AlertmanagerAlert(status: status, labels: labels, annotations: annotations, startsAt: "2026-11-26T15:23:12.041128967Z", endsAt: endsAt, generatorURL: "http://prom/graph?g0.expr=up", fingerprint: "51d92ed3531c4577")
    }

    @Test func mapsTheCapturedOOMKilledAlert() throws {
        let body = try Fixtures.data("alertmanager/am-0.25-captured/firing-oomkilled.json")
        let webhook = try IssueCoding.decode(AlertmanagerWebhook.self, from: body)
        guard case .alert(let raw) = webhook.alerts[0] else { Issue.record("the fixture's alert does not decode"); return }
        let issue = try mapper.map(raw, externalURL: webhook.externalURL)
        #expect(issue.type == .alert)
        #expect(issue.source == .prometheus)
        #expect(issue.severity == .high)
        #expect(issue.status == .firing)
        #expect(issue.title == "KubeContainerOOMKilled")
        #expect(issue.description == "Container worker in pod payments/worker-5c4b7f9d8-abcde was OOMKilled 3 times in the last 10 minutes.")
        #expect(issue.fingerprint == "51d92ed3531c4577")
        #expect(issue.subject == Subject(kind: "Pod", name: "worker-5c4b7f9d8-abcde", namespace: "payments", container: "worker",
                                         labels: raw.labels, annotations: raw.annotations ?? [:]))
        #expect(issue.cluster == "prod-eu-1")
        #expect(issue.endsAt == nil)
        #expect(RFC3339.format(issue.startsAt) == "2026-11-26T15:23:12.041Z")
        #expect(issue.links.map(\.title) == ["Prometheus query", "Alertmanager"])
        #expect(issue.links.last?.url == webhook.externalURL)
    }

    @Test func severityMappingAndDefault() throws {
        #expect(try mapper.map(alert(["severity": "warning"]), externalURL: nil).severity == .low)
        #expect(try mapper.map(alert(["severity": "Info"]), externalURL: nil).severity == .info)
        #expect(try mapper.map(alert(["severity": "none"]), externalURL: nil).severity == .debug)
        #expect(try mapper.map(alert(["severity": "whatever"]), externalURL: nil).severity == .low)
        var custom = AlertmanagerConfig()
        custom.severityMapping["p1"] = .high
        custom.defaultSeverity = .info
        let m = AlertMapper(config: custom, cluster: nil)
        #expect(try m.map(alert(["severity": "P1"]), externalURL: nil).severity == .high)
        #expect(try m.map(alert([:]), externalURL: nil).severity == .info)
    }

    @Test func subjectPrecedenceIgnoresScrapeJob() throws {
        let a = try mapper.map(alert(["job": "kube-state-metrics", "job_name": "backup-123", "namespace": "ops"]), externalURL: nil)
        #expect(a.subject.kind == "Job")
        #expect(a.subject.name == "backup-123")
        let b = try mapper.map(alert(["job": "kube-state-metrics", "deployment": "api", "namespace": "ops"]), externalURL: nil)
        #expect(b.subject.kind == "Deployment")
        let c = try mapper.map(alert(["job": "node-exporter", "node": "n1"]), externalURL: nil)
        #expect(c.subject.kind == "Node")
        #expect(c.subject.node == "n1")
        #expect(c.cluster == "home")
    }

    @Test func resolvedAlertKeepsEndsAtAndRunbookLink() throws {
        let issue = try mapper.map(alert(["alertname": "X"], status: "resolved", annotations: ["runbook_url": "https://runbooks/x", "summary": "s"], endsAt: "2026-11-26T16:00:00Z"), externalURL: nil)
        #expect(issue.status == .resolved)
        #expect(issue.endsAt.map(RFC3339.format) == "2026-11-26T16:00:00.000Z")
        #expect(issue.description == "s")
        #expect(issue.links.map(\.url) == ["http://prom/graph?g0.expr=up", "https://runbooks/x"])
    }

    @Test func badValuesAreNamed() {
        var bad = alert([:])
        bad.startsAt = "yesterday"
        #expect(throws: AlertMapper.Failure(message: "startsAt \"yesterday\" is not an RFC 3339 timestamp")) { try mapper.map(bad, externalURL: nil) }
        #expect(throws: AlertMapper.Failure.self) { try mapper.map(alert([:], status: "pending"), externalURL: nil) }
    }

    @Test func fallbackFingerprintIsStableAndOrderIndependent() {
        let a = AlertMapper.fingerprint(of: ["a": "1", "b": "2"])
        #expect(a == AlertMapper.fingerprint(of: ["b": "2", "a": "1"]))
        #expect(a != AlertMapper.fingerprint(of: ["a": "12"]))
        #expect(a.count == 16)
    }

    // MARK: The Issue says what the alert says

    /// The first alert of a real body (description + summary), its annotations replaced.
    func capturedAlert(annotations: [String: String]) throws -> AlertmanagerAlert {
        let webhook = try IssueCoding.decode(AlertmanagerWebhook.self, from: Fixtures.data("alertmanager/am-0.25-captured/firing-3-of-5-truncated.json"))
        guard case .alert(var raw) = webhook.alerts[0] else { throw Failure("the fixture's alert does not decode") }
        raw.annotations = annotations
        return raw
    }
    struct Failure: Error { var message: String; init(_ m: String) { message = m } }

    static let summary = "Pod has been in a non-ready state for more than 15 minutes."

    /// Blank (empty or whitespace-only) annotations count as absent: description, then
    /// message, then summary.
    @Test(arguments: [
        (["description": "", "summary": summary], summary),
        (["description": " ", "message": "", "summary": summary], summary),
        (["description": "\n\t ", "summary": summary], summary),
        (["message": " ", "summary": summary], summary),
        (["description": "", "message": "m"], "m"),
        (["description": " \n", "message": "m", "summary": summary], "m"),
        (["description": "d", "message": " ", "summary": summary], "d"),
    ] as [([String: String], String)])
    func blankAnnotationsFallBack(_ annotations: [String: String], _ expected: String) throws {
        let issue = try mapper.map(capturedAlert(annotations: annotations), externalURL: nil)
        #expect(issue.description == expected)
        #expect(issue.subject.annotations == annotations, "the annotations themselves are kept as sent")
    }

    @Test func allBlankAnnotationsGiveNoDescriptionAndABlankRunbookNoLink() throws {
        let issue = try mapper.map(capturedAlert(annotations: ["description": "", "message": " ", "summary": "\t", "runbook_url": "  "]), externalURL: "http://vm:19093")
        #expect(issue.description == nil)
        #expect(!issue.links.contains { $0.title == "Runbook" })
        var unnamed = try capturedAlert(annotations: [:])
        unnamed.labels["alertname"] = " "
        #expect(try mapper.map(unnamed, externalURL: nil).title == "Alert")
    }

    /// The real body Alertmanager 0.25 sent with `max_alerts: 3` for a group of 5.
    @Test func truncatedWebhookSaysOnEachIssueThatAlertsWereLeftOut() throws {
        let webhook = try IssueCoding.decode(AlertmanagerWebhook.self, from: Fixtures.data("alertmanager/am-0.25-captured/firing-3-of-5-truncated.json"))
        #expect(webhook.truncatedAlerts == 2)
        let group = AlertMapper.Group(truncatedAlerts: webhook.truncatedAlerts ?? 0, labels: webhook.groupLabels?.labels ?? [:])
        for case .alert(let raw) in webhook.alerts {
            let issue = try mapper.map(raw, externalURL: webhook.externalURL, group: group)
            let notes = issue.enrichments.filter { $0.type == AlertMapper.truncationEnrichmentType }
            try #require(notes.count == 1)
            guard case .markdown(let text) = notes[0].blocks.first else { Issue.record("no markdown block: \(notes[0].blocks)"); continue }
            #expect(text.hasPrefix("Alertmanager left out 2 more alerts of this group from this notification"))
            #expect(text.contains("`max_alerts`"))
            #expect(notes[0].blocks.dropFirst().first == .links([Link(
                title: "Alertmanager group",
                url: "http://vm:19093/#/alerts?filter=%7Balertname%3D%22KubePodNotReady%22%2Cnamespace%3D%22batch%22%7D")]))
            // It crosses the plugin boundary like any enrichment.
            let decoded = try IssueCoding.decode(CanoSDK.Issue.self, from: IssueCoding.encode(issue))
            #expect(decoded.enrichments == issue.enrichments)
        }
    }

    @Test func truncationNoteVariants() throws {
        let raw = try capturedAlert(annotations: [:])
        // Not truncated (0, or the field absent as before Alertmanager 0.24): no note.
        #expect(try mapper.map(raw, externalURL: "http://vm:19093", group: .init(truncatedAlerts: 0)).enrichments.isEmpty)
        #expect(try mapper.map(raw, externalURL: "http://vm:19093").enrichments.isEmpty)
        // One alert, no externalURL: singular, and no link.
        let one = try mapper.map(raw, externalURL: nil, group: .init(truncatedAlerts: 1, labels: ["alertname": "KubePodNotReady"]))
        #expect(one.enrichments.map(\.blocks.count) == [1])
        guard case .markdown(let text) = one.enrichments.first?.blocks.first else { Issue.record("no note"); return }
        #expect(text.hasPrefix("Alertmanager left out 1 more alert of this group"))
        // A route grouping by nothing: the alert list; quotes and backslashes in values escaped.
        #expect(AlertLinks.alertsURL(base: "http://am/", labels: [:]) == "http://am/#/alerts")
        #expect(AlertLinks.alertsURL(base: "http://am", labels: ["a": #"x"y\z"#]) == "http://am/#/alerts?filter=%7Ba%3D%22x%5C%22y%5C%5Cz%22%7D")
    }
}
