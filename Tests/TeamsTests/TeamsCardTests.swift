import CanoSDK
import Foundation
import Testing
import TestSupport
@testable import TeamsDestination

/// The Adaptive Card built for an Issue: envelope, content, limits; and that every kind of
/// card is valid under the official Adaptive Card 1.4 schema.
@Suite struct TeamsCardTests {
    @Test func envelopeIsAnAdaptiveCardMessageVersion14() throws {
        let message = try TeamsCardBuilder.build(Sample.issue())
        let envelope = try IssueCoding.decode(JSONValue.self, from: message.body)
        #expect(envelope["type"]?.stringValue == "message")
        let attachments = try #require(envelope["attachments"]?.arrayValue)
        #expect(attachments.count == 1)
        #expect(attachments[0]["contentType"]?.stringValue == "application/vnd.microsoft.card.adaptive")
        #expect(attachments[0]["contentUrl"] == .null)
        let card = try #require(attachments[0]["content"])
        #expect(card["type"]?.stringValue == "AdaptiveCard")
        #expect(card["version"]?.stringValue == "1.4")
        #expect(card["msteams"]?["width"]?.stringValue == "Full")
        #expect(message.trimmed.isEmpty)
    }

    @Test(arguments: [(Severity.high, "attention"), (.low, "warning"), (.info, "accent"), (.debug, "default")])
    func severityIsShownByStyleAndColour(severity: Severity, style: String) throws {
        let card = try adaptiveCard(of: TeamsCardBuilder.build(Sample.issue(severity: severity)))
        let header = try #require(card["body"]?.arrayValue?.first)
        #expect(header["type"]?.stringValue == "Container")
        #expect(header["style"]?.stringValue == style)
        let title = try #require(header["items"]?.arrayValue?.first)
        #expect(title["text"]?.stringValue == "KubePodCrashLooping")
        #expect(title["color"]?.stringValue == style)
        #expect(title["weight"]?.stringValue == "Bolder")
        #expect(header["items"]?.arrayValue?.last?["text"]?.stringValue?.contains("Firing · \(severity.rawValue) · prod-eu") == true)
    }

    @Test func factsCarryTheIssueContextAndLabels() throws {
        let card = try adaptiveCard(of: TeamsCardBuilder.build(Sample.issue()))
        let facts = factsOf(card)
        #expect(facts["Cluster"] == "prod-eu")
        #expect(facts["Namespace"] == "shop")
        #expect(facts["Subject"] == "Pod cart-7d9f-x2")
        #expect(facts["Container"] == "cart")
        #expect(facts["Severity"] == "HIGH")
        #expect(facts["Started"] == "2026-01-01 00:00:00 UTC")
        #expect(facts["pod"] == "cart-7d9f-x2", "labels are facts too")
        #expect(textsOf(card).contains("Pod shop/cart-7d9f-x2 is crash looping"))
    }

    @Test func tablesBecomeColumnSetRowsAndLogsMonospace() throws {
        let card = try adaptiveCard(of: TeamsCardBuilder.build(Sample.issue()))
        let rows = allElements(card).filter { $0["type"]?.stringValue == "ColumnSet" }
        #expect(rows.count == 3, "a header row and two rows")
        let cells = rows.map { $0["columns"]?.arrayValue?.map { $0["items"]?.arrayValue?.first?["text"]?.stringValue ?? "" } ?? [] }
        #expect(cells == [["Resource", "Request", "Limit"], ["cpu", "100m", "500m"], ["memory", "128Mi", "256Mi"]])
        #expect(rows[0]["columns"]?.arrayValue?.first?["items"]?.arrayValue?.first?["weight"]?.stringValue == "Bolder")
        let log = try #require(allElements(card).first { $0["text"]?.stringValue?.hasPrefix("panic:") == true })
        #expect(log["fontType"]?.stringValue == "Monospace")
        #expect(log["wrap"]?.boolValue == true)
        #expect(textsOf(card).contains("Pod logs"))
        #expect(textsOf(card).contains("Limits look **tight**."))
    }

    @Test func linksBecomeOpenUrlActionsUpToSix() throws {
        var issue = Sample.issue()
        var card = try adaptiveCard(of: TeamsCardBuilder.build(issue))
        var actions = try #require(card["actions"]?.arrayValue)
        #expect(actions.map { $0["type"]?.stringValue } == ["Action.OpenUrl", "Action.OpenUrl"])
        #expect(actions.map { $0["url"]?.stringValue } == ["https://runbooks.example/crashloop", "https://grafana.example/d/pods"])
        #expect(actions.map { $0["title"]?.stringValue } == ["Runbook", "Dashboard"])

        issue.links = (1...9).map { Link(title: "L\($0)", url: "https://example.com/\($0)") } + [Link(title: "no", url: "javascript:alert(1)")]
        card = try adaptiveCard(of: TeamsCardBuilder.build(issue))
        actions = try #require(card["actions"]?.arrayValue)
        #expect(actions.count == TeamsCardBuilder.maxActions)
        let more = try #require(textsOf(card).first { $0.hasPrefix("More links:") })
        #expect(more.contains("[L7](https://example.com/7)"))
        #expect(more.contains("[Dashboard](https://grafana.example/d/pods)"))
        #expect(!more.contains("javascript:"), "only http(s) links")
    }

    /// A resolve cannot edit the firing card (no message id): it posts a short card that
    /// names the original by title and times.
    @Test func resolvedCardNamesTheOriginal() throws {
        let posted = Sample.start.addingTimeInterval(2)
        let card = try adaptiveCard(of: TeamsCardBuilder.build(Sample.issue(.resolved), postedAt: posted))
        let header = try #require(card["body"]?.arrayValue?.first)
        #expect(header["style"]?.stringValue == "good")
        #expect(header["items"]?.arrayValue?.first?["text"]?.stringValue == "Resolved: KubePodCrashLooping")
        let line = try #require(textsOf(card).first { $0.hasPrefix("Resolves ") })
        #expect(line == "Resolves **KubePodCrashLooping**, which fired at 2026-01-01 00:00:00 UTC (its card was posted at 2026-01-01 00:00:02 UTC).")
        let facts = factsOf(card)
        #expect(facts["Fired"] == "2026-01-01 00:00:00 UTC")
        #expect(facts["Resolved"] == "2026-01-01 00:05:00 UTC")
        #expect(facts["Duration"] == "5m 0s")
        #expect(facts["Subject"] == "Pod cart-7d9f-x2")
        #expect(!textsOf(card).contains("Pod logs"), "short: no enrichments")
        #expect(card["actions"]?.arrayValue?.first?["url"]?.stringValue == "https://runbooks.example/crashloop")
    }

    @Test func resolvedCardWithoutReferenceStillNamesWhenItFired() throws {
        let card = try adaptiveCard(of: TeamsCardBuilder.build(Sample.issue(.resolved)))
        #expect(textsOf(card).contains("Resolves **KubePodCrashLooping**, which fired at 2026-01-01 00:00:00 UTC."))
    }

    /// Robusta #841: an emoji in the title produced a 400. The title travels as UTF-8, and
    /// a long one is cut between Characters, never inside a ZWJ sequence or a flag.
    @Test func emojiTitlesSurviveAndAreCutWhole() throws {
        let title = "🔥 KubePodCrashLooping 👩‍👩‍👧 🇩🇪 naïve"
        let card = try adaptiveCard(of: TeamsCardBuilder.build(Sample.issue(title: title)))
        #expect(card["body"]?.arrayValue?.first?["items"]?.arrayValue?.first?["text"]?.stringValue == title)

        let family = "👩‍👩‍👧"  // 5 scalars
        let long = String(repeating: "a", count: TeamsCardBuilder.maxTitleScalars - 3) + family + " tail"
        let cut = try #require(adaptiveCard(of: TeamsCardBuilder.build(Sample.issue(title: long)))["body"]?.arrayValue?.first?["items"]?.arrayValue?.first?["text"]?.stringValue)
        #expect(cut.unicodeScalars.count <= TeamsCardBuilder.maxTitleScalars)
        #expect(cut.hasSuffix("a…"), "the family emoji is dropped whole, not split: \(cut.suffix(8))")
    }

    /// Teams refuses bodies over ≈28 KB; tables and logs are trimmed first, the card says so.
    @Test func oversizedIssueIsTrimmedToFitAndSaysSo() throws {
        var issue = Sample.issue()
        let bigLog = (1...4000).map { "2026-01-01T00:00:00Z line \($0): connection refused to db:5432 ünïcødé ✓" }.joined(separator: "\n")
        let rows = (1...2000).map { ["pod-\($0)", "Running", "\($0)"] }
        issue.enrichments = [
            Enrichment(type: "pod_logs", title: "Pod logs", blocks: [.file(Block.File(name: "x.log", mimeType: "text/plain", bytes: Array(bigLog.utf8)))]),
            Enrichment(type: "pods", title: "Pods", blocks: [.table(Block.Table(headers: ["Pod", "Phase", "Restarts"], rows: rows))]),
        ]
        let message = try TeamsCardBuilder.build(issue)
        #expect(message.body.count <= TeamsCardBuilder.budgetBytes)
        #expect(message.body.count > TeamsCardBuilder.budgetBytes - 4096, "trimmed to fit, not emptied: \(message.body.count)")
        #expect(message.trimmed.contains("rows of table in \"Pods\""))
        #expect(message.trimmed.contains("log text in \"Pod logs\""))
        #expect(!message.trimmed.contains("labels"), "tables and logs go first")
        let card = try adaptiveCard(of: message)
        #expect(factsOf(card)["pod"] == "cart-7d9f-x2")
        let texts = textsOf(card)
        #expect(texts.contains { $0.hasPrefix("Showing ") && $0.hasSuffix(" of 2000 rows.") })
        // The log keeps its end (where the error is), the marker says its start was cut.
        #expect(texts.contains { $0.hasPrefix(TeamsCardBuilder.trimMarker) && $0.hasSuffix("line 4000: connection refused to db:5432 ünïcødé ✓") })
        let note = try #require(texts.first { $0.hasPrefix("⚠️ Trimmed to fit") })
        #expect(note.contains("Pods") && note.contains("Pod logs"))
    }

    @Test func absurdTitleAndSubjectFailPermanentlyNotTrap() {
        var issue = Sample.issue()
        issue.subject.name = String(repeating: "x", count: 40_000)
        #expect(throws: PluginError.self) { try TeamsCardBuilder.build(issue) }
    }

    @Test func nonTextFilesAreNamedNotDumped() throws {
        var issue = Sample.issue()
        issue.enrichments = [Enrichment(type: "heap", title: "Heap", blocks: [.file(Block.File(name: "heap.bin", mimeType: "application/octet-stream", bytes: [0, 1, 2, 255]))])]
        let card = try adaptiveCard(of: TeamsCardBuilder.build(issue))
        #expect(textsOf(card).contains("📎 heap.bin (application/octet-stream, 4 bytes; not shown in Teams)"))
    }

    /// Every kind of card this plugin sends validates against the official Adaptive Card
    /// 1.4 schema: a card Power Automate accepts with 202 but cannot render fails silently.
    @Test func everyCardKindIsValidUnderTheAdaptiveCardSchema() async throws {
        var issues = Severity.allCases.map { Sample.issue(severity: $0) }
        issues.append(Sample.issue(.resolved))
        issues.append(Sample.issue(title: "🔥 KubePodCrashLooping 👩‍👩‍👧 🇩🇪"))
        var rich = Sample.issue()
        rich.links = (1...9).map { Link(title: "L\($0)", url: "https://example.com/\($0)") }
        rich.enrichments.append(Enrichment(type: "misc", title: nil, blocks: [
            .header("Events"), .list(["a", "b"]), .divider, .json(.object(["k": .array([.number(1), .null])])),
            .table(Block.Table(headers: ["A"], rows: [["1", "extra"], []])),
            .file(Block.File(name: "b.bin", mimeType: "image/png", bytes: [1])),
        ]))
        issues.append(rich)
        var big = Sample.issue()
        big.enrichments = [Enrichment(type: "pod_logs", blocks: [.file(Block.File(name: "x.log", mimeType: "text/plain", bytes: Array(String(repeating: "log line\n", count: 9000).utf8))),
                                                                  .table(Block.Table(headers: ["n"], rows: (1...900).map { ["\($0)"] }))])]
        issues.append(big)
        var bodies: [[UInt8]] = []
        for issue in issues { bodies.append(try TeamsCardBuilder.build(issue, postedAt: Sample.start).body) }
        try await AdaptiveCardSchema.validate(messages: bodies)
    }

    /// The schema check can fail: a misspelt element type and a wrong property value are caught.
    @Test func schemaValidationRejectsABrokenCard() async throws {
        let broken = #"{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlok","text":"x"}]}}]}"#
        let badValue = #"{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","text":"x","fontType":"Mono"}]}}]}"#
        for body in [broken, badValue] {
            await #expect(throws: AdaptiveCardSchema.Violation.self) { try await AdaptiveCardSchema.validate(messages: [Array(body.utf8)]) }
        }
    }
}
