#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Testing
import TestSupport
@testable import SlackDestination

@Suite("Slack rendering")
struct SlackRenderingTests {
    static let allKinds: [Enrichment] = [
        Enrichment(type: "notes", title: "Notes", blocks: [
            .header("Why it matters"),
            .markdown("Payments **cannot** settle while `worker` restarts & queues grow > 10k. See [the dashboard](https://grafana.example.com/d/x?a=1&b=2)."),
            .list(["restart count: 7", "last exit: OOMKilled <137>"]),
            .divider,
            .links([Link(title: "Logs", url: "https://logs.example.com/q?pod=worker"), Link(title: "ftp mirror", url: "ftp://mirror.example.com/x")]),
        ]),
        Enrichment(type: "resources", title: "Resources", blocks: [
            .table(Block.Table(headers: ["container", "request", "limit", "usage"], rows: [["worker", "256Mi", "512Mi", "530Mi"], ["sidecar", "32Mi", "64Mi", ""]])),
            .json(.object(["reason": .string("OOMKilled"), "exitCode": .number(137)])),
        ]),
        Enrichment(type: "pod_logs", title: "Pod logs", blocks: [
            .file(Block.File(name: "worker.log", mimeType: "text/plain", bytes: Array("line 1\nline 2 <oom>\n".utf8))),
        ]),
    ]

    @Test("every block kind renders and the double accepts the message")
    func everyBlockKind() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let result = await h.deliver(try h.notifier(), makeIssue(enrichments: Self.allKinds))
        #expect(result.isDelivered, "\(result)")

        let posts = h.slack.calls("chat.postMessage")
        #expect(posts.count == 1)
        #expect(posts.allSatisfy { $0.error == nil })
        let root = try #require(h.slack.messages.first)
        let types = root.attachmentBlocks.compactMap(\.type)
        #expect(types.first == "header")
        #expect(types.dropFirst().first == "context")
        for kind in ["header", "context", "section", "divider", "actions", "table"] { #expect(types.contains(kind), "missing \(kind) in \(types)") }
        #expect(types.count <= SlackLimits.blocksPerMessage)

        let text = root.allText
        // markdown → mrkdwn: bold, code, link, and &, <, > escaped.
        #expect(text.contains("Payments *cannot* settle while `worker` restarts &amp; queues grow &gt; 10k."))
        #expect(text.contains("<https://grafana.example.com/d/x?a=1&amp;b=2|the dashboard>"))
        #expect(text.contains("• last exit: OOMKilled &lt;137&gt;"))
        // json → a code block.
        #expect(text.contains("```\n{\n  \"exitCode\" : 137,\n  \"reason\" : \"OOMKilled\"\n}\n```"))
        // links → buttons; a non-http link stays as text.
        let buttons = root.attachmentBlocks.filter { $0.type == "actions" }.flatMap { $0["elements"]?.arrayValue ?? [] }
        let urls: [String] = buttons.compactMap { $0["url"]?.stringValue }
        #expect(urls.contains("https://logs.example.com/q?pod=worker"))
        #expect(urls.contains("https://runbooks.example.com/oom?team=a&env=prod"))
        #expect(text.contains("ftp://mirror.example.com/x"))
        // table → a native table block with the header row.
        let table = try #require(root.attachmentBlocks.first { $0.type == "table" })
        let rows = table["rows"]?.arrayValue ?? []
        #expect(rows.count == 3)
        #expect(rows.first?.arrayValue?.compactMap { $0["text"]?.stringValue } == ["container", "request", "limit", "usage"])
        // file → uploaded into the thread of the root message.
        let file = try #require(h.slack.files.first)
        #expect(file.filename == "worker.log")
        #expect(file.bytes == Array("line 1\nline 2 <oom>\n".utf8))
        #expect(file.channel == "C0ALERTS01")
        #expect(file.threadTS == root.ts)
        #expect(text.contains("*worker.log*"))
        // fallback text is always set.
        #expect(root.text == "Firing · HIGH: Pod payments/worker-7f9 OOMKilled (prod-eu / payments / Pod worker-7f9)")
    }

    @Test("header, colour and context for every severity and both statuses", arguments: Severity.allCases, IssueStatus.allCases)
    func severityAndStatus(severity: Severity, status: IssueStatus) async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let issue = makeIssue(severity: severity, status: status, endsAt: status == .resolved ? Date(timeIntervalSince1970: 1_800_000_000) : nil)
        let result = await h.deliver(try h.notifier(), issue)
        #expect(result.isDelivered, "\(result)")
        let root = try #require(h.slack.messages.first)

        let expected: [Severity: String] = [.high: "#E01E5A", .low: "#F2952F", .info: "#1D9BD1", .debug: "#9E9E9E"]
        #expect(root.color == (status == .resolved ? "#2EB67D" : expected[severity]))
        let header = try #require(root.attachmentBlocks.first)
        #expect(header.type == "header")
        let headerText = header["text"]?["text"]?.stringValue ?? ""
        #expect(headerText.contains("\(status == .resolved ? "Resolved" : "Firing") · \(severity.rawValue) — Pod payments/worker-7f9 OOMKilled"))
        let context = root.attachmentBlocks[1]["elements"]?.arrayValue?.compactMap { $0["text"]?.stringValue } ?? []
        #expect(context.contains("*Cluster:* prod-eu"))
        #expect(context.contains("*Namespace:* payments"))
        #expect(context.contains("*Pod:* worker-7f9"))
        #expect(context.contains("*Source:* prometheus"))
        if status == .resolved {
            #expect(root.allText.contains("*Duration*\n16m 40s"))
        }
        #expect(!(root.text ?? "").isEmpty)
    }

    @Test("markdown conversion escapes Slack's control characters everywhere")
    func mrkdwnEscaping() {
        #expect(Mrkdwn.escape("a & b < c > d") == "a &amp; b &lt; c &gt; d")
        #expect(Mrkdwn.fromMarkdown("# Title\n- item *one*\n__bold__ ~~gone~~ snake_case_name") == "*Title*\n• item _one_\n*bold* ~gone~ snake_case_name")
        #expect(Mrkdwn.fromMarkdown("```yaml\nx: <y> & z\n```\n<https://a.example/?q=1&r=2>") == "```\nx: &lt;y&gt; &amp; z\n```\n<https://a.example/?q=1&amp;r=2>")
        #expect(Mrkdwn.fromMarkdown("[a|b](https://x.example/p|q)") == "<https://x.example/p%7Cq|a|b>")
        #expect(Mrkdwn.fromMarkdown("<script> & `a<b`") == "&lt;script&gt; &amp; `a&lt;b`")
    }
}
