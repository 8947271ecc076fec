import Foundation
import CanoSDK
import Collector
import Testing
import TestSupport
@testable import PagerDutyDestination

/// The notifier against the strict PagerDuty double over loopback HTTP.
@Suite struct PagerDutyDeliveryTests {
    @Test func firingTriggersWithTheFingerprintAsDedupKey() async throws {
        let h = try await Harness.start(routingKeys: [testRoutingKey])
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier(["client_url": "https://grafana.example/d/k8s"])
        let result = try await notifier.deliverOnThread(Sample.issue(), key: "pd:3f2a9c0d11e4b7a8:firing:1767225600")
        #expect(result.isDelivered, "\(result)")
        #expect(result.reference == "3f2a9c0d11e4b7a8", "the dedup_key PagerDuty echoed")
        #expect(result.message.contains("HTTP 202"))
        #expect(h.pagerduty.rejections.isEmpty, "\(h.pagerduty.rejections)")

        let request = try #require(h.pagerduty.requests.first)
        #expect(request.target == "/v2/enqueue")
        #expect(request.header("Content-Type") == "application/json")
        let event = try #require(h.pagerduty.alertEvents.first)
        #expect(event.action == "trigger")
        #expect(event.routingKey == testRoutingKey)
        #expect(event.dedupKey == "3f2a9c0d11e4b7a8", "the fingerprint, not the idempotency key")
        #expect(event.body["client"]?.stringValue == "cano-collector")
        #expect(event.body["client_url"]?.stringValue == "https://grafana.example/d/k8s")
        let payload = try #require(event.payload)
        #expect(payload["summary"]?.stringValue == "KubePodCrashLooping: Pod shop/cart-7d9f-x2 is crash looping")
        #expect(payload["severity"]?.stringValue == "critical")
        #expect(payload["source"]?.stringValue == "prod-eu/shop/cart-7d9f-x2")
        #expect(payload["component"]?.stringValue == "cart")
        #expect(payload["group"]?.stringValue == "shop")
        #expect(payload["class"]?.stringValue == "KubePodCrashLooping")
        #expect(payload["timestamp"]?.stringValue == "2026-01-01T00:00:00.000Z")
        let details = try #require(event.customDetails)
        #expect(details["labels"]?["pod"]?.stringValue == "cart-7d9f-x2")
        #expect(details["annotations"]?["runbook_url"]?.stringValue == "https://runbooks.example/crashloop")
        #expect(details["enrichments"]?["Pod logs"]?.stringValue == "panic: nil map\n- restart 1\n- restart 2")
        #expect(details["subject"]?["kind"]?.stringValue == "Pod")
        #expect(details["cluster"]?.stringValue == "prod-eu")
        #expect(details["description"]?.stringValue == "Pod shop/cart-7d9f-x2 is crash looping")
        #expect(details[PagerDutyEvent.trimmedNoteKey] == nil, "nothing was trimmed")
        let links = try #require(event.body["links"]?.arrayValue)
        #expect(links.compactMap { $0["href"]?.stringValue } == ["https://runbooks.example/crashloop", "https://grafana.example/render/cpu.png?from=now-1h"])
        #expect(links.first?["text"]?.stringValue == "Runbook")
        let images = try #require(event.body["images"]?.arrayValue)
        #expect(images.count == 1)
        #expect(images.first?["src"]?.stringValue == "https://grafana.example/render/cpu.png?from=now-1h")
        #expect(images.first?["alt"]?.stringValue == "CPU graph")
        #expect(h.pagerduty.alert(dedupKey: "3f2a9c0d11e4b7a8")?.status == .triggered)
    }

    /// The host's diagnosis goes to its own custom_details key, not among the enrichments
    /// that are trimmed first.
    @Test func theLikelyCauseIsItsOwnDetail() async throws {
        let h = try await Harness.start(routingKeys: [testRoutingKey])
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier()
        var issue = Sample.issue()
        issue.enrichments.insert(Enrichment(type: Enrichment.diagnosisType, title: "Likely cause", blocks: [
            .markdown("the command `wge` does not exist in cart's image (exit code 127)"), .list(["last exit code 127"]),
            .markdown("Next step: Fix the command."),
        ]), at: 0)
        let result = try await notifier.deliverOnThread(issue, key: "pd:3f2a9c0d11e4b7a8:firing:1767225600")
        #expect(result.isDelivered, "\(result)")
        let details = try #require(h.pagerduty.alertEvents.first?.customDetails)
        #expect(details["likely_cause"]?.stringValue == "Likely cause: the command `wge` does not exist in cart's image (exit code 127)\n- last exit code 127\nNext step: Fix the command.")
        #expect(details["enrichments"]?["Likely cause"] == nil)
    }

    @Test func resolveResolvesTheSameAlert() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier()
        // The idempotency keys differ between firing and resolve (status is part of them);
        // only the fingerprint ties them together.
        try await notifier.expectDelivered(Sample.issue(), key: "k-firing")
        let resolved = try await notifier.deliverOnThread(Sample.issue(.resolved), key: "k-resolved")
        #expect(resolved.isDelivered, "\(resolved)")
        let events = h.pagerduty.alertEvents
        #expect(events.map(\.action) == ["trigger", "resolve"])
        #expect(events.map(\.dedupKey) == ["3f2a9c0d11e4b7a8", "3f2a9c0d11e4b7a8"])
        #expect(events.last?.applied == true, "the resolve found the open alert")
        #expect(h.pagerduty.alerts.count == 1)
        #expect(h.pagerduty.alert(dedupKey: "3f2a9c0d11e4b7a8")?.status == .resolved)
        // A resolve carries only what PagerDuty needs.
        #expect(events.last?.body.objectValue?.keys.sorted() == ["dedup_key", "event_action", "routing_key"])
    }

    @Test func repeatsDeduplicateAndARefireOpensANewAlert() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier()
        for issue in [Sample.issue(), Sample.issue(), Sample.issue(.resolved), Sample.issue()] {
            try await notifier.expectDelivered(issue)
        }
        let alerts = h.pagerduty.alerts
        #expect(alerts.map(\.status) == [.resolved, .triggered])
        #expect(alerts.first?.triggers == 2)
    }

    @Test(arguments: [(Severity.high, "critical"), (.low, "warning"), (.info, "info"), (.debug, "info")])
    func defaultSeverityMapping(severity: Severity, expected: String) async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        try await h.notifier().expectDelivered(Sample.issue(severity: severity))
        #expect(h.pagerduty.alertEvents.first?.payload?["severity"]?.stringValue == expected)
    }

    @Test func severityMapOverrides() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier(["severity_map": .object(["LOW": "error", "high": "CRITICAL", "DEBUG": "warning"])])
        for severity in [Severity.low, .high, .debug, .info] {
            try await notifier.expectDelivered(Sample.issue(fingerprint: "fp-\(severity.rawValue)", severity: severity))
        }
        #expect(h.pagerduty.alertEvents.compactMap { $0.payload?["severity"]?.stringValue } == ["error", "critical", "warning", "info"])
    }

    // MARK: outcomes

    @Test func rateLimitWithoutRetryAfterWaitsThirtySeconds() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        h.pagerduty.inject(.rateLimited)
        let result = try await h.notifier().deliverOnThread(Sample.issue())
        #expect(result.isRetry)
        #expect(result.retryAfter == .seconds(30))
        #expect(result.message.contains("HTTP 429"))
        #expect(result.message.contains("arriving too quickly"), "PagerDuty's own words: \(result.message)")
    }

    @Test func retryAfterIsHonouredWhenSent() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        h.pagerduty.inject(.response(.init(status: 429, headers: [("Retry-After", "7")])))
        let result = try await h.notifier().deliverOnThread(Sample.issue())
        #expect(result.retryAfter == .seconds(7))
    }

    @Test(arguments: [500, 502, 503, 504])
    func serverErrorsRetry(status: Int) async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        h.pagerduty.inject(.serverError(status))
        let notifier = try h.notifier()
        let result = try await notifier.deliverOnThread(Sample.issue())
        #expect(result.isRetry, "\(result)")
        #expect(result.retryAfter == nil, "the host's backoff decides")
        #expect(result.message.contains("HTTP \(status)"))
        #expect(!result.message.contains("\n"), "the HTML page is one line in the message")
        // The retry goes through: the double processes it.
        try await notifier.expectDelivered(Sample.issue())
        #expect(h.pagerduty.alertEvents.count == 1)
    }

    @Test func badRequestIsPermanentWithPagerDutysErrors() async throws {
        let h = try await Harness.start(routingKeys: ["0123456789abcdef0123456789abcdef"])
        defer { stopLater { await h.stop() } }
        let result = try await h.notifier().deliverOnThread(Sample.issue())
        #expect(result.isPermanent, "\(result)")
        #expect(result.message.contains("HTTP 400"))
        #expect(result.message.contains("Event object is invalid: Invalid routing key"), "\(result.message)")
        #expect(h.pagerduty.rejections.first?.errors == ["Invalid routing key"])
    }

    @Test func connectionRefusedRetries() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        await h.stop()
        let result = try await notifier.deliverOnThread(Sample.issue())
        #expect(result.isRetry)
        #expect(result.message.contains("connectionFailed"), "\(result.message)")
    }

    // MARK: limits

    @Test func longSummaryIsCutTo1024Scalars() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        var issue = Sample.issue()
        issue.description = String(repeating: "日本👩‍👩‍👧 ", count: 400)
        let result = try await h.notifier().deliverOnThread(issue)
        #expect(result.isDelivered, "the double rejects summaries over 1024: \(h.pagerduty.rejections)")
        let summary = try #require(h.pagerduty.alertEvents.first?.payload?["summary"]?.stringValue)
        #expect(summary.unicodeScalars.count <= 1024)
        #expect(summary.unicodeScalars.count > 1000, "cut, not emptied")
        #expect(summary.hasSuffix("…"))
        #expect(summary.hasPrefix("KubePodCrashLooping: 日本"))
        // The whole description is still in custom_details.
        #expect(h.pagerduty.alertEvents.first?.customDetails?["description"]?.stringValue == issue.description)
    }

    @Test func oversizedEventTrimsCustomDetailsAndSaysSo() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        var issue = Sample.issue()
        let bigLog = String(repeating: "0123456789abcdef\n", count: 40_000)  // 680 KB
        issue.enrichments.append(Enrichment(type: "pod_logs", title: "Previous container logs", blocks: [.markdown(bigLog)]))
        issue.enrichments.append(Enrichment(type: "events", title: "Events", blocks: [.table(.init(headers: ["reason"], rows: [["BackOff"]]))]))
        let result = try await h.notifier().deliverOnThread(issue)
        #expect(result.isDelivered, "\(result) \(h.pagerduty.rejections)")
        let request = try #require(h.pagerduty.requests.first)
        #expect(request.body.count <= 512_000)
        let details = try #require(h.pagerduty.alertEvents.first?.customDetails)
        let note = try #require(details[PagerDutyEvent.trimmedNoteKey]?.stringValue)
        #expect(note.contains("512 KB") && note.contains("enrichment \"Previous container logs\""), "\(note)")
        // Only the big one went; the rest of the details stayed.
        #expect(details["enrichments"]?["Events"]?.stringValue == "reason\nBackOff")
        #expect(details["enrichments"]?["Pod logs"] != nil)
        #expect(details["labels"] != nil)
        #expect(h.logs.all.contains { $0.contains("trimmed") && $0.contains("Previous container logs") })
    }

    @Test func unfittableEventIsPermanent() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        var issue = Sample.issue()
        issue.links = (0..<6000).map { Link(title: "link \($0)", url: "https://example.com/\(String(repeating: "x", count: 80))/\($0)") }
        let result = try await h.notifier().deliverOnThread(issue)
        #expect(result.isPermanent)
        #expect(result.message.contains("512,000"), "\(result.message)")
        #expect(h.pagerduty.requests.isEmpty, "nothing PagerDuty would refuse is sent")
    }

    // MARK: routing keys

    @Test func routingKeyFromALabel() async throws {
        let h = try await Harness.start(routingKeys: [testRoutingKey, labelRoutingKey])
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier(["routing_key_label": "pagerduty_key"])
        var labelled = Sample.issue(fingerprint: "fp-labelled")
        labelled.subject.labels["pagerduty_key"] = labelRoutingKey + "\n"
        try await notifier.expectDelivered(labelled)
        try await notifier.expectDelivered(Sample.issue(fingerprint: "fp-plain"))
        #expect(h.pagerduty.alertEvents.map(\.routingKey) == [labelRoutingKey, testRoutingKey])
        // The key is a secret: not shown in the incident's details with the other labels.
        #expect(h.pagerduty.alertEvents.first?.customDetails?["labels"]?["pagerduty_key"] == nil, "the key label is left out")
    }

    @Test func labelOnlyConfigNeedsTheLabel() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier(["routing_key": .null, "routing_key_label": "pagerduty_key"])
        let result = try await notifier.deliverOnThread(Sample.issue())
        #expect(result.isPermanent)
        #expect(result.message.contains("no label \"pagerduty_key\""), "\(result.message)")
        #expect(h.pagerduty.requests.isEmpty)
    }

    @Test func badLabelKeyIsPermanentAndNotEchoed() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier(["routing_key_label": "pagerduty_key"])
        var issue = Sample.issue()
        let wrong = "SHORTsecretKEY-not-32-chars"
        issue.subject.labels["pagerduty_key"] = wrong
        let result = try await notifier.deliverOnThread(issue)
        #expect(result.isPermanent)
        #expect(result.message.contains("label \"pagerduty_key\" does not hold a 32-character"))
        assertNoSecret(wrong, in: [LeakSurface("result", result.message)] + h.logs.all.map { LeakSurface("log", $0) })
    }

    // MARK: Helm → change events

    @Test func helmReleasesAreChangeEvents() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier()
        let fired = try await notifier.deliverOnThread(Sample.helm())
        #expect(fired.isDelivered, "\(fired) \(h.pagerduty.rejections)")
        #expect(fired.message.contains("change event"))
        try await notifier.expectDelivered(Sample.helm(.resolved))
        #expect(h.pagerduty.requests.map(\.target) == ["/v2/change/enqueue", "/v2/change/enqueue"])
        #expect(h.pagerduty.alertEvents.isEmpty, "no alert, nobody paged")
        let changes = h.pagerduty.changeEvents
        #expect(changes.count == 2)
        #expect(changes.first?.payload?["summary"]?.stringValue == "Helm release shop/cart failed (revision 7): Revision 7 of Helm release shop/cart has status failed.")
        #expect(changes.last?.payload?["summary"]?.stringValue?.hasPrefix("Resolved: Helm release shop/cart failed") == true)
        #expect(changes.last?.payload?["timestamp"]?.stringValue == "2026-01-01T00:10:00.000Z", "when it resolved")
        #expect(changes.first?.customDetails?["labels"]?["version"]?.stringValue == "7")
    }

    @Test func helmAsAlertsWhenChangeEventsAreOff() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        try await h.notifier(["helm_change_events": false]).expectDelivered(Sample.helm())
        #expect(h.pagerduty.alertEvents.first?.action == "trigger")
        #expect(h.pagerduty.alertEvents.first?.dedupKey == "helm-shop-cart-failed")
        #expect(h.pagerduty.changeEvents.isEmpty)
    }

    // MARK: secrets

    /// The routing key is the credential: it must not reach a result or a log line, even
    /// when PagerDuty or a proxy in front of it quotes it back.
    @Test func routingKeyNeverLeaks() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier(["routing_key_label": "pagerduty_key"])
        var labelled = Sample.issue(fingerprint: "fp-label")
        labelled.subject.labels["pagerduty_key"] = labelRoutingKey
        // PagerDuty or a proxy quoting back the key it was sent, for each kind of answer.
        func echo(_ key: String) -> [UInt8] {
            Array(#"{"status":"invalid event","message":"Event object is invalid","errors":["routing key \#(key) is disabled"]}"#.utf8)
        }
        h.pagerduty.inject(.response(.init(status: 400, body: echo(testRoutingKey))))
        h.pagerduty.inject(.response(.init(status: 400, body: echo(labelRoutingKey))))
        h.pagerduty.inject(.response(.init(status: 502, body: Array("<html>upstream rejected routing_key=\(testRoutingKey)</html>".utf8))))
        h.pagerduty.inject(.response(.init(status: 429, body: Array("slow down \(labelRoutingKey)".utf8))))
        var results: [DeliveryResult] = []
        for issue in [Sample.issue(), labelled, Sample.issue(), labelled, Sample.issue(), labelled, Sample.issue(.resolved)] {
            results.append(try await notifier.deliverOnThread(issue))
        }
        #expect(results.filter(\.isDelivered).count == 3, "\(results)")
        #expect(results.filter(\.isPermanent).count == 2)
        #expect(results.contains { $0.message.contains(SecretSafe.placeholder) }, "the echo was redacted, not dropped")
        let surfaces = results.enumerated().map { LeakSurface("result \($0.offset + 1)", $0.element.message + " " + ($0.element.reference ?? "")) }
            + h.logs.all.enumerated().map { LeakSurface("log line \($0.offset + 1)", $0.element) }
        assertNoSecret(testRoutingKey, in: surfaces)
        assertNoSecret(labelRoutingKey, in: surfaces)
    }
}
