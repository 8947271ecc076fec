import CanoSDK
import Foundation
import Testing
import TestSupport
@testable import ServiceNowDestination

/// Issue 13 §1 and §2: the assignment group from an Issue label or a namespace map (label >
/// namespace map > static `assignment_group`), and configurable `close_notes`.
@Suite("ServiceNow assignment group and close notes") struct ServiceNowAssignmentAndCloseNotesTests {
    /// The assignment group sent on create for `issue` with these config keys.
    func group(_ extra: [String: JSONValue], _ issue: CanoSDK.Issue) async throws -> JSONValue? {
        let h = try await Harness.start()
        let result = await h.deliver(try h.notifier(extra), issue)
        await h.stop()
        #expect(result.isDelivered, "\(result)")
        let create = try #require(h.servicenow.creates.first)
        return create.body?["assignment_group"]
    }

    /// An Issue in `namespace` whose subject carries `labels`.
    func issue(namespace: String? = "shop", labels: [String: String] = [:]) -> CanoSDK.Issue {
        var issue = makeIssue()
        issue.subject.namespace = namespace
        issue.subject.labels = labels
        return issue
    }

    static let all: [String: JSONValue] = [
        "assignment_group": "Platform",
        "assignment_group_label": "team",
        "assignment_group_by_namespace": ["shop": "Shop Team", "payments": "Payments"],
    ]

    @Test func theLabelWinsOverTheNamespaceMapAndTheStaticGroup() async throws {
        #expect(try await group(Self.all, issue(labels: ["team": "Checkout SRE"])) == "Checkout SRE")
    }

    @Test func theNamespaceMapWinsOverTheStaticGroup() async throws {
        #expect(try await group(Self.all, issue(labels: ["other": "x"])) == "Shop Team")
    }

    @Test func anEmptyLabelFallsThroughToTheNamespaceMap() async throws {
        #expect(try await group(Self.all, issue(labels: ["team": ""])) == "Shop Team")
    }

    @Test func theStaticGroupIsTheFallback() async throws {
        #expect(try await group(Self.all, issue(namespace: "kube-system")) == "Platform")
        #expect(try await group(Self.all, issue(namespace: nil)) == "Platform")
    }

    @Test func withNoMatchAndNoStaticGroupNothingIsSent() async throws {
        var config = Self.all
        config["assignment_group"] = nil
        let sent = try await group(config, issue(namespace: "kube-system"))
        #expect(sent == nil)
    }

    /// A label value with a line break would not be a group name; it is skipped.
    @Test func aLabelValueWithALineBreakIsSkipped() async throws {
        #expect(try await group(Self.all, issue(labels: ["team": "a\nb"])) == "Shop Team")
    }

    /// One config change each, and the words its refusal must contain.
    static let mistakes: [([String: JSONValue], String)] = [
        (["assignment_group_label": ""], "key \"assignment_group_label\" is empty"),
        (["assignment_group_label": 3], "key \"assignment_group_label\": expected a string"),
        (["assignment_group_by_namespace": "shop"], "key \"assignment_group_by_namespace\": expected a map of namespace to assignment group"),
        (["assignment_group_by_namespace": ["shop": 1]], "key \"assignment_group_by_namespace.shop\": expected a string"),
        (["assignment_group_by_namespace": ["shop": ""]], "key \"assignment_group_by_namespace.shop\" is empty"),
        (["assignment_group_by_namespace": ["": "Shop"]], "key \"assignment_group_by_namespace\": a namespace is empty"),
        (["close_notes": ""], "key \"close_notes\" is empty"),
        (["close_notes": 4], "key \"close_notes\": expected a string"),
    ]

    @Test(arguments: mistakes)
    func mistakesAreNamed(changes: [String: JSONValue], message: String) {
        var object = ServiceNowConfigTests.base
        for (key, value) in changes { object[key] = value }
        let text: String
        do {
            _ = try ServiceNowConfig(.object(object))
            text = "accepted"
        } catch {
            text = error.message
        }
        #expect(text.contains(message), "\(text)")
    }

    @Test func theDefaultCloseNotesNameTheAlert() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        _ = await h.deliver(notifier, makeIssue())
        _ = await h.deliver(notifier, makeIssue(status: .resolved))
        await h.stop()
        let notes = try #require(h.servicenow.incidents.first?.fields["close_notes"])
        #expect(notes.contains("\"KubePodCrashLooping\""), "\(notes)")
    }

    /// `close_notes` is configurable like `close_code`; `{alert}` becomes the alert's title.
    @Test func closeNotesComeFromConfigWithTheAlertFilledIn() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier(["close_code": "Solved (Permanently)", "close_notes": "Auto-resolved by monitoring: {alert} recovered."])
        _ = await h.deliver(notifier, makeIssue())
        let resolved = await h.deliver(notifier, makeIssue(status: .resolved))
        await h.stop()
        #expect(resolved.isDelivered, "\(resolved)")
        let incident = try #require(h.servicenow.incidents.first)
        #expect(incident.fields["close_code"] == "Solved (Permanently)")
        #expect(incident.fields["close_notes"] == "Auto-resolved by monitoring: KubePodCrashLooping recovered.")
    }

    /// A long title in a configured note still fits the field (4000).
    @Test func configuredCloseNotesAreCutToTheLimit() async throws {
        let issue = makeIssue(status: .resolved, title: String(repeating: "x", count: 5000))
        let config = try ServiceNowConfig(.object(ServiceNowConfigTests.base.merging(["close_notes": "{alert}"]) { $1 }))
        let body = ServiceNowPayload.resolve(issue, config: config)
        #expect(body["close_notes"]?.stringValue?.unicodeScalars.count == ServiceNowLimits.closeNotes)
    }
}
