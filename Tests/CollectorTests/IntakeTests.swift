@testable import Collector
import CanoSDK
import Logging
import Synchronization
import TestSupport
import Testing
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An IssueSink that records batches, or fails as told.
final class RecordingSink: IssueSink {
    let batches = Mutex<[[CanoSDK.Issue]]>([])
    let failure: SubmitError?
    /// Answer that every Issue was kept in a notify group rather than queued.
    let holds: Bool
    init(failing failure: SubmitError? = nil, holds: Bool = false) {
        self.failure = failure
        self.holds = holds
    }
    func submit(_ issues: [CanoSDK.Issue]) async throws(SubmitError) -> SubmitReceipt {
        if let failure { throw failure }
        batches.withLock { $0.append(issues) }
        return holds ? SubmitReceipt(queued: 0, duplicates: 0, held: issues.count) : SubmitReceipt(queued: issues.count, duplicates: 0)
    }
    var issues: [CanoSDK.Issue] { batches.withLock { $0.flatMap { $0 } } }
}

@Suite struct IntakeTests {
    func intake(auth: IntakeAuth = .none, sink: any IssueSink, logs: LogCapture = LogCapture(), metrics: Metrics = Metrics()) -> AlertmanagerIntake {
        var config = CollectorConfig()
        config.server.auth = auth
        let logger = Logger(label: "test") { JSONLogHandler(label: $0, level: .debug, output: .capture(logs)) }
        return AlertmanagerIntake(config: config, sink: sink, metrics: metrics, logger: logger)
    }

    func body(_ response: AlertmanagerIntake.Response) -> String { String(decoding: response.body, as: UTF8.self) }

    @Test(arguments: [
        "alertmanager/am-0.25-captured/firing-oomkilled.json",
        "alertmanager/am-0.25-captured/firing-3-of-5-truncated.json",
        "alertmanager/am-0.25-captured/resolved-crashlooping.json",
        "alertmanager/kubesphere-kubepodnotready-2alerts.json",
        "alertmanager/zulip-v4-groupkey-2alerts-nonk8s.json",
    ])
    func acceptsRealWebhookBodies(_ fixture: String) async throws {
        let sink = RecordingSink()
        let data = try Fixtures.data(fixture)
        let response = await intake(sink: sink).handle(body: data, authorization: nil)
        #expect(response.status == 200, "\(body(response))")
        let expected = try IssueCoding.decode(AlertmanagerWebhook.self, from: data).alerts.count
        #expect(sink.issues.count == expected)
        #expect(body(response).contains("\"accepted\":\(expected)"))
    }

    /// What noise control kept back is said in the answer (docs/noise-control.md), so a
    /// test alert that does not arrive at once is not a mystery.
    @Test func theAnswerCountsWhatWasHeld() async throws {
        let data = try Fixtures.data("alertmanager/kubesphere-kubepodnotready-2alerts.json")
        let held = await intake(sink: RecordingSink(holds: true)).handle(body: data, authorization: nil)
        #expect(body(held).contains("\"accepted\":2") && body(held).contains("\"held\":2"), "\(body(held))")
        let queued = await intake(sink: RecordingSink()).handle(body: data, authorization: nil)
        #expect(body(queued).contains("\"held\":0"), "\(body(queued))")
    }

    @Test func malformedJSONSaysWhatAndWhere() async {
        let sink = RecordingSink()
        let r = await intake(sink: sink).handle(body: Array(#"{"alerts": [}"#.utf8), authorization: nil)
        #expect(r.status == 400)
        #expect(body(r).contains("not valid JSON"))
        #expect(body(r).contains("line 1, column 13: expected a value, found '}'"))
        let missing = await intake(sink: sink).handle(body: Array(#"{"version":"4"}"#.utf8), authorization: nil)
        #expect(missing.status == 400)
        #expect(body(missing).contains(#"missing required key \"alerts\""#))
        #expect(sink.issues.isEmpty)
    }

    @Test func oneBadAlertDoesNotRejectTheGroup() async {
        let sink = RecordingSink()
        let json = """
            {"version":"4","status":"firing","futureField":{"x":1},"alerts":[
              {"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-11-26T15:00:00Z","endsAt":"0001-01-01T00:00:00Z"},
              {"status":"firing","labels":{"alertname":"B"},"startsAt":"not a time"},
              {"status":"firing","labels":"oops","startsAt":"2026-11-26T15:00:00Z"}
            ]}
            """
        let r = await intake(sink: sink).handle(body: Array(json.utf8), authorization: nil)
        #expect(r.status == 200)
        #expect(sink.issues.map(\.title) == ["A"])
        #expect(body(r).contains(#"alerts[1]: startsAt \"not a time\" is not an RFC 3339 timestamp"#))
        #expect(body(r).contains(#"key \"alerts[2].labels\": expected"#))
    }

    @Test func allAlertsBadIs400() async {
        let json = #"{"alerts":[{"status":"firing","labels":{},"startsAt":"x"}]}"#
        let r = await intake(sink: RecordingSink()).handle(body: Array(json.utf8), authorization: nil)
        #expect(r.status == 400)
    }

    @Test func bearerAndBasicAuth() async throws {
        let data = try Fixtures.data("alertmanager/am-0.25-captured/firing-oomkilled.json")
        let logs = LogCapture()
        let bearer = intake(auth: .bearer(Secret("t0ken-abc")), sink: RecordingSink(), logs: logs)
        #expect(await bearer.handle(body: data, authorization: nil).status == 401)
        #expect(await bearer.handle(body: data, authorization: "Bearer wrong").status == 401)
        #expect(await bearer.handle(body: data, authorization: "Bearer t0ken-abc").status == 200)
        let basic = intake(auth: .basic(username: "am", password: Secret("pa55")), sink: RecordingSink(), logs: logs)
        let good = "Basic " + Data("am:pa55".utf8).base64EncodedString()
        let bad = "Basic " + Data("am:nope".utf8).base64EncodedString()
        #expect(await basic.handle(body: data, authorization: bad).status == 401)
        #expect(await basic.handle(body: data, authorization: good).status == 200)
        // The scheme's case and the spaces after it do not matter (RFC 9110); the credential's case does.
        #expect(await bearer.handle(body: data, authorization: "bearer  t0ken-abc").status == 200)
        #expect(await bearer.handle(body: data, authorization: "Bearer T0KEN-ABC").status == 401)
        #expect(await bearer.handle(body: data, authorization: "Bearert0ken-abc").status == 401)
        #expect(await basic.handle(body: data, authorization: "BASIC " + Data("am:pa55".utf8).base64EncodedString()).status == 200)
        #expect(!logs.lines.joined().contains("t0ken-abc"))
        #expect(!logs.lines.joined().contains("pa55"))
    }

    @Test func anUnavailableStoreAndShutdownAre503ABugIs500() async throws {
        let data = try Fixtures.data("alertmanager/am-0.25-captured/firing-oomkilled.json")
        for passing in [SubmitError(.unavailable, "database or disk is full"), SubmitError(.shuttingDown, "shutting down")] {
            let response = await intake(sink: RecordingSink(failing: passing)).handle(body: data, authorization: nil)
            #expect(response.status == 503)
            #expect(response.headers.contains(HTTPHeader(name: "Retry-After", value: "5")))
        }
        let broken = await intake(sink: RecordingSink(failing: SubmitError(.internal, "could not encode"))).handle(body: data, authorization: nil)
        #expect(broken.status == 500)
    }

    @Test func countsAlertsInMetrics() async throws {
        let metrics = Metrics()
        _ = await intake(sink: RecordingSink(), metrics: metrics).handle(body: try Fixtures.data("alertmanager/kubesphere-kubepodnotready-2alerts.json"), authorization: nil)
        #expect(metrics.counter("cano_alerts_received_total", ["outcome": "accepted"]) == 2)
        #expect(metrics.counter("cano_issues_created_total", ["source": "prometheus"]) == 2)
        #expect(metrics.render().contains(#"cano_intake_requests_total{code="200"} 1"#))
    }

    /// The real truncated body, with top-level fields replaced (nil removes one).
    func truncatedBody(_ changes: [String: JSONValue?] = [:]) throws -> [UInt8] {
        var object = try IssueCoding.decode(JSONValue.self, from: Fixtures.data("alertmanager/am-0.25-captured/firing-3-of-5-truncated.json")).objectValue ?? [:]
        for (key, value) in changes { object[key] = value }
        return try IssueCoding.encode(JSONValue.object(object))
    }

    @Test func truncatedAlertsAreSurfacedOnEveryIssueCountedAndLogged() async throws {
        let sink = RecordingSink(), metrics = Metrics(), logs = LogCapture()
        let response = await intake(sink: sink, logs: logs, metrics: metrics).handle(body: try truncatedBody(), authorization: nil)
        #expect(response.status == 200)
        #expect(sink.issues.count == 3)
        for issue in sink.issues {
            let note = issue.enrichments.first { $0.type == AlertMapper.truncationEnrichmentType }
            guard case .markdown(let text)? = note?.blocks.first else { Issue.record("no truncation note on \(issue.subject.name ?? "")"); continue }
            #expect(text.contains("left out 2 more alerts of this group"))
            #expect(note?.blocks.last == .links([Link(title: "Alertmanager group", url: "http://vm:19093/#/alerts?filter=%7Balertname%3D%22KubePodNotReady%22%2Cnamespace%3D%22batch%22%7D")]))
        }
        // An enrichment like any other: the published schema accepts it, so every plugin reads it.
        try await IssueSchema.validate(sink.issues.map { try IssueCoding.encode($0) })
        #expect(metrics.counter("cano_alerts_truncated_total") == 2)
        #expect(metrics.render().contains("# TYPE cano_alerts_truncated_total counter"))
        let line = logs.lines.first { $0.contains("max_alerts") }
        #expect(line?.contains("truncated_alerts") == true)
        #expect(line?.contains("KubePodNotReady") == true, "names the group")
    }

    @Test func noTruncationNoNoteAndMalformedGroupLabelsKeepTheAlerts() async throws {
        for changes: [String: JSONValue?] in [["truncatedAlerts": nil], ["truncatedAlerts": .number(0)]] {
            let sink = RecordingSink(), metrics = Metrics()
            #expect(await intake(sink: sink, metrics: metrics).handle(body: try truncatedBody(changes), authorization: nil).status == 200)
            #expect(sink.issues.count == 3)
            #expect(sink.issues.allSatisfy { $0.enrichments.isEmpty })
            #expect(metrics.counter("cano_alerts_truncated_total") == 0)
        }
        let sink = RecordingSink()
        let odd = try truncatedBody(["groupLabels": .object(["alertname": .number(1)]), "truncatedAlerts": .number(5)])
        #expect(await intake(sink: sink).handle(body: odd, authorization: nil).status == 200)
        #expect(sink.issues.count == 3)
        #expect(sink.issues.allSatisfy { $0.enrichments.first?.blocks.last == .links([Link(title: "Alertmanager group", url: "http://vm:19093/#/alerts")]) })
    }
}
