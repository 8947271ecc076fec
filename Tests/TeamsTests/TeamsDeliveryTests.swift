import CanoSDK
import Collector
import Foundation
import Testing
import TestSupport
@testable import TeamsDestination

/// Deliveries against the strict Teams double: what is sent, how each answer maps to a
/// result, and that the webhook URL (the credential) never leaks.
@Suite struct TeamsDeliveryTests {
    /// Power Automate answers 202 Accepted with an empty body: success (Robusta #1893
    /// treated it as an error).
    @Test func workflow202EmptyBodyIsDelivered() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let result = try await h.notifier().deliverOnThread(Sample.issue())
        #expect(result.isDelivered, "\(result)")
        #expect(result.message.contains("HTTP 202"))
        #expect(h.teams.rejections.isEmpty, "\(h.teams.rejections)")
        #expect(h.teams.cards.count == 1)
        let request = try #require(h.teams.requests.first)
        #expect(request.method == "POST")
        #expect(request.target == TeamsDouble.samplePath, "posted to the URL as configured, query and signature included")
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("User-Agent")?.hasPrefix("cano-collector-msteams/") == true)
        let reference = try #require(result.reference)
        #expect(RFC3339.parse(reference) != nil, "the firing returns when it was posted")
        try await AdaptiveCardSchema.validate(messages: h.teams.acceptedBodies)
    }

    @Test func connector200WithBody1IsDelivered() async throws {
        let h = try await Harness.start(mode: .connector)
        defer { stopLater { await h.stop() } }
        let result = try await h.notifier().deliverOnThread(Sample.issue())
        #expect(result.isDelivered, "\(result)")
    }

    /// Robusta #841: an emoji in the title must not cause a 400.
    @Test func emojiTitleIsAccepted() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let title = "🔥 Disk full on node-3 💾 👩‍💻 🇫🇷"
        let result = try await h.notifier().deliverOnThread(Sample.issue(title: title))
        #expect(result.isDelivered, "\(result)")
        #expect(h.teams.rejections.isEmpty)
        let card = try #require(h.teams.cards.first)
        #expect(card["body"]?.arrayValue?.first?["items"]?.arrayValue?.first?["text"]?.stringValue == title)
        try await AdaptiveCardSchema.validate(messages: h.teams.acceptedBodies)
    }

    /// The resolve posts a second card that names the first, with the posting time the
    /// firing returned as its reference.
    @Test func resolvePostsACardReferencingTheFiring() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier()
        let firing = try await notifier.deliverOnThread(Sample.issue())
        let reference = try #require(firing.reference)
        let resolved = try await notifier.deliverOnThread(Sample.issue(.resolved), reference: reference)
        #expect(resolved.isDelivered, "\(resolved)")
        #expect(resolved.reference == nil)
        #expect(h.teams.cards.count == 2)
        let card = h.teams.cards[1]
        let line = try #require(textsOf(card).first { $0.hasPrefix("Resolves ") })
        let posted = try #require(RFC3339.parse(reference))
        #expect(line.contains("**KubePodCrashLooping**, which fired at 2026-01-01 00:00:00 UTC"))
        #expect(line.contains("(its card was posted at \(TeamsCardBuilder.time(posted)))"))
        try await AdaptiveCardSchema.validate(messages: h.teams.acceptedBodies)
    }

    @Test func rateLimitWithRetryAfterRetriesThen() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        h.teams.inject(.rateLimited(retryAfter: "7"))
        h.teams.inject(.rateLimited(retryAfter: nil))
        let notifier = try h.notifier()
        let first = try await notifier.deliverOnThread(Sample.issue())
        #expect(first.isRetry, "\(first)")
        #expect(first.retryAfter == .seconds(7))
        #expect(first.message.contains("HTTP 429"))
        let second = try await notifier.deliverOnThread(Sample.issue())
        #expect(second.isRetry)
        #expect(second.retryAfter == nil)
        let third = try await notifier.deliverOnThread(Sample.issue())
        #expect(third.isDelivered, "once the limit passes, the same card goes through")
    }

    @Test(arguments: [500, 502, 503, 504])
    func serverErrorsRetry(status: Int) async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        h.teams.inject(.serverError(status))
        let result = try await h.notifier().deliverOnThread(Sample.issue())
        #expect(result.isRetry, "\(result)")
        #expect(result.message.contains("HTTP \(status)"))
    }

    /// 400 and 413 are permanent, with the service's own text.
    @Test(arguments: [(400, "Bad Request: the card is invalid"), (413, "Request Entity too large")])
    func clientErrorsArePermanentWithTheServiceText(status: Int, text: String) async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        h.teams.inject(.response(CaptureServer.Response(status: status, headers: [("Content-Type", "text/plain")], body: Array(text.utf8))))
        let result = try await h.notifier().deliverOnThread(Sample.issue())
        #expect(result.isPermanent, "\(result)")
        #expect(result.message.contains("HTTP \(status)"))
        #expect(result.message.contains(text))
    }

    @Test func connectorThrottleIn200BodyRetries() async throws {
        let h = try await Harness.start(mode: .connector)
        defer { stopLater { await h.stop() } }
        let body = "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0"
        h.teams.inject(.response(CaptureServer.Response(status: 200, body: Array(body.utf8))))
        let result = try await h.notifier().deliverOnThread(Sample.issue())
        #expect(result.isRetry, "\(result)")
    }

    @Test func timeoutRetries() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        h.teams.inject(.response(CaptureServer.Response(status: 202, delay: .seconds(3))))
        let result = try await h.notifier(["timeout": .string("300ms")]).deliverOnThread(Sample.issue())
        #expect(result.isRetry, "\(result)")
    }

    @Test func unreachableServiceRetries() async throws {
        let h = try await Harness.start()
        let url = h.teams.url
        await h.stop()
        let logs = LogSink()
        let notifier = TeamsNotifier(config: try TeamsConfig(.object(["url": .string(url), "timeout": .string("5s")]))) { logs.record($0, $1, $2) }
        let result = try await notifier.deliverOnThread(Sample.issue())
        #expect(result.isRetry, "\(result)")
        assertNoSecret(TeamsDouble.sampleSignature, in: [LeakSurface("result", result.message)] + logs.all.map { LeakSurface("log", $0) })
    }

    /// The URL is the credential: a service (or proxy) that echoes it in an error must not
    /// put it, or its signature, into a result or a log line.
    @Test func webhookURLNeverLeaks() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let echo = "Invalid request to \(h.teams.url) (sig=\(TeamsDouble.sampleSignature))"
        h.teams.inject(.response(CaptureServer.Response(status: 400, body: Array(echo.utf8))))
        h.teams.inject(.response(CaptureServer.Response(status: 503, body: Array(echo.utf8))))
        let notifier = try h.notifier()
        var results: [DeliveryResult] = []
        for _ in 0..<3 { results.append(try await notifier.deliverOnThread(Sample.issue())) }
        #expect(results.map(\.isPermanent) == [true, false, false])
        #expect(results[0].message.contains("Invalid request to"), "the service's text is kept: \(results[0].message)")
        #expect(results[0].message.contains(h.teams.server.baseURL.replacingOccurrences(of: "http://", with: "")), "the origin is named")
        let surfaces = results.map { LeakSurface("result", $0.message) } + h.logs.all.map { LeakSurface("log", $0) }
        assertNoSecret(TeamsDouble.sampleSignature, in: surfaces)
        assertNoSecret(TeamsDouble.samplePath, in: surfaces)
        #expect(!h.logs.all.isEmpty)
    }

    @Test func passedDeadlineRetriesWithoutSending() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier()
        let request = try Sample.request(Sample.issue(), timeout: -1)
        let result = await BlockingThread.run { notifier.deliver(request) }
        #expect(result.isRetry, "\(result)")
        #expect(h.teams.requests.isEmpty)
    }
}
