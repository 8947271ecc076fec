import CanoSDK
import Testing
import TestSupport
@testable import JiraDestination

/// The notifier against the Jira double over loopback HTTP: one issue per fingerprint,
/// comments on repeats, resolve by comment and transition.
@Suite("Jira delivery") struct JiraDeliveryTests {
    @Test func firingCreatesOneIssueLabelledWithTheFingerprint() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier(["labels": ["k8s"], "priorities": ["HIGH": "Highest"], "components": ["platform"]])
        let result = await h.deliver(notifier, makeIssue())
        await h.stop()

        #expect(result.isDelivered, "\(result)")
        #expect(result.deliveredReference == "OPS-1")
        #expect(result.messageText == "HTTP 201 from \(h.jira.url): created OPS-1")
        // Search first (nothing open), then one create.
        #expect(h.jira.calls.map { "\($0.method) \($0.path)" } == ["POST /rest/api/3/search/jql", "POST /rest/api/3/issue"])
        let search = try #require(h.jira.searches.first)
        #expect(search.body?["jql"] == "project = \"OPS\" AND labels = \"cano-fp-3f1a9c0d2b7e4f65\" AND statusCategory != Done ORDER BY created DESC")
        let create = try #require(h.jira.creates.first)
        #expect(create.status == 201, "\(create.errorMessages) \(create.errors)")
        #expect(create.headers["authorization"] == "Basic " + testBasic)
        #expect(create.headers["content-type"] == "application/json")
        let issue = try #require(h.jira.issue("OPS-1"))
        #expect(issue.summary == "KubePodCrashLooping")
        #expect(issue.labels == ["k8s", "cano-fp-3f1a9c0d2b7e4f65"])
        #expect(issue.fields["issuetype"] == ["name": "Bug"])
        #expect(issue.fields["priority"] == ["name": "Highest"])
        #expect(issue.fields["components"] == [["name": "platform"]])
        #expect(issue.descriptionText.hasPrefix("Pod shop/cart-7d9f-x2 is crash looping\n\nCluster: prod-eu\nSubject: Pod shop/cart-7d9f-x2 (node node-a, container cart)"),
                "\(issue.descriptionText)")
        #expect(issue.descriptionText.contains("- Runbook: https://runbooks.example/crashloop"))
        #expect(issue.descriptionText.contains("- alertname=KubePodCrashLooping"))
        #expect(h.state.get("issue:3f1a9c0d2b7e4f65") == "OPS-1", "the key is remembered for the next delivery")
    }

    /// A severity without a priority mapping sends no priority: the project's default applies.
    @Test func noPriorityWithoutAMapping() async throws {
        let h = try await Harness.start()
        _ = await h.deliver(try h.notifier(["priorities": ["HIGH": "Highest"]]), makeIssue(severity: .low))
        await h.stop()
        #expect(h.jira.issue("OPS-1")?.fields["priority"] == nil)
    }

    @Test func repeatsCommentOnTheOpenIssue() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        let first = await h.deliver(notifier, makeIssue())
        // A refire of the same fingerprint (a new startsAt: no reference from the host) and
        // a repeat with the reference.
        let second = await h.deliver(notifier, makeIssue(startsAt: 1_800_000_500))
        let third = await h.deliver(notifier, makeIssue(), reference: first.deliveredReference)
        await h.stop()

        #expect([first, second, third].map(\.deliveredReference) == ["OPS-1", "OPS-1", "OPS-1"])
        #expect(second.messageText.contains("OPS-1 is open for this fingerprint; commented that it still fires"), "\(second.messageText)")
        #expect(h.jira.issues.count == 1, "never a second issue for one fingerprint")
        #expect(h.jira.creates.count == 1)
        let issue = try #require(h.jira.issue("OPS-1"))
        #expect(issue.comments.count == 2)
        #expect(issue.commentTexts.first?.hasPrefix("Still firing: KubePodCrashLooping\nSeverity: HIGH") == true, "\(issue.commentTexts)")
    }

    /// After a restart that lost the remembered key, and with no reference, the label
    /// search finds the open issue.
    @Test func dedupAcrossRestartsUsesTheSearch() async throws {
        let h = try await Harness.start()
        _ = await h.deliver(try h.notifier(), makeIssue())
        let restarted = try h.notifier(state: MemoryJiraState())
        let again = await h.deliver(restarted, makeIssue(startsAt: 1_800_000_500))
        await h.stop()

        #expect(again.deliveredReference == "OPS-1", "\(again)")
        #expect(h.jira.issues.count == 1)
        #expect(h.jira.searches.count == 2)
        #expect(h.jira.commentCalls.count == 1)
    }

    /// Search is eventually consistent (§5.3): an issue created a moment ago may not show.
    /// The remembered key, read with a direct GET, still finds it; without it, search alone
    /// would create a duplicate (shown with a notifier that lost its state).
    @Test func aLaggingSearchIsCoveredByTheRememberedKey() async throws {
        let h = try await Harness.start()
        h.jira.searchLags = true
        let notifier = try h.notifier()
        _ = await h.deliver(notifier, makeIssue())
        let again = await h.deliver(notifier, makeIssue(startsAt: 1_800_000_500))
        #expect(again.deliveredReference == "OPS-1")
        #expect(h.jira.issues.count == 1)
        #expect(h.jira.calls.contains { $0.method == "GET" && $0.path == "/rest/api/3/issue/OPS-1" })

        // The double really lags: a notifier without the key does not find OPS-1.
        _ = await h.deliver(try h.notifier(state: MemoryJiraState()), makeIssue(startsAt: 1_800_000_900))
        await h.stop()
        #expect(h.jira.issues.count == 2)
    }

    /// The reference the host hands back is used first: no search at all.
    @Test func theReferenceIsUsedWhenPresent() async throws {
        let h = try await Harness.start()
        _ = await h.deliver(try h.notifier(), makeIssue(fingerprint: "other"))
        let result = await h.deliver(try h.notifier(state: MemoryJiraState()), makeIssue(), reference: "OPS-1")
        await h.stop()
        #expect(result.deliveredReference == "OPS-1")
        #expect(h.jira.searches.count == 1, "only the first delivery searched")
        #expect(h.jira.issue("OPS-1")?.comments.count == 1)
    }

    @Test func resolveCommentsAndTransitions() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier(["resolve_transition": "Done"])
        let firing = await h.deliver(notifier, makeIssue())
        let resolved = await h.deliver(notifier, makeIssue(status: .resolved), reference: firing.deliveredReference)
        await h.stop()

        #expect(resolved.isDelivered, "\(resolved)")
        #expect(resolved.deliveredReference == "OPS-1")
        #expect(resolved.messageText == "\(h.jira.url): OPS-1 commented that it resolved and moved it with \"Done\" to Done")
        let issue = try #require(h.jira.issue("OPS-1"))
        #expect(issue.status == "Done")
        #expect(issue.transitions == ["Done"])
        #expect(issue.commentTexts.count == 1)
        #expect(issue.commentTexts.first?.hasPrefix("Resolved at 2027-01-15T08:00:00") == true, "\(issue.commentTexts)")
        #expect(h.jira.transitionCalls.first?.body == ["transition": ["id": "31"]])
        #expect(h.jira.creates.count == 1, "a resolve never creates")
        #expect(h.state.keys.isEmpty, "nothing is kept once resolved: \(h.state.keys)")
    }

    /// Without `resolve_transition` the resolve only comments.
    @Test func resolveWithoutATransitionOnlyComments() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        _ = await h.deliver(notifier, makeIssue())
        let resolved = await h.deliver(notifier, makeIssue(status: .resolved))
        await h.stop()
        #expect(resolved.deliveredReference == "OPS-1")
        #expect(h.jira.issue("OPS-1")?.status == "To Do")
        #expect(h.jira.issue("OPS-1")?.comments.count == 1)
        #expect(!h.jira.calls.contains { $0.path.hasSuffix("/transitions") })
    }

    /// Transitions are found by name, case-insensitively, else by the status they lead to.
    @Test func theTransitionIsFoundByItsTargetStatus() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier(["resolve_transition": "closed"])
        _ = await h.deliver(notifier, makeIssue())
        let resolved = await h.deliver(notifier, makeIssue(status: .resolved))
        await h.stop()
        #expect(resolved.isDelivered, "\(resolved)")
        #expect(h.jira.issue("OPS-1")?.status == "Closed")
        #expect(h.jira.issue("OPS-1")?.transitions == ["Close Issue"])
    }

    /// A transition the workflow does not offer is permanent and lists what it offers; a
    /// second attempt of the same delivery does not post the comment again.
    @Test func anUnknownTransitionIsPermanentAndTheCommentIsNotRepeated() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier(["resolve_transition": "Finish"])
        _ = await h.deliver(notifier, makeIssue())
        let first = await h.deliver(notifier, makeIssue(status: .resolved))
        let second = await h.deliver(notifier, makeIssue(status: .resolved))
        await h.stop()
        #expect(first.isPermanent)
        #expect(first.messageText == "\(h.jira.url): resolve_transition \"Finish\" is not available on OPS-1 (available: Start Progress, Done, Close Issue); the comment was added",
                "\(first.messageText)")
        #expect(second.isPermanent)
        // The log line a user searches for: a warning with the fingerprint and the same text.
        #expect(h.logs.all.contains("warning jira delivery failed fingerprint=3f1a9c0d2b7e4f65 reason=\(first.messageText)"), "\(h.logs.all)")
        #expect(h.jira.issue("OPS-1")?.comments.count == 1, "the retry did not comment twice")
        #expect(h.jira.issue("OPS-1")?.status == "To Do")
    }

    @Test func noTransitionsListedSaysWhy() async throws {
        let h = try await Harness.start()
        h.jira.hideTransitions = true
        let notifier = try h.notifier(["resolve_transition": "Done"])
        _ = await h.deliver(notifier, makeIssue())
        let result = await h.deliver(notifier, makeIssue(status: .resolved))
        await h.stop()
        #expect(result.isPermanent)
        #expect(result.messageText.contains("no transitions are available to this account on OPS-1"), "\(result.messageText)")
    }

    /// A transition that fails with a 5xx after the comment retries; the retry completes
    /// the transition without a second comment.
    @Test func aFailedTransitionRetriesWithoutASecondComment() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier(["resolve_transition": "Done"])
        _ = await h.deliver(notifier, makeIssue())
        h.jira.inject(.serverError(503), matching: "POST /rest/api/3/issue/OPS-1/transitions")
        let first = await h.deliver(notifier, makeIssue(status: .resolved))
        let second = await h.deliver(notifier, makeIssue(status: .resolved))
        await h.stop()
        #expect(first.isRetry, "\(first)")
        #expect(first.messageText.hasPrefix("HTTP 503 from \(h.jira.url): transition OPS-1 with \"Done\": Internal server error"), "\(first.messageText)")
        #expect(second.isDelivered, "\(second)")
        #expect(h.jira.issue("OPS-1")?.comments.count == 1)
        #expect(h.jira.issue("OPS-1")?.status == "Done")
    }

    /// Alertmanager's rule: never create an issue for an already resolved alert.
    @Test func aResolveWithoutAnOpenIssueDoesNothing() async throws {
        let h = try await Harness.start()
        let result = await h.deliver(try h.notifier(["resolve_transition": "Done"]), makeIssue(status: .resolved, fingerprint: "never-fired"))
        await h.stop()
        #expect(result.isDelivered, "\(result)")
        #expect(result.messageText.contains("no open issue for this fingerprint in OPS; nothing to resolve"))
        #expect(h.jira.issues.isEmpty)
        #expect(h.jira.calls.map(\.path) == ["/rest/api/3/search/jql"])
    }

    /// Without `reopen_transition`, a fingerprint that fires again after its issue was done
    /// gets a new issue; a done issue is never commented on.
    @Test func firingAfterResolveOpensANewIssue() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier(["resolve_transition": "Done"])
        let first = await h.deliver(notifier, makeIssue())
        _ = await h.deliver(notifier, makeIssue(status: .resolved), reference: first.deliveredReference)
        // The host may still hand back the old key: it is done, so it is not reused.
        let refire = await h.deliver(notifier, makeIssue(startsAt: 1_800_100_000), reference: first.deliveredReference)
        await h.stop()
        #expect(refire.deliveredReference == "OPS-2", "\(refire)")
        #expect(h.jira.issues.map(\.status) == ["Done", "To Do"])
        #expect(h.jira.issue("OPS-1")?.comments.count == 1)
    }

    /// Someone closed the issue by hand: the resolve has nothing left to do.
    @Test func anIssueClosedByHandIsLeftAlone() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier(["resolve_transition": "Done"])
        let first = await h.deliver(notifier, makeIssue())
        h.jira.setStatus("OPS-1", to: "Done")
        let resolved = await h.deliver(notifier, makeIssue(status: .resolved), reference: first.deliveredReference)
        await h.stop()
        #expect(resolved.isDelivered)
        #expect(h.jira.issue("OPS-1")?.comments.isEmpty == true)
        #expect(h.jira.transitionCalls.isEmpty)
    }
}
