#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Testing
import TestSupport
@testable import SlackDestination

/// What people read, beyond what Slack accepts (issue 15, "Slack messages read right").
/// Every message here also passes the double's Block Kit validation.
@Suite("Slack messages read right")
struct SlackReadabilityTests {
    /// Every text object in the blocks, in order, with its type (`mrkdwn` / `plain_text`).
    static func textObjects(_ blocks: [JSONValue]) -> [(type: String, text: String)] {
        func walk(_ v: JSONValue) -> [(String, String)] {
            switch v {
            case .object(let o):
                if let type = o["type"]?.stringValue, type == "mrkdwn" || type == "plain_text", let text = o["text"]?.stringValue { return [(type, text)] }
                return o.sorted { $0.key < $1.key }.flatMap { walk($0.value) }
            case .array(let a): return a.flatMap(walk)
            default: return []
            }
        }
        return blocks.flatMap(walk).map { (type: $0.0, text: $0.1) }
    }

    static func contextTexts(_ message: SlackDoubleMessage, at index: Int) -> [(type: String, text: String)] {
        textObjects(message.attachmentBlocks[index]["elements"]?.arrayValue ?? [])
    }

    static func buttons(_ message: SlackDoubleMessage) -> [(title: String, url: String)] {
        message.attachmentBlocks.filter { $0.type == "actions" }.flatMap { $0["elements"]?.arrayValue ?? [] }.compactMap { b in
            guard let url = b["url"]?.stringValue else { return nil }
            return (b["text"]?["text"]?.stringValue ?? "", url)
        }
    }

    static func expectAllCallsValid(_ h: Harness) {
        for call in h.slack.calls { #expect(call.error == nil, "\(call.method): \(String(describing: call.error))") }
    }

    // 1
    @Test("a Slack-style <url|label> link in an annotation stays a working link with its label")
    func slackStyleLink() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let issue = makeIssue(description: "Open <https://dash.example/d/x?a=1&b=2|dashboard> & compare <b> <https://x.example/p?q=1&amp;r=2|already escaped>")
        #expect(await h.deliver(try h.notifier(), issue).isDelivered)
        Self.expectAllCallsValid(h)
        let text = try #require(h.slack.messages.first).allText
        #expect(text.contains("Open <https://dash.example/d/x?a=1&amp;b=2|dashboard> &amp; compare &lt;b&gt; <https://x.example/p?q=1&amp;r=2|already escaped>"), "\(text)")
        #expect(!text.contains("%7Cdashboard"))
        #expect(Mrkdwn.fromMarkdown("<mailto:ops@example.com|mail ops>") == "<mailto:ops@example.com|mail ops>")
        #expect(Mrkdwn.fromMarkdown("<ftp://x|y>") == "&lt;ftp://x|y&gt;")
    }

    // 2
    @Test("long URLs become buttons when they fit; longer ones a shortened button and a note, never text split across sections")
    func longURLs() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let query = "g0.expr=" + String(repeating: "sum%28rate%28container_cpu_usage_seconds_total%29%29%2B", count: 80)
        let generator = "https://prometheus.example/graph?" + query
        #expect(generator.utf16.count > 4000)
        let fits = "https://grafana.example/d/abc?" + String(repeating: "v", count: 3000 - 30)
        #expect(fits.utf16.count == 3000)
        let silence = "http://am.example:9093/#/silences/new?filter=" + String(repeating: "%7Ba%3D%22b%22%7D", count: 200)
        let issue = makeIssue(description: "See [the graph](\(generator)) and <\(generator)|the same graph>.",
                              links: [Link(title: "Prometheus query", url: generator), Link(title: "Dashboard", url: fits)],
                              enrichments: [Enrichment(type: "alert_labels", title: "Alert", blocks: [.links([Link(title: "Silence", url: silence)])])])
        #expect(await h.deliver(try h.notifier(), issue).isDelivered)
        Self.expectAllCallsValid(h)
        #expect(h.slack.messages.count == 1)
        let root = try #require(h.slack.messages.first)
        let buttons = Self.buttons(root)
        #expect(buttons.allSatisfy { $0.url.utf16.count <= SlackLimits.buttonURL })
        #expect(buttons.contains { $0.title == "Dashboard" && $0.url == fits })
        #expect(buttons.contains { $0.title == "Prometheus query" && $0.url == "https://prometheus.example/graph" })
        #expect(buttons.contains { $0.title == "Silence" && $0.url == "http://am.example:9093/" })
        // No part of a long URL is dumped as text; a note says what happened instead.
        let text = root.allText
        #expect(!text.contains("container_cpu_usage"))
        #expect(!text.contains("%7Ba%3D"))
        #expect(text.contains("*Prometheus query*: the full link is \(generator.utf16.count) characters"))
        #expect(text.contains("*Silence*: the full link is \(silence.utf16.count) characters"))
        // A long link inside text: the same rule, so the section is never split through it.
        #expect(text.contains("See <https://prometheus.example/graph|the graph> _(the full link is \(generator.utf16.count) characters"))
        #expect(text.contains("and <https://prometheus.example/graph|the same graph> _(the full link"))
    }

    // 3
    @Test("thread replies carry their own fallback text, not the root's Firing · HIGH")
    func replyFallback() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let t = Block.table(Block.Table(headers: ["k", "v"], rows: [["a", "1"]]))
        let notifier = try h.notifier()
        #expect(await h.deliver(notifier, makeIssue(enrichments: [Enrichment(type: "x", title: "X", blocks: [t, t])])).isDelivered)
        h.clock.advance(60)
        #expect(await h.deliver(notifier, makeIssue(), key: "repeat").isDelivered)
        Self.expectAllCallsValid(h)
        let messages = h.slack.messages
        #expect(messages.count == 3)
        let root = messages[0]
        #expect(root.text == "Firing · HIGH: Pod payments/worker-7f9 OOMKilled (prod-eu / payments / Pod worker-7f9)")
        for reply in messages.dropFirst() {
            #expect(reply.threadTS == root.ts)
            #expect(!(reply.text ?? "").hasPrefix("Firing"), "\(reply.text ?? "")")
            #expect(reply.attachments?.first?["fallback"]?.stringValue == reply.text)
        }
        #expect(messages[1].text == "Continued (2/2): Pod payments/worker-7f9 OOMKilled (prod-eu / payments / Pod worker-7f9)")
        #expect(messages[2].text == "Still firing: Pod payments/worker-7f9 OOMKilled (prod-eu / payments / Pod worker-7f9)")
    }

    // 4
    @Test("a section heading stays with its table when the table moves to the next message")
    func headingStaysWithTable() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        func table(_ k: String) -> Block { .table(Block.Table(headers: [k, "v"], rows: [["a", "1"]])) }
        let issue = makeIssue(enrichments: [
            Enrichment(type: "a", title: "Resources", blocks: [table("container")]),
            Enrichment(type: "b", title: "Quota", blocks: [table("quota")]),
            Enrichment(type: "alert_labels", title: "Alert", blocks: [table("Label"), table("Annotation")]),
        ])
        #expect(await h.deliver(try h.notifier(), issue).isDelivered)
        Self.expectAllCallsValid(h)
        let messages = h.slack.messages
        try #require(messages.count == 4)
        for message in messages {
            let blocks = message.attachmentBlocks
            // No message ends on a heading, and every table has its heading right before it.
            let lastText = blocks.last(where: { $0.type != "context" })?["text"]?["text"]?.stringValue ?? ""
            let endsOnHeading = lastText.hasPrefix("*")
            #expect(!endsOnHeading, "message ends on a heading: \(blocks)")
            for (i, block) in blocks.enumerated() where block.type == "table" {
                let heading = i > 0 ? blocks[i - 1]["text"]?["text"]?.stringValue : nil
                #expect(heading?.hasPrefix("*") == true, "table without its heading in \(blocks)")
            }
        }
        #expect(messages[1].attachmentBlocks.first?["text"]?["text"]?.stringValue == "*Quota*")
        #expect(messages[3].attachmentBlocks.first?["text"]?["text"]?.stringValue == "*Alert* (continued)")
    }

    // 5
    @Test("the resolved message keeps the labels table and shows the start time once")
    func resolvedKeepsLabels() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let labels = ["alertname": "KubePodOOMKilled", "namespace": "payments", "pod": "worker-7f9"]
        let labelsTable = Enrichment(type: "alert_labels", title: "Alert", blocks: [
            .table(Block.Table(headers: ["Label", "Value"], rows: labels.sorted { $0.key < $1.key }.map { [$0.key, $0.value] })),
        ])
        let notifier = try h.notifier()
        let fired = await h.deliver(notifier, makeIssue(labels: labels, enrichments: [labelsTable]))
        // Resolved Issues are not enriched by default: the update must not lose the labels.
        let resolved = makeIssue(status: .resolved, labels: labels, endsAt: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(await h.deliver(notifier, resolved, reference: fired.reference).isDelivered)
        Self.expectAllCallsValid(h)
        let root = try #require(h.slack.messages.first)
        #expect(root.edits == 1)
        let table = try #require(root.attachmentBlocks.first { $0.type == "table" })
        let rows = table["rows"]?.arrayValue?.map { $0.arrayValue?.compactMap { $0["text"]?.stringValue } ?? [] } ?? []
        #expect(rows == [["Label", "Value"], ["alertname", "KubePodOOMKilled"], ["namespace", "payments"], ["pod", "worker-7f9"]])
        #expect(root.allText.components(separatedBy: "<!date^1799999000^").count - 1 == 1, "\(root.allText)")

        // With the labels enrichment present, the table is not shown twice.
        let again = MessageRenderer().render(makeIssue(status: .resolved, labels: labels, enrichments: [labelsTable]), now: Date())
        #expect(again.body.filter(\.isTable).count == 1)
    }

    @Test("a namespace subject is named once in the context line and the fallback")
    func namespaceSubject() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        var issue = makeIssue()
        issue.subject = Subject(kind: "Namespace", name: "payments", namespace: "payments")
        #expect(await h.deliver(try h.notifier(), issue).isDelivered)
        let root = try #require(h.slack.messages.first)
        let context = Self.contextTexts(root, at: 1).map(\.text)
        #expect(context.filter { $0.contains("payments") } == ["*Namespace:* payments"], "\(context)")
        #expect(root.text == "Firing · HIGH: Pod payments/worker-7f9 OOMKilled (prod-eu / payments)")
    }

    // 6
    @Test("label values with *, _, ~ or a backtick are shown verbatim")
    func verbatimLabelValues() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        var issue = makeIssue()
        issue.subject.container = "*main*"
        issue.subject.node = "node_a_b ~x~ `y`"
        issue.subject.name = "worker<1>&"
        #expect(await h.deliver(try h.notifier(), issue).isDelivered)
        Self.expectAllCallsValid(h)
        let context = Self.contextTexts(try #require(h.slack.messages.first), at: 1)
        // mrkdwn can't escape formatting, so the value goes out as plain text, exactly.
        #expect(context.contains { $0.type == "plain_text" && $0.text == "Container: *main*" }, "\(context)")
        #expect(context.contains { $0.type == "plain_text" && $0.text == "Node: node_a_b ~x~ `y`" })
        // Values without formatting characters keep the bold label (and are escaped).
        #expect(context.contains { $0.type == "mrkdwn" && $0.text == "*Pod:* worker&lt;1&gt;&amp;" })
        #expect(!context.contains { $0.type == "mrkdwn" && ($0.text.contains("*main*") || $0.text.contains("~x~")) })
    }

    // 7
    @Test("a channel label naming a missing channel posts to the default channel and says so", arguments: [
        ("#no-such-team", "#no-such-team", "was not found"),
        ("not-joined", "#not-joined", "not_in_channel"),
        ("C0MISSING9", "C0MISSING9", "was not found"),
        ("team-{{labels.team}}", "team-{{labels.team}}", "needs labels.team"),
    ])
    func missingChannelFallsBack(label: String, named: String, why: String) async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let result = await h.deliver(try h.notifier(), makeIssue(labels: ["slack_channel": label]))
        #expect(result.isDelivered, "\(result)")
        let posted = h.slack.messages.filter { $0.threadTS == nil }
        #expect(posted.count == 1)
        let root = try #require(posted.first)
        #expect(root.channel == "C0ALERTS01")
        let notice = Self.contextTexts(root, at: 1)
        #expect(notice.count == 1)
        #expect(notice.first?.type == "plain_text")
        let text = notice.first?.text ?? ""
        #expect(text.contains("The routed channel \(named) (from label slack_channel)"), "\(text)")
        #expect(text.contains(why), "\(text)")
        #expect(text.contains("posted to the default channel"))
    }

    @Test("a retry after the root went out renders the notice again, so the thread replies line up")
    func noticeSurvivesRetry() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        // 60 headers: the split into messages is by block count, so one block more or less
        // in the root moves every later boundary.
        let headers = (1...60).map { Block.header("h\($0)") }
        let issue = makeIssue(labels: ["slack_channel": "#gone"], enrichments: [Enrichment(type: "x", title: "X", blocks: headers)])
        // One message per 10 s: the reply after the root can't wait that long, so the
        // attempt ends after the root and a second one finishes the plan.
        let notifier = try h.notifier(["pace_per_channel": .number(0.1)])
        let first = await h.deliver(notifier, issue)
        #expect(first.retryAfter != nil, "\(first)")
        #expect(h.slack.messages.count == 1)
        h.clock.advance(11)
        let second = await h.deliver(notifier, issue)
        #expect(second.isDelivered, "\(second)")
        Self.expectAllCallsValid(h)
        let texts = h.slack.messages.flatMap { $0.attachmentBlocks.filter { $0.type == "header" }.compactMap { $0["text"]?["text"]?.stringValue } }
        #expect(texts.filter { $0.hasPrefix("h") } == (1...60).map { "h\($0)" }, "\(texts)")
    }

    // 8
    @Test("the Alertmanager button opens the alert in Alertmanager, filtered by its labels")
    func alertmanagerButton() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let am = Link(title: "Alertmanager", url: "http://am.example:9093/")
        let labels = ["alertname": "KubePodOOMKilled", "namespace": "payments", "pod": "worker \"7f9\""]
        #expect(await h.deliver(try h.notifier(), makeIssue(labels: labels, links: [am])).isDelivered)
        Self.expectAllCallsValid(h)
        let buttons = Self.buttons(try #require(h.slack.messages.first))
        #expect(buttons.map(\.url) == ["http://am.example:9093/#/alerts?filter=%7Balertname%3D%22KubePodOOMKilled%22%2Cnamespace%3D%22payments%22%2Cpod%3D%22worker%20%5C%227f9%5C%22%22%7D"])
        // No labels to filter on: no home-page button.
        let rendered = MessageRenderer().render(makeIssue(links: [am]), now: Date())
        #expect(!rendered.lead.contains { $0.json.type == "actions" })
    }

    // 9
    @Test("uploaded files are named after the Issue and the block, sanitised and bounded")
    func fileNames() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let rows = (1...300).map { ["pod-\($0)", "Running"] }
        let big = Block.table(Block.Table(headers: ["pod", "phase"], rows: rows))
        var issue = makeIssue(title: "KubePodOOMKilled", enrichments: [
            Enrichment(type: "pods", title: "Pods in namespace", blocks: [big]),
            Enrichment(type: "alert_labels", title: "Alert", blocks: [.table(Block.Table(headers: ["Label", "Value"], rows: rows)), .table(Block.Table(headers: ["Annotation", "Value"], rows: rows))]),
            Enrichment(type: "pods", title: "Pods in namespace", blocks: [big]),
        ])
        #expect(await h.deliver(try h.notifier(), issue).isDelivered)
        Self.expectAllCallsValid(h)
        #expect(h.slack.files.map(\.filename) == [
            "kubepodoomkilled-worker-7f9-pods-in-namespace.csv",
            "kubepodoomkilled-worker-7f9-alert-label.csv",
            "kubepodoomkilled-worker-7f9-alert-annotation.csv",
            "kubepodoomkilled-worker-7f9-pods-in-namespace-2.csv",
        ])

        issue.title = "Ünïcode / " + String(repeating: "VeryLongAlertName", count: 20)
        issue.enrichments = [Enrichment(type: "pods", title: "../../etc/passwd", blocks: [big])]
        let rendered = MessageRenderer().render(issue, now: Date())
        let name = try #require(rendered.files.first?.name)
        #expect(name.utf8.count <= MessageRenderer.fileNameLimit + 4)
        #expect(name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") })
        #expect(name.hasPrefix("n-code-verylongalertname"))
        #expect(name.hasSuffix(".csv"))
    }
}
