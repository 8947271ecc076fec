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
        let raw = try IssueCoding.decode(AlertmanagerAlert.self, from: IssueCoding.encode(webhook.alerts[0]))
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
}
