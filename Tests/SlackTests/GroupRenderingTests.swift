#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Testing
import TestSupport
@testable import SlackDestination

/// Grouped Issues (type `group`) in Slack: one root message per group episode, edited in
/// place, with one thread note per later notification. Driven against the Slack double,
/// which rejects any message Slack would (block limits, one table per message).
@Suite("Slack grouped Issues")
struct GroupRenderingTests {
    static let groupStart = Date(timeIntervalSince1970: 1_799_990_000)

    /// Member `i`: a crash-looping pod `api-i` in `payments`; with `logs`, an enrichment.
    static func member(_ i: Int, status: IssueStatus = .firing, logs: Bool = false) -> CanoSDK.Issue {
        Issue(
            type: .alert, source: .prometheus, severity: .high, status: status, title: "KubePodCrashLooping",
            aggregationKey: "KubePodCrashLooping", fingerprint: "m\(i)",
            subject: Subject(kind: "Pod", name: "api-\(i)", namespace: "payments"), cluster: "prod-eu",
            startsAt: groupStart.addingTimeInterval(Double(i)),
            endsAt: status == .resolved ? groupStart.addingTimeInterval(3600) : nil,
            links: [Link(title: "Source", url: "https://prom.example.com/graph?g0.expr=up&pod=api-\(i)")],
            enrichments: logs ? [Enrichment(type: "pod_logs", title: "Logs of api-\(i)", blocks: [.markdown("```\npanic: boom \(i)\n```")])] : [])
    }

    /// The grouped Issue as the host builds it: summary title, members, what changed.
    static func group(
        _ members: [CanoSDK.Issue], joined: [String] = [], resolvedSince: [String] = [], isRepeat: Bool = false,
        kind: IssueGroup.Kind = .route, stormEnded: Bool? = nil
    ) -> CanoSDK.Issue {
        let joinedSet = Set(joined)
        let group = IssueGroup(
            key: "route-0|payments", kind: kind, labels: ["namespace": "payments"],
            members: members.map { IssueGroupMember($0, withEnrichments: joinedSet.contains($0.fingerprint)) },
            joined: joined, resolvedSince: resolvedSince, isRepeat: isRepeat, stormEnded: stormEnded)
        let status: IssueStatus = group.firing > 0 ? .firing : .resolved
        let count = group.firing > 0 ? group.firing : members.count
        let rows = members.map { [$0.status.rawValue, $0.title, "payments/" + ($0.subject.name ?? ""), RFC3339.format($0.startsAt)] }
        return Issue(
            type: .group, source: .prometheus, severity: .high, status: status,
            title: (status == .resolved ? "Resolved: " : "") + "\(count) pods KubePodCrashLooping in payments",
            description: "\(group.firing) firing · \(group.resolved) resolved",
            aggregationKey: "KubePodCrashLooping", fingerprint: "grp-payments",
            subject: Subject(kind: "Pod", namespace: "payments", labels: ["namespace": "payments"]), cluster: "prod-eu",
            startsAt: groupStart, endsAt: status == .resolved ? groupStart.addingTimeInterval(3600) : nil,
            enrichments: [Enrichment(type: "group_members", title: "Members (\(members.count))",
                                     blocks: [.table(Block.Table(headers: ["Status", "Issue", "Subject", "Since"], rows: rows))])],
            group: group)
    }

    /// The messages that are not thread replies.
    static func roots(_ slack: SlackDouble) -> [SlackDoubleMessage] { slack.messages.filter { $0.threadTS == nil } }

    /// The members table in a message: its rows, header first.
    static func tableRows(_ message: SlackDoubleMessage) -> [[JSONValue]] {
        let table = message.attachmentBlocks.first { $0.type == "table" }
        return (table?["rows"]?.arrayValue ?? []).map { $0.arrayValue ?? [] }
    }

    @Test("first notification: one root with summary, counts and members table; joined members' enrichments in the thread")
    func firstNotification() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let members = (0..<12).map { Self.member($0, logs: $0 < 2) }
        let result = await h.deliver(try h.notifier(), Self.group(members, joined: members.map(\.fingerprint)), key: "g#1")
        let reference = try #require(result.reference, "\(result)")

        let roots = Self.roots(h.slack)
        #expect(roots.count == 1)
        let root = try #require(roots.first)
        #expect(reference == "\(root.channel):\(root.ts)")
        let header = root.attachmentBlocks.first?["text"]?["text"]?.stringValue ?? ""
        #expect(header.contains("12 pods KubePodCrashLooping in payments"), "\(header)")
        #expect(root.allText.contains("🔥 *12 firing* · ✅ *0 resolved*"))
        let rows = Self.tableRows(root)
        #expect(rows.count == 13, "header and every member")
        #expect(rows.dropFirst().first?[3]["type"]?.stringValue == "rich_text", "the link cell is clickable")
        #expect(!root.allText.contains("more not shown"))
        #expect(h.slack.files.isEmpty, "no list file when the table shows everyone")

        let replies = h.slack.messages.filter { $0.threadTS == root.ts }
        #expect(replies.count == 2, "one reply per member that brought enrichments")
        #expect(replies[0].allText.contains("payments/api-0") && replies[0].allText.contains("panic: boom 0"))
        #expect(replies[1].allText.contains("payments/api-1"))
        #expect(h.slack.calls.allSatisfy { $0.error == nil }, "the double accepted every call")
    }

    @Test("a later notification edits the root in place and adds one note saying what changed")
    func updateInPlace() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let first = (0..<3).map { Self.member($0) }
        let reference = try #require(await h.deliver(try h.notifier(), Self.group(first, joined: first.map(\.fingerprint)), key: "g#1").reference)
        let rootTS = try #require(Self.roots(h.slack).first).ts
        let before = h.slack.messages.count

        h.clock.advance(300)
        let second = [Self.member(3, logs: true), Self.member(4), Self.member(1), Self.member(2), Self.member(0, status: .resolved)]
        let updated = await h.deliver(try h.notifier(), Self.group(second, joined: ["m3", "m4"], resolvedSince: ["m0"]), reference: reference, key: "g#2")
        #expect(updated.reference == reference, "\(updated)")

        #expect(Self.roots(h.slack).count == 1, "no second root")
        let update = try #require(h.slack.calls("chat.update").first)
        #expect(update.error == nil)
        #expect(update.fields["ts"]?.stringValue == rootTS)
        let root = try #require(Self.roots(h.slack).first)
        #expect(root.edits == 1)
        #expect(Self.tableRows(root).count == 6)
        #expect(root.allText.contains("🔥 *4 firing* · ✅ *1 resolved*"))

        let added = Array(h.slack.messages.dropFirst(before))
        #expect(added.allSatisfy { $0.threadTS == rootTS })
        let notes = added.filter { $0.attachments == nil }
        #expect(notes.count == 1, "one note")
        let note = notes.first?.text ?? ""
        #expect(note.contains("➕ 2 joined: payments/api-3, payments/api-4"), "\(note)")
        #expect(note.contains("✅ 1 resolved: payments/api-0"), "\(note)")
        #expect(added.count == 2, "the note and the joined member's enrichments")
        #expect(added.contains { $0.allText.contains("panic: boom 3") })
    }

    @Test("the group resolves: the root turns green and the note says all resolved")
    func resolve() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let firing = (0..<3).map { Self.member($0) }
        let reference = try #require(await h.deliver(try h.notifier(), Self.group(firing, joined: firing.map(\.fingerprint)), key: "g#1").reference)
        let resolved = (0..<3).map { Self.member($0, status: .resolved) }
        let result = await h.deliver(try h.notifier(), Self.group(resolved, resolvedSince: resolved.map(\.fingerprint)), reference: reference, key: "g#2")
        #expect(result.isDelivered, "\(result)")

        let root = try #require(Self.roots(h.slack).first)
        #expect(Self.roots(h.slack).count == 1)
        #expect(root.color == "#2EB67D")
        let header = root.attachmentBlocks.first?["text"]?["text"]?.stringValue ?? ""
        #expect(header.hasPrefix("✅ Resolved · HIGH — 3 pods"), "\(header)")
        let note = try #require(h.slack.messages.last)
        #expect(note.threadTS == root.ts)
        #expect((note.text ?? "").contains("✅ All 3 resolved after 1h 0m"), "\(note.text ?? "")")
        #expect(h.state.get("group:grp-payments@\(Int64(Self.groupStart.timeIntervalSince1970 * 1000))") != nil)
    }

    @Test("a repeat posts a short still-firing note in the thread, no new root")
    func repeatNote() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let members = (0..<3).map { Self.member($0) }
        let reference = try #require(await h.deliver(try h.notifier(), Self.group(members, joined: members.map(\.fingerprint)), key: "g#1").reference)
        h.clock.advance(4 * 3600)
        let result = await h.deliver(try h.notifier(), Self.group(members, isRepeat: true), reference: reference, key: "g#2")
        #expect(result.isDelivered, "\(result)")
        #expect(Self.roots(h.slack).count == 1)
        #expect(h.slack.messages.count == 2)
        #expect(h.slack.messages.last?.text == "🔁 Still firing: 3 of 3")
    }

    @Test("a storm of 500: the table shows what fits, the file lists all 500; the closing summary uploads it again")
    func stormOf500() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let members = (0..<500).map { Self.member($0) }
        let first = await h.deliver(try h.notifier(), Self.group(members, joined: members.map(\.fingerprint), kind: .storm, stormEnded: false), key: "s#1")
        let reference = try #require(first.reference, "\(first)")

        let root = try #require(Self.roots(h.slack).first)
        let shown = Self.tableRows(root).count - 1
        #expect(shown > 10 && shown < SlackLimits.tableRows, "\(shown) rows")
        #expect(root.allText.contains("… and \(500 - shown) more not shown here; the full list of 500"), "\(root.allText)")
        let file = try #require(h.slack.files.first)
        #expect(h.slack.files.count == 1)
        #expect(file.threadTS == root.ts)
        let csv = String(decoding: file.bytes, as: UTF8.self)
        let lines = csv.split(separator: "\r\n")
        #expect(lines.count == 501, "a header and every member")
        for i in 0..<500 { #expect(csv.contains(",api-\(i),") && csv.contains(",m\(i)\r\n")) }
        let shownNames = Set(Self.tableRows(root).dropFirst().compactMap { $0[1]["text"]?.stringValue })
        #expect(shownNames.count == shown)

        // The storm ends: the root says so, the note gives totals, the list goes up again.
        let resolvedSome = members.enumerated().map { $0.offset < 100 ? Self.member($0.offset, status: .resolved) : $0.element }
        let closing = await h.deliver(try h.notifier(), Self.group(resolvedSome, resolvedSince: (0..<100).map { "m\($0)" }, kind: .storm, stormEnded: true),
                                      reference: reference, key: "s#2")
        #expect(closing.isDelivered, "\(closing)")
        #expect(Self.roots(h.slack).count == 1)
        #expect(Self.roots(h.slack)[0].allText.contains("The storm is over."))
        let note = h.slack.messages.filter { $0.threadTS == root.ts && $0.attachments == nil }.last?.text ?? ""
        #expect(note.contains("🌤 Storm over: 500 Issues in total, 400 still firing, 100 resolved"), "\(note)")
        #expect(note.contains("✅ 100 resolved: payments/api-0, payments/api-1, payments/api-2, payments/api-3, payments/api-4 … and 95 more"), "\(note)")
        #expect(h.slack.files.count == 2)

        // A later change of the ended storm does not announce the end again.
        let later = await h.deliver(try h.notifier(), Self.group(resolvedSome, resolvedSince: [], isRepeat: true, kind: .storm, stormEnded: true),
                                    reference: reference, key: "s#3")
        #expect(later.isDelivered)
        let lastText = h.slack.messages.last?.text ?? ""
        #expect(lastText.contains("Still firing") && !lastText.contains("Storm over"), "\(lastText)")
        #expect(h.slack.files.count == 2)
        #expect(h.slack.calls.allSatisfy { $0.error == nil })
    }

    @Test("a retry after a failure mid-plan resumes: the root is posted once, the list uploaded once")
    func retryResumes() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let members = (0..<300).map { Self.member($0, logs: $0 < 2) }
        let issue = Self.group(members, joined: members.map(\.fingerprint))
        h.slack.inject(.serverError(503), method: "files.getUploadURLExternal")
        let first = await h.deliver(try h.notifier(), issue, key: "g#1")
        #expect(first.retryAfter != nil, "\(first)")
        #expect(Self.roots(h.slack).count == 1)
        #expect(h.state.keys.contains("progress:g#1"))

        let second = await h.deliver(try h.notifier(), issue, key: "g#1")
        #expect(second.isDelivered, "\(second)")
        #expect(Self.roots(h.slack).count == 1, "never a second root")
        #expect(h.slack.files.count == 1)
        #expect(h.slack.messages.filter { $0.threadTS != nil }.count == 2, "each member's enrichments once")
        #expect(!h.state.keys.contains("progress:g#1"))

        // An update whose note fails after the root was edited: the retry posts the note
        // once and does not post a root.
        let reference = try #require(second.reference)
        let next = members.prefix(299).map { $0 } + [Self.member(299, status: .resolved)]
        let update = Self.group(next, resolvedSince: ["m299"])
        h.slack.inject(.serverError(503), method: "chat.postMessage")
        let failed = await h.deliver(try h.notifier(), update, reference: reference, key: "g#2")
        #expect(failed.retryAfter != nil, "\(failed)")
        let retried = await h.deliver(try h.notifier(), update, reference: reference, key: "g#2")
        #expect(retried.isDelivered, "\(retried)")
        #expect(h.slack.calls("chat.update").filter { $0.error == nil }.count == 1, "the root edited once")
        #expect(Self.roots(h.slack).count == 1)
        #expect(h.slack.messages.filter { ($0.text ?? "").contains("✅ 1 resolved: payments/api-299") }.count == 1)
    }

    @Test("without a reference or a stored thread, a later notification posts a new root rather than failing")
    func unknownThread() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        let members = (0..<2).map { Self.member($0) }
        let result = await h.deliver(try h.notifier(), Self.group(members, isRepeat: true), key: "g#5")
        #expect(result.isDelivered, "\(result)")
        #expect(Self.roots(h.slack).count == 1)
    }

    @Test("the Slack plugin declares the groups capability")
    func declaresGroups() {
        #expect(SlackDestinationPlugin.capabilities.contains(.groups))
    }
}
