#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Testing
import TestSupport
@testable import SlackDestination

@Suite("Slack limits")
struct SlackLimitTests {
    @Test("65 enrichment blocks: ≤50 per message, the rest in thread replies, none dropped")
    func manyBlocks() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let blocks = (1...65).map { Block.markdown("finding number \($0)") }
        let issue = makeIssue(enrichments: [Enrichment(type: "findings", title: "Findings", blocks: blocks)])
        let result = await h.deliver(try h.notifier(), issue)
        #expect(result.isDelivered, "\(result)")

        let messages = h.slack.messages
        #expect(messages.count == 2)
        #expect(h.slack.calls("chat.postMessage").allSatisfy { $0.error == nil })
        let root = messages[0]
        #expect(root.threadTS == nil)
        #expect(root.attachmentBlocks.count == SlackLimits.blocksPerMessage)
        #expect(root.allText.contains("Continued in the thread"))
        #expect(messages[1].threadTS == root.ts)
        #expect(messages[1].attachmentBlocks.count <= SlackLimits.blocksPerMessage)
        let all = messages.map(\.allText).joined(separator: "\n")
        for n in 1...65 { #expect(all.contains("finding number \(n)\n") || all.hasSuffix("finding number \(n)")) }
        // The pacer spaced the two posts to one channel by a second.
        #expect(h.clock.sleeps == [1.0])
    }

    @Test("a 10 MB log goes through the three-step upload into the thread")
    func tenMegabyteLog() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        var log: [UInt8] = []
        log.reserveCapacity(10 << 20)
        var n = 0
        while log.count < 10 << 20 {
            log += Array("2026-11-26T16:00:00Z worker line \(n) allocating buffer for batch <\(n % 97)> & retrying\n".utf8)
            n += 1
        }
        let issue = makeIssue(enrichments: [Enrichment(type: "pod_logs", title: "Pod logs", blocks: [.file(Block.File(name: "worker.log", mimeType: "text/plain", bytes: log))])])
        let result = await h.deliver(try h.notifier(), issue)
        #expect(result.isDelivered, "\(result)")

        let ticket = try #require(h.slack.calls("files.getUploadURLExternal").first)
        #expect(ticket.contentType.hasPrefix("application/x-www-form-urlencoded"))
        #expect(ticket.fields["length"]?.stringValue == String(log.count))
        #expect(h.slack.calls("upload").first?.bodyBytes == log.count)
        let file = try #require(h.slack.files.first)
        #expect(file.bytes == log)
        #expect(file.threadTS == h.slack.messages.first?.ts)
        #expect(h.slack.messages.first?.allText.contains("10.0 MiB") == true)
    }

    @Test("a 300-row table becomes a preview plus a CSV file in the thread")
    func bigTable() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let rows = (1...300).map { ["pod-\($0)", "Running", "\($0 % 5)", "node-\($0 % 7)"] }
        let issue = makeIssue(enrichments: [Enrichment(type: "pods", title: "Pods", blocks: [.table(Block.Table(headers: ["pod", "phase", "restarts", "node"], rows: rows))])])
        let result = await h.deliver(try h.notifier(), issue)
        #expect(result.isDelivered, "\(result)")

        let root = try #require(h.slack.messages.first)
        #expect(!root.attachmentBlocks.contains { $0.type == "table" })
        #expect(root.allText.contains("Showing 15 of 300 rows"))
        let file = try #require(h.slack.files.first)
        #expect(file.filename.hasSuffix(".csv"))
        let lines = String(decoding: file.bytes, as: UTF8.self).split(separator: "\r\n")
        #expect(lines.count == 301)
        #expect(lines.first == "pod,phase,restarts,node")
        #expect(lines.last == "pod-300,Running,0,node-6")
    }

    @Test("a 99-row table is a native table block; 100 data rows is not")
    func tableBoundary() {
        let renderer = MessageRenderer()
        var files: [FileUpload] = []
        let fits = renderer.tableBlocks(Block.Table(headers: ["a"], rows: (1...99).map { ["\($0)"] }), base: "t", title: "T", files: &files)
        #expect(fits.count == 1 && fits[0].isTable)
        let over = renderer.tableBlocks(Block.Table(headers: ["a"], rows: (1...100).map { ["\($0)"] }), base: "t", title: "T", files: &files)
        #expect(!over.contains { $0.isTable })
        let wide = renderer.tableBlocks(Block.Table(headers: (1...21).map { "c\($0)" }, rows: [(1...21).map { "\($0)" }]), base: "t", title: "T", files: &files)
        #expect(!wide.contains { $0.isTable })
    }

    @Test("a 5000-character description is split into sections, nothing lost")
    func longDescription() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let words = (0..<1000).map { "w\($0 % 10)" + String(repeating: "x", count: 2) }
        var description = ""
        for (i, word) in words.enumerated() { description += word + (i % 20 == 19 ? "\n" : " ") }
        #expect(description.count == 5000)
        let result = await h.deliver(try h.notifier(), makeIssue(description: description))
        #expect(result.isDelivered, "\(result)")
        let root = try #require(h.slack.messages.first)
        let sections = root.attachmentBlocks.filter { $0.type == "section" }.compactMap { $0["text"]?["text"]?.stringValue }
        #expect(sections.count >= 2)
        #expect(sections.allSatisfy { $0.utf16.count <= SlackLimits.sectionText })
        let joined = sections.joined(separator: "\n")
        #expect(joined.replacing("\n", with: " ").contains(description.replacing("\n", with: " ").trimmingTrailingSpaces()))
    }

    @Test("two tables in one enrichment go to separate messages (one table per message)")
    func twoTables() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let t = Block.table(Block.Table(headers: ["k", "v"], rows: [["a", "1"]]))
        let result = await h.deliver(try h.notifier(), makeIssue(enrichments: [Enrichment(type: "x", title: "X", blocks: [t, t])]))
        #expect(result.isDelivered, "\(result)")
        #expect(h.slack.messages.count == 2)
        #expect(h.slack.messages.allSatisfy { m in m.attachmentBlocks.filter { $0.type == "table" }.count == 1 })
    }

    @Test("truncation keeps code fences balanced and says it truncated")
    func truncation() {
        let code = "```\n" + String(repeating: "log line that is long enough\n", count: 300) + "```"
        let cut = SlackLimits.truncate(code, to: 3000)
        #expect(cut.utf16.count <= 3000)
        #expect(SlackLimits.fenceCount(cut) % 2 == 0)
        #expect(cut.contains("truncated"))
        #expect(!SlackLimits.truncate("a &amp; " + String(repeating: "b", count: 5000), to: 10).contains("&am\n"))

        let pieces = SlackLimits.split(code, limit: 3000)
        #expect(pieces.count >= 3)
        #expect(pieces.allSatisfy { $0.utf16.count <= 3000 && SlackLimits.fenceCount($0) % 2 == 0 })
        let rejoined = pieces.joined(separator: "\n").replacing("\n```\n```\n", with: "\n")
        #expect(rejoined == code)
    }

    @Test("header ≤150, context ≤10 elements, fields ≤10×2000, fallback ≤4000")
    func blockBuilders() {
        let header = BlockKit.header(String(repeating: "h", count: 400))
        #expect((header.json["text"]?["text"]?.stringValue ?? "").utf16.count == 150)
        let context = BlockKit.context((1...14).map { "e\($0)" })
        #expect(context.json["elements"]?.arrayValue?.count == 10)
        #expect(context.json["elements"]?.arrayValue?.last?["text"]?.stringValue == "e10 · e11 · e12 · e13 · e14")
        let fields = BlockKit.fields((1...12).map { _ in String(repeating: "f", count: 2500) })
        #expect(fields.json["fields"]?.arrayValue?.count == 10)
        #expect(fields.json["fields"]?.arrayValue?.allSatisfy { ($0["text"]?.stringValue ?? "").utf16.count <= 2000 } == true)
        let fallback = MessageRenderer().fallback(makeIssue(title: String(repeating: "t", count: 9000)))
        #expect(fallback.utf16.count <= 4000)
        #expect(fallback.contains("truncated"))
    }
}

@Suite("Slack limits: large markdown")
struct SlackLargeMarkdownTests {
    @Test("a 2 MB single-line markdown block with unmatched emphasis renders as preview + file")
    func hugeMarkdown() {
        let line = String(repeating: "a_b *c ", count: 300_000)
        var files: [FileUpload] = []
        let blocks = MessageRenderer().markdownBlocks(line, fileName: "notes.md", title: "Notes", files: &files)
        #expect(blocks.count == 2)
        #expect(blocks.allSatisfy { $0.weight <= SlackLimits.sectionText })
        #expect(files.first?.bytes.count == line.utf8.count)
    }
}

@Suite("Slack limits: long JSON and markdown become files")
struct SlackLongContentTests {
    @Test("long JSON: a preview in the message, the document as a .json file in the thread")
    func longJSON() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        var object: [String: JSONValue] = [:]
        for i in 0..<300 { object["key_\(i)"] = .string("value <\(i)> & more") }
        let issue = makeIssue(enrichments: [Enrichment(type: "manifest", title: "Manifest", blocks: [.json(.object(object))])])
        let result = await h.deliver(try h.notifier(), issue)
        #expect(result.isDelivered, "\(result)")
        let file = try #require(h.slack.files.first)
        #expect(file.filename.hasSuffix(".json"))
        let decoded = try IssueCoding.decode(JSONValue.self, from: file.bytes)
        #expect(decoded == .object(object))
        let root = try #require(h.slack.messages.first)
        #expect(root.allText.contains("truncated"))
        #expect(SlackLimits.fenceCount(root.allText) % 2 == 0)
    }

    @Test("long markdown: sections up to four, beyond that a preview plus the full .md file")
    func longMarkdown() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let text = (1...600).map { "- step \($0): `kubectl describe pod worker-\($0)` & check events" }.joined(separator: "\n")
        let issue = makeIssue(enrichments: [Enrichment(type: "runbook", title: "Runbook", blocks: [.markdown(text)])])
        let result = await h.deliver(try h.notifier(), issue)
        #expect(result.isDelivered, "\(result)")
        let file = try #require(h.slack.files.first)
        #expect(file.filename.hasSuffix(".md"))
        #expect(file.bytes == Array(text.utf8))
        #expect(h.slack.calls("chat.postMessage").allSatisfy { $0.error == nil })
    }
}
