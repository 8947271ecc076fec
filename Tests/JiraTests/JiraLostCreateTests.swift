import CanoSDK
import Foundation
import JiraDestination
import Testing
import TestSupport

/// A create Jira made but whose answer was lost must not be made twice: Jira's search lags
/// behind a new issue, so a retry that trusted it at once would create a twin (found by
/// review; before, the retry created a second issue).
@Suite("Jira lost create")
struct JiraLostCreateTests {
    @Test func aCreateWhoseAnswerWasLostIsNotMadeTwice() async throws {
        let h = try await Harness.start()
        h.jira.searchLags = true  // the new issue does not show in search yet
        h.jira.inject(.delay(.zero))  // the search answers at once: nothing open
        h.jira.inject(.processedThen(status: 504))  // the create is made, a gateway loses its answer
        let first = await h.deliver(try h.notifier(), makeIssue())
        #expect(first.isRetry, "\(first)")
        #expect(h.jira.issues.count == 1, "Jira did make it")

        // The retry (a restart: a new notifier, the same plugin state) waits for search.
        let retry = await h.deliver(try h.notifier(), makeIssue())
        #expect(retry.isRetry, "\(retry)")
        #expect((retry.retryDelay ?? .zero) > .seconds(30), "waits out Jira's search lag: \(retry)")
        #expect(retry.messageText.contains("got no answer"), "\(retry)")
        await h.stop()
        #expect(h.jira.issues.count == 1, "no twin")
    }

    /// A create Jira refused (a 4xx) made nothing: the next try creates at once.
    @Test func aRefusedCreateLeavesNoMark() async throws {
        let h = try await Harness.start()
        h.jira.inject(.delay(.zero))  // the search
        h.jira.inject(.error(status: 400, messages: ["summary: too long"], errors: [:]))
        let first = await h.deliver(try h.notifier(), makeIssue())
        #expect(!first.isRetry && !first.isDelivered, "\(first)")
        let second = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        #expect(second.isDelivered, "\(second)")
        #expect(h.jira.issues.count == 1)
    }

    /// A create throttled with a 429 made nothing either: the retry waits only for the
    /// Retry-After, not for the search lag of a lost create (found by the 429 burst test:
    /// a 60 s wait, which now pauses the whole destination).
    @Test func aThrottledCreateWaitsOnlyForItsRetryAfter() async throws {
        let h = try await Harness.start()
        h.jira.inject(.delay(.zero))  // the search
        h.jira.inject(.rateLimited(retryAfter: 2))
        let first = await h.deliver(try h.notifier(), makeIssue())
        #expect(first.isRetry && first.retryDelay == .seconds(2), "\(first)")
        let second = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        #expect(second.isDelivered, "\(second)")
        #expect(h.jira.issues.count == 1)
    }
}

/// A maintenance page answered with a 200 instead of the search says nothing about what is
/// open: creating on it would make a twin, resolving on it would lose the resolve.
@Suite("Jira page instead of the API")
struct JiraWebPageTests {
    @Test func aPageInsteadOfTheSearchRetriesAndCreatesNothing() async throws {
        let h = try await Harness.start()
        h.jira.inject(.page(status: 200))
        let result = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        #expect(result.isRetry, "\(result)")
        #expect(result.messageText.contains("not Jira's search answer"), "\(result)")
        #expect(h.jira.issues.isEmpty)
    }
}
