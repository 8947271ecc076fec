#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Testing
import TestSupport
@testable import SlackDestination

@Suite("Slack threads and resolution")
struct SlackThreadTests {
    @Test("the thread survives a plugin re-create with the same state store")
    func threadSurvivesRestart() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let first = await h.deliver(try h.notifier(), makeIssue())
        let reference = try #require(first.reference)
        let root = try #require(h.slack.messages.first)
        #expect(reference == "C0ALERTS01:\(root.ts)")

        // "Restart": a new core, same store, and no reference from the host this time.
        h.clock.advance(60)
        let again = await h.deliver(try h.notifier(), makeIssue(description: "still OOMing"), key: "second")
        #expect(again.reference == reference)
        let messages = h.slack.messages
        #expect(messages.count == 2)
        #expect(messages[1].threadTS == root.ts)
        #expect(messages[1].channel == "C0ALERTS01")
    }

    @Test("resolve: chat.update turns the original green with a Resolved header, then a thread reply")
    func resolveUpdatesOriginal() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let notifier = try h.notifier()
        let fired = await h.deliver(notifier, makeIssue())
        let reference = try #require(fired.reference)
        h.clock.advance(600)

        let resolvedAt = Date(timeIntervalSince1970: 1_800_000_000)
        let resolved = await h.deliver(try h.notifier(), makeIssue(status: .resolved, endsAt: resolvedAt), reference: reference)
        #expect(resolved.reference == reference, "\(resolved)")

        let update = try #require(h.slack.calls("chat.update").first)
        #expect(update.error == nil)
        #expect(update.fields["ts"]?.stringValue == h.slack.messages[0].ts)
        let root = h.slack.messages[0]
        #expect(root.edits == 1)
        #expect(root.color == "#2EB67D")
        #expect((root.attachmentBlocks.first?["text"]?["text"]?.stringValue ?? "").hasPrefix("✅ Resolved · HIGH"))
        #expect(root.allText.contains("<!date^1800000000^"))
        let reply = try #require(h.slack.messages.last)
        #expect(reply.threadTS == root.ts)
        #expect((reply.text ?? "").hasPrefix("✅ Resolved"))
        #expect(h.slack.messages.count == 2)

        // The next firing of the same fingerprint opens a new message.
        let refire = await h.deliver(try h.notifier(), makeIssue(), reference: reference, key: "refire")
        #expect(refire.reference != reference)
        #expect(h.slack.messages.last?.threadTS == nil)
    }

    @Test("the host's reference alone is enough to resolve (empty state store)")
    func referenceWithoutState() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let fired = await h.deliver(try h.notifier(), makeIssue())
        let reference = try #require(fired.reference)
        let fresh = Harness(slack: h.slack, state: InMemoryState(), clock: h.clock, logs: h.logs)
        let resolved = await fresh.deliver(try fresh.notifier(), makeIssue(status: .resolved), reference: reference)
        #expect(resolved.isDelivered, "\(resolved)")
        #expect(h.slack.calls("chat.update").count == 1)
        #expect(h.slack.messages[0].color == "#2EB67D")
    }

    @Test("a deleted original: the resolution is posted as a new green message")
    func deletedOriginal() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let fired = await h.deliver(try h.notifier(), makeIssue())
        let handle = try #require(fired.reference.flatMap(ThreadHandle.init(reference:)))
        h.slack.deleteMessage(channel: handle.channel, ts: handle.ts)
        let resolved = await h.deliver(try h.notifier(), makeIssue(status: .resolved))
        #expect(resolved.isDelivered, "\(resolved)")
        #expect(h.slack.calls("chat.update").first?.error == "message_not_found")
        let message = try #require(h.slack.messages.first)
        #expect(message.threadTS == nil)
        #expect(message.color == "#2EB67D")
    }

    @Test("a retry after a partial failure resumes: the root is posted once")
    func resumeAfterPartialFailure() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let issue = makeIssue(enrichments: [Enrichment(type: "logs", title: "Logs", blocks: [
            .file(Block.File(name: "a.log", mimeType: "text/plain", bytes: Array("a\n".utf8))),
            .file(Block.File(name: "b.log", mimeType: "text/plain", bytes: Array("b\n".utf8))),
        ])])
        // Root post and first upload succeed; the second upload's ticket fails.
        let notifier = try h.notifier()
        h.slack.inject(.serverError(503), method: "files.getUploadURLExternal")
        let first = await h.deliver(notifier, issue, key: "k1")
        // The first getUploadURL failed, so nothing was uploaded yet.
        #expect(first.retryAfter != nil, "\(first)")
        #expect(h.state.keys.contains("progress:k1"))

        let second = await h.deliver(try h.notifier(), issue, key: "k1")
        #expect(second.isDelivered, "\(second)")
        #expect(h.slack.calls("chat.postMessage").count == 1)
        #expect(h.slack.files.map(\.filename) == ["a.log", "b.log"])
        #expect(!h.state.keys.contains("progress:k1"))
    }

    @Test("a store that refuses writes: the delivery still succeeds and the reference links the thread")
    func refusingStore() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        h.state.setFailWrites(true)
        let fired = await h.deliver(try h.notifier(), makeIssue())
        let reference = try #require(fired.reference)
        #expect(h.logs.all.contains { $0.contains("could not store the Slack thread") })
        let resolved = await h.deliver(try h.notifier(), makeIssue(status: .resolved), reference: reference)
        #expect(resolved.reference == reference, "\(resolved)")
        #expect(h.slack.calls("chat.update").first?.fields["ts"]?.stringValue == h.slack.messages.first?.ts)
    }
}
