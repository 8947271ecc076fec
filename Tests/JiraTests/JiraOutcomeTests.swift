import CanoSDK
import Testing
import TestSupport
@testable import JiraDestination

/// How Jira's answers map to results, limits, and the token staying out of every message.
@Suite("Jira outcomes") struct JiraOutcomeTests {
    /// Every answer Jira gives maps to the result the host needs (HTTPOutcome.classify).
    @Test(arguments: [
        (JiraDoubleFault.rateLimited(retryAfter: 7), "retry", Duration.seconds(7) as Duration?, "HTTP 429 from"),
        (.rateLimited(retryAfter: nil), "retry", nil, "HTTP 429"),
        (.serverError(500), "retry", nil, "HTTP 500"),
        (.serverError(502), "retry", nil, "HTTP 502"),
        (.serverError(503), "retry", nil, "search for the open issue: Internal server error"),
        (.error(status: 400, messages: ["Bad JQL"], errors: ["summary": "You must specify a summary of the issue."]), "permanent", nil,
         "HTTP 400 from http://127.0.0.1"),
        (.error(status: 400, messages: [], errors: ["summary": "You must specify a summary of the issue."]), "permanent", nil,
         "search for the open issue: summary: You must specify a summary of the issue."),
        (.error(status: 401, messages: ["Client must be authenticated"], errors: [:]), "permanent", nil,
         "Client must be authenticated; check user and api_token"),
        (.error(status: 403, messages: ["Forbidden"], errors: [:]), "permanent", nil, "Forbidden; the account lacks a permission in OPS"),
    ])
    func outcomes(fault: JiraDoubleFault, expected: String, delay: Duration?, mentioning text: String) async throws {
        let h = try await Harness.start()
        h.jira.inject(fault)
        let result = await h.deliver(try h.notifier(), makeIssue())
        // The fault was one answer: the next attempt goes through.
        let next = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        switch expected {
        case "retry":
            #expect(result.isRetry, "\(result)")
            #expect(result.retryDelay == delay)
        default:
            #expect(result.isPermanent, "\(result)")
        }
        #expect(result.messageText.contains(text), "\(result.messageText)")
        #expect(next.isDelivered)
        #expect(h.jira.issues.count == 1, "the faulted request created nothing")
    }

    /// Jira's own 400s, from the double's validation, reach the message with the field.
    @Test func jiraValidationErrorsArePermanentWithTheirText() async throws {
        let h = try await Harness.start()
        let badPriority = await h.deliver(try h.notifier(["priorities": ["HIGH": "Urgent"]]), makeIssue())
        let badType = await h.deliver(try h.notifier(["issue_type": "Story"]), makeIssue())
        let badProject = await h.deliver(try h.notifier(["project": "NOPE"]), makeIssue())
        let badComponent = await h.deliver(try h.notifier(["components": ["nope"]]), makeIssue())
        await h.stop()
        #expect(badPriority.isPermanent && badType.isPermanent && badProject.isPermanent && badComponent.isPermanent)
        #expect(badPriority.messageText == "HTTP 400 from \(h.jira.url): create issue in OPS: priority: Priority name 'Urgent' is not valid",
                "\(badPriority.messageText)")
        #expect(badType.messageText.hasSuffix("create issue in OPS: issuetype: Specify a valid issue type"), "\(badType.messageText)")
        #expect(badProject.messageText.hasSuffix("search for the open issue: The value 'NOPE' does not exist for the field 'project'."),
                "\(badProject.messageText)")
        #expect(badComponent.messageText.contains("components: Component name 'nope' is not valid"), "\(badComponent.messageText)")
        #expect(h.jira.issues.isEmpty)
    }

    @Test func transportFailuresRetry() async throws {
        let h = try await Harness.start()
        // Nothing listens on a stopped double's port: connection refused.
        let gone = try await JiraDouble.start(email: testEmail, apiToken: testToken)
        let url = gone.url
        await gone.stop()
        let refused = await h.deliver(try h.notifier(["url": .string(url)]), makeIssue())
        #expect(refused.isRetry, "\(refused)")

        // An answer later than the deadline: the call returns by the deadline with a retry.
        h.jira.inject(.delay(.seconds(30)))
        let clock = ContinuousClock()
        let started = clock.now
        let late = await h.deliver(try h.notifier(), makeIssue(), deadline: 0.5)
        #expect(late.isRetry, "\(late)")
        #expect(clock.now - started < .seconds(15), "bounded by the deadline, not by the 30 s answer")

        let before = h.jira.calls.count
        let expired = await h.deliver(try h.notifier(), makeIssue(), deadline: -1)
        #expect(expired.isRetry && expired.messageText.contains("deadline passed"), "\(expired)")
        await h.stop()
        #expect(h.jira.calls.count == before, "the expired delivery sent nothing")
    }

    /// Summary ≤ 255 characters as Java counts them (UTF-16), on one line; the description
    /// is cut visibly within Jira's 32,767. The double rejects anything longer, so a 201
    /// proves the limits hold.
    @Test func longTextIsCutToJirasLimits() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        let long = await h.deliver(notifier, makeIssue(title: String(repeating: "a", count: 400), fingerprint: "a"))
        let emoji = await h.deliver(notifier, makeIssue(title: String(repeating: "😀", count: 200), fingerprint: "b"))
        let multiline = await h.deliver(notifier, makeIssue(title: "Disk full\non node-a", fingerprint: "c"))
        let huge = await h.deliver(notifier, makeIssue(description: String(repeating: "log line {code} *bold* [link]\n", count: 3000), fingerprint: "d"))
        await h.stop()

        #expect([long, emoji, multiline, huge].allSatisfy { $0.isDelivered }, "\([long, emoji, multiline, huge])")
        let summaries = h.jira.issues.compactMap(\.summary)
        #expect(summaries[0] == String(repeating: "a", count: 254) + "…")
        #expect(summaries[1].utf16.count <= 255 && summaries[1].hasSuffix("…"))
        #expect(summaries[1] == String(repeating: "😀", count: 127) + "…", "whole emoji only")
        #expect(summaries[2] == "Disk full on node-a")
        let description = h.jira.issues[3].descriptionText
        #expect(description.hasSuffix("… (cut by cano-collector: Jira allows 32,767 characters)"))
        #expect(description.hasPrefix("log line {code} *bold* [link]\nlog line"), "ADF text is literal: no markup is interpreted or escaped")
    }

    /// A gateway that quotes the Authorization header back must not get the token (or the
    /// Basic credential built from it) into a result message or a log line.
    @Test func theTokenNeverLeaks() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier(["resolve_transition": "Done"])
        var results: [DeliveryResult] = []
        h.jira.inject(.echoCredentials(status: 400))
        results.append(await h.deliver(notifier, makeIssue()))
        h.jira.inject(.echoCredentials(status: 503))
        results.append(await h.deliver(notifier, makeIssue()))
        h.jira.inject(.echoCredentials(status: 401))
        results.append(await h.deliver(notifier, makeIssue()))
        results.append(await h.deliver(notifier, makeIssue()))
        h.jira.inject(.echoCredentials(status: 500), matching: "/transitions")
        results.append(await h.deliver(notifier, makeIssue(status: .resolved)))
        h.jira.inject(.echoCredentials(status: 401))
        let rejected = await h.checkCredentials(notifier)
        await h.stop()

        // The double really echoed it: otherwise this test proves nothing.
        #expect(h.jira.calls.filter { $0.errorMessages.joined().contains(testBasic) }.count == 5)
        #expect(results.map(\.isPermanent) == [true, false, true, false, false])
        #expect(results[0].messageText.contains("Rejected credentials: Authorization: <redacted>"), "\(results[0].messageText)")
        let texts = results.map(\.messageText) + [rejected?.message ?? ""]
        for secret in [testToken, testBasic] {
            assertNoSecret(secret, in: texts, named: "result message")
            assertNoSecret(secret, in: h.logs.all, named: "log line")
        }
        #expect(rejected?.message.hasPrefix("Jira rejected the credentials: HTTP 401 from") == true, "\(String(describing: rejected))")
    }

    /// create()'s credential check: a rejected token fails with the fix named; a Jira that
    /// cannot be reached only warns.
    @Test func theCredentialCheck() async throws {
        let h = try await Harness.start()
        #expect(await h.checkCredentials(try h.notifier()) == nil)
        let wrong = await h.checkCredentials(try h.notifier(["api_token": "ATATT-wrong-token-000111"]))
        let error = try #require(wrong)
        #expect(error.message == "Jira rejected the credentials: HTTP 401 from \(h.jira.url): GET /rest/api/3/myself: Client must be authenticated to access this resource.; check user and api_token: an API token (id.atlassian.com) with the email of the account that created it")
        #expect(!error.message.contains("ATATT-wrong-token-000111"))
        await h.stop()
        let unreachable = await h.checkCredentials(try h.notifier())
        #expect(unreachable == nil)
        #expect(h.logs.all.contains { $0.hasPrefix("warning jira credential check skipped: Jira did not answer") }, "\(h.logs.all)")
    }
}
