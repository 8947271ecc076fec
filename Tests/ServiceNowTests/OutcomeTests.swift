import CanoSDK
import Foundation
import Testing
import TestSupport
@testable import ServiceNowDestination

/// How ServiceNow's answers map to results (through HTTPOutcome), truncation to the field
/// limits, and that the password never leaves the plugin.
@Suite("ServiceNow outcomes") struct ServiceNowOutcomeTests {
    /// The fault answers the lookup, the first call of every delivery.
    @Test(arguments: [
        (ServiceNowDoubleFault.rateLimited(retryAfter: "7"), "retry", Duration.seconds(7) as Duration?, "HTTP 429 from http://127.0.0.1"),
        (.rateLimited(retryAfter: nil), "retry", nil, "Too Many Requests (Rate limit of 100 requests per hour exceeded)"),
        (.serverError(500), "retry", nil, "HTTP 500"),
        (.serverError(502), "retry", nil, "HTTP 502"),
        (.serverError(503), "retry", nil, "HTTP 503"),
        (.error(status: 400, message: "Invalid query", detail: "bad sysparm_query"), "permanent", nil,
         "HTTP 400 from http://127.0.0.1"),
        (.error(status: 401, message: "User Not Authenticated", detail: "Required to provide Auth information"), "permanent", nil,
         "User Not Authenticated (Required to provide Auth information); check username and password"),
        (.error(status: 403, message: "Operation Failed", detail: "ACL Exception Insert Failed due to security constraints"), "permanent", nil,
         "Operation Failed (ACL Exception Insert Failed due to security constraints); the user lacks rights on the incident table"),
    ])
    func outcomes(fault: ServiceNowDoubleFault, expected: String, delay: Duration?, mentioning text: String) async throws {
        let h = try await Harness.start()
        h.servicenow.inject(fault)
        let result = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        switch expected {
        case "retry": #expect(result.isRetry, "\(result)")
        default: #expect(result.isPermanent, "\(result)")
        }
        #expect(result.retryDelay == delay)
        #expect(result.messageText.contains(text), "\(result.messageText)")
        #expect(h.servicenow.incidents.isEmpty, "a failed lookup creates nothing")
        #expect(h.servicenow.calls.count == 1)
    }

    @Test func aDetailedErrorNamesServiceNowsMessageAndDetail() async throws {
        let h = try await Harness.start()
        h.servicenow.inject(.error(status: 400, message: "Invalid query", detail: "bad sysparm_query"))
        let result = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        #expect(result == .permanent(message: "HTTP 400 from \(h.servicenow.instanceURL): Invalid query (bad sysparm_query)"))
    }

    @Test func retryAfterAsAnHTTPDateIsHonoured() async throws {
        let h = try await Harness.start()
        let date = Date().addingTimeInterval(30)
        h.servicenow.inject(.rateLimited(retryAfter: imfFixdate(date)))
        let result = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        let delay = try #require(result.retryDelay)
        #expect(delay > .seconds(20) && delay <= .seconds(31), "\(delay)")
    }

    /// A create that fails after a successful lookup retries; the retry creates exactly one.
    @Test func aFailedCreateRetriesAndTheRetryCreatesOnce() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        h.servicenow.inject(.delay(.zero))  // the lookup passes
        h.servicenow.inject(.serverError(503))
        let first = await h.deliver(notifier, makeIssue())
        let retry = await h.deliver(notifier, makeIssue())
        await h.stop()
        #expect(first.isRetry, "\(first)")
        #expect(h.servicenow.creates.map(\.status) == [503, 201])
        #expect(retry.isDelivered)
        #expect(h.servicenow.incidents.count == 1)
    }

    /// The create was done but its answer was lost (a gateway answered 504 while the
    /// instance made the incident; no timing involved): the retry's lookup finds the
    /// incident and notes on it rather than creating a second one.
    @Test func aCreateWhoseAnswerWasLostIsNotDuplicatedByTheRetry() async throws {
        let h = try await Harness.start()
        h.servicenow.inject(.delay(.zero))  // the lookup: nothing open
        h.servicenow.inject(.processedThen(status: 504))
        let first = await h.deliver(try h.notifier(), makeIssue())
        #expect(first.isRetry, "\(first)")
        #expect(h.servicenow.incidents.count == 1, "the instance did make it")
        // The retry, as after a restart: a new client, no reference.
        let retry = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        #expect(retry.isDelivered, "\(retry)")
        #expect(h.servicenow.incidents.count == 1)
        #expect(h.servicenow.incidents.first?.workNotes.count == 1)
        #expect(retry.deliveredReference == h.servicenow.incidents.first?.sysID)
    }

    @Test func aResolveThatFailsRetriesAndLeavesTheIncidentOpen() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        _ = await h.deliver(notifier, makeIssue())
        h.servicenow.inject(.delay(.zero))
        h.servicenow.inject(.rateLimited(retryAfter: "3"))
        let resolved = await h.deliver(notifier, makeIssue(status: .resolved))
        #expect(resolved.retryDelay == .seconds(3))
        #expect(h.servicenow.incidents.first?.state == "1")
        let again = await h.deliver(notifier, makeIssue(status: .resolved))
        await h.stop()
        #expect(again.isDelivered)
        #expect(h.servicenow.incidents.first?.state == "6")
    }

    @Test func anUnreachableInstanceRetries() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        await h.stop()
        let result = await h.deliver(notifier, makeIssue())
        #expect(result.isRetry, "\(result)")
        #expect(result.messageText.contains("127.0.0.1"), "\(result.messageText)")
    }

    @Test func aPassedDeadlineRetriesWithoutSending() async throws {
        let h = try await Harness.start()
        let result = await h.deliver(try h.notifier(), makeIssue(), deadline: -1)
        await h.stop()
        #expect(result.isRetry)
        #expect(h.servicenow.calls.isEmpty)
    }

    // MARK: - Limits

    @Test func longTextIsCutToTheFieldLimitsAndAccepted() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        let title = String(repeating: "Ö", count: 150) + String(repeating: "👩‍👩‍👧", count: 40)
        let long = String(repeating: "crash loop détail ", count: 600)
        let result = await h.deliver(notifier, makeIssue(title: title, description: long))
        _ = await h.deliver(notifier, makeIssue(title: title, description: long))
        _ = await h.deliver(notifier, makeIssue(status: .resolved, title: title + long, description: long))
        await h.stop()

        #expect(result.isDelivered, "\(result)")
        let create = try #require(h.servicenow.creates.first)
        #expect(create.status == 201, "\(create.error ?? "") \(create.detail ?? "")")
        let short = try #require(create.body?["short_description"]?.stringValue)
        #expect(short.unicodeScalars.count <= 160)
        #expect(short.hasPrefix("[prod-eu] ÖÖÖ"))
        #expect(short.hasSuffix("…"))
        #expect(!short.contains("\u{200D}…"), "never ends inside an emoji sequence")
        let description = try #require(create.body?["description"]?.stringValue)
        #expect(description.unicodeScalars.count == 4000)
        #expect(description.hasSuffix("…"))
        #expect(h.servicenow.updates.map(\.status) == [200, 200], "the work note and the resolve were accepted")
        let notes = h.servicenow.updates.compactMap { $0.body?["work_notes"]?.stringValue }
        #expect(notes.allSatisfy { $0.unicodeScalars.count <= 4000 })
        #expect(h.servicenow.incidents.first?.isResolved == true)
    }

    @Test func shortDescriptionIsExactly160WhenCut() {
        let issue = makeIssue(title: String(repeating: "x", count: 500), cluster: nil)
        let short = ServiceNowPayload.shortDescription(issue)
        #expect(short.unicodeScalars.count == 160)
        #expect(short == String(repeating: "x", count: 159) + "…")
        #expect(ServiceNowPayload.shortDescription(makeIssue(title: "Short", cluster: nil)) == "Short")
    }

    // MARK: - Secrets

    /// A proxy or gateway that quotes the Authorization header back: neither the password
    /// nor its base64 form reaches the result or the log.
    @Test(arguments: [401, 403, 500])
    func theCredentialIsNeverEchoed(status: Int) async throws {
        let h = try await Harness.start()
        h.servicenow.inject(.echoCredentials(status: status))
        let result = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        let basic = Data("\(testUsername):\(testPassword)".utf8).base64EncodedString()
        #expect(h.servicenow.calls.first?.detail?.contains(basic) == true, "the double did echo it")
        let surfaces = [LeakSurface("result", result.messageText)] + h.logs.all.map { LeakSurface("log", $0) }
        assertNoSecret(testPassword, in: surfaces)
        assertNoSecret(basic, in: surfaces)
        #expect(result.messageText.contains("<redacted>"), "\(result.messageText)")
    }

    /// Across a whole lifecycle with failures, no log line or result carries the password.
    @Test func noLogLineOrResultCarriesThePassword() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        var results: [DeliveryResult] = []
        h.servicenow.inject(.serverError(500))
        results.append(await h.deliver(notifier, makeIssue()))
        results.append(await h.deliver(notifier, makeIssue()))
        results.append(await h.deliver(notifier, makeIssue()))
        results.append(await h.deliver(notifier, makeIssue(status: .resolved)))
        await h.stop()
        #expect(h.logs.all.count == 4)
        let basic = Data("\(testUsername):\(testPassword)".utf8).base64EncodedString()
        let surfaces = results.map { LeakSurface("result", $0.messageText) } + h.logs.all.map { LeakSurface("log", $0) }
        assertNoSecret(testPassword, in: surfaces)
        assertNoSecret(basic, in: surfaces)
    }

    /// An OAuth bearer token instead of Basic auth.
    @Test func aBearerTokenAuthenticates() async throws {
        _ = curlSetup
        let token = "sn-oauth-token-8e2f1a9b-TOKEN"
        let servicenow = try await ServiceNowDouble.start(token: token)
        let logs = LogSink()
        let notifier = ServiceNowNotifier(config: try ServiceNowConfig(.object([
            "instance_url": .string(servicenow.instanceURL), "token": .string(token),
        ]))) { logs.record($0, $1, $2) }
        let request = DeliveryRequest(issue: makeIssue(), issueJSON: [], attempt: 1, deadline: Date().addingTimeInterval(10),
                                      idempotencyKey: "k", reference: nil)
        let result = await BlockingThread.run { notifier.deliver(request) }
        await servicenow.stop()
        #expect(result.isDelivered, "\(result)")
        #expect(servicenow.creates.first?.headers["authorization"] == "Bearer " + token)
        assertNoSecret(token, in: logs.all, named: "log line")
    }
}
