import CanoSDK
import Collector
import Foundation
import Testing
import TestSupport
@testable import DatadogDestination

/// The notifier against the strict double: what reaches Datadog, and how answers map to results.
@Suite struct DatadogDeliveryTests {
    /// v2 (the default): firing and resolve are two alert events with one aggregation_key,
    /// status error then ok, the key in DD-API-KEY and nowhere else.
    @Test func v2FiringThenResolveShareTheAggregationKey() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier(["tag_labels": ["alertname"], "tags": ["env:prod"]])
        let firing = try await notifier.deliverOnThread(Sample.issue())
        #expect(firing.isDelivered, "\(firing)")
        #expect(firing.reference?.hasPrefix("AZ") == true, "Datadog's event id is kept")
        let resolve = try await notifier.deliverOnThread(Sample.issue(.resolved))
        #expect(resolve.isDelivered, "\(resolve)")
        #expect(h.datadog.rejections.isEmpty, "\(h.datadog.rejections)")

        let events = h.datadog.events(aggregationKey: "3f2a9c0d11e4b7a8")
        try #require(events.count == 2)
        #expect(events.map(\.version) == ["v2", "v2"])
        #expect(events.map(\.alertType) == ["error", "ok"])
        #expect(events[0].title == "KubePodCrashLooping")
        #expect(events[1].title == "Resolved: KubePodCrashLooping")
        #expect(events[0].tags == ["env:prod", "namespace:shop", "cluster:prod-eu", "alertname:kubepodcrashlooping"])
        #expect(events[0].apiKey == testAPIKey)
        let request = try #require(h.datadog.requests.first)
        #expect(request.target == "/api/v2/events")
        #expect(request.header("Content-Type") == "application/json")
        #expect(!String(decoding: request.body, as: UTF8.self).contains(testAPIKey), "the key travels only in the header")
        #expect(firing.message.contains("Datadog accepted the firing event (aggregation_key 3f2a9c0d11e4b7a8) (v2)"))
    }

    /// v1 on a site that has it: alert_type error then success, same aggregation_key.
    @Test func v1FiringThenResolve() async throws {
        let h = try await Harness.start(site: "US1-FED")
        defer { stopLater { await h.stop() } }
        let notifier = try h.notifier(["api_version": "v1"])
        #expect(try await notifier.deliverOnThread(Sample.issue()).isDelivered)
        let resolve = try await notifier.deliverOnThread(Sample.issue(.resolved))
        #expect(resolve.isDelivered, "\(resolve)")
        #expect(resolve.reference == "7000000000000000002", "v1's id_str is kept")
        #expect(h.datadog.rejections.isEmpty, "\(h.datadog.rejections)")
        let events = h.datadog.events
        #expect(events.map(\.version) == ["v1", "v1"])
        #expect(events.map(\.alertType) == ["error", "success"])
        #expect(events.map(\.aggregationKey) == ["3f2a9c0d11e4b7a8", "3f2a9c0d11e4b7a8"])
        #expect(h.datadog.requests.map(\.target) == ["/api/v1/events", "/api/v1/events"])
    }

    /// On UK1 the default is v2, which the double serves; it has no v1 path at all.
    @Test func uk1UsesV2() async throws {
        let h = try await Harness.start(site: "UK1")
        defer { stopLater { await h.stop() } }
        #expect(try await h.notifier().deliverOnThread(Sample.issue()).isDelivered)
        #expect(h.datadog.events.first?.version == "v2")
    }

    /// A 4,000+ character text arrives cut, and the double (which enforces the limit) takes it.
    @Test func longTextIsAccepted() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        var issue = Sample.issue()
        issue.description = String(repeating: "crash ", count: 2_000)
        issue.title = String(repeating: "T", count: 700)
        for version in ["v1", "v2"] {
            let result = try await h.notifier(["api_version": .string(version)]).deliverOnThread(issue)
            #expect(result.isDelivered, "\(version): \(result)")
        }
        #expect(h.datadog.events.allSatisfy { $0.text.hasSuffix(DatadogPayload.textCutMarker) })
        #expect(h.datadog.events.map { $0.title.unicodeScalars.count } == [100, 500])
    }

    /// 429 with X-RateLimit-Reset (and no Retry-After, as Datadog sends it) retries after
    /// exactly that many seconds.
    @Test func rateLimitRetriesAfterTheReset() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        h.datadog.inject(.rateLimited(reset: 17))
        let result = try await h.notifier().deliverOnThread(Sample.issue())
        #expect(result.isRetry, "\(result)")
        #expect(result.retryAfter == .seconds(17))
        #expect(result.message.contains("HTTP 429"))
        #expect(result.message.contains("Too many requests"))
    }

    /// A Retry-After, when a proxy adds one, wins over the reset header.
    @Test func retryAfterWins() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        h.datadog.inject(.response(CaptureServer.Response(status: 429, headers: [("Retry-After", "3"), ("X-RateLimit-Reset", "40")])))
        #expect(try await h.notifier().deliverOnThread(Sample.issue()).retryAfter == .seconds(3))
    }

    @Test func rateLimitResetParsing() {
        #expect(DatadogNotifier.rateLimitReset(HTTPResponse(status: 429, headers: [HTTPHeader(name: "x-ratelimit-reset", value: " 5 ")])) == .seconds(5))
        #expect(DatadogNotifier.rateLimitReset(HTTPResponse(status: 429, headers: [HTTPHeader(name: "X-RateLimit-Reset", value: "soon")])) == nil)
        #expect(DatadogNotifier.rateLimitReset(HTTPResponse(status: 429, headers: [HTTPHeader(name: "X-RateLimit-Reset", value: "-1")])) == nil)
        #expect(DatadogNotifier.rateLimitReset(HTTPResponse(status: 429, headers: [HTTPHeader(name: "X-RateLimit-Reset", value: "99999")])) == nil)
        // Absurd values are refused, not converted: Int64(1e300 * 1000) would trap.
        for absurd in ["1e300", "inf", "nan"] {
            #expect(DatadogNotifier.rateLimitReset(HTTPResponse(status: 429, headers: [HTTPHeader(name: "X-RateLimit-Reset", value: absurd)])) == nil)
        }
        #expect(DatadogNotifier.rateLimitReset(HTTPResponse(status: 429, headers: [HTTPHeader(name: "X-RateLimit-Reset", value: "3600")])) == .seconds(3600))
        #expect(DatadogNotifier.rateLimitReset(HTTPResponse(status: 503, headers: [HTTPHeader(name: "X-RateLimit-Reset", value: "5")])) == nil)
    }

    @Test(arguments: [500, 502, 503])
    func serverErrorsRetry(status: Int) async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        h.datadog.inject(.serverError(status))
        let notifier = try h.notifier()
        let result = try await notifier.deliverOnThread(Sample.issue())
        #expect(result.isRetry, "\(result)")
        #expect(result.retryAfter == nil)
        #expect(result.message.contains("HTTP \(status)"))
        // The next attempt goes through.
        #expect(try await notifier.deliverOnThread(Sample.issue()).isDelivered)
    }

    /// A wrong key: 403 from the double, permanent, with Datadog's errors and a hint, and
    /// neither key in the message or the log.
    @Test func wrongKeyIsPermanent() async throws {
        let h = try await Harness.start(apiKeys: ["another0key0entirely0000000000000"])
        defer { stopLater { await h.stop() } }
        let result = try await h.notifier().deliverOnThread(Sample.issue())
        #expect(result.isPermanent, "\(result)")
        #expect(result.message.contains("HTTP 403"))
        #expect(result.message.contains("Forbidden"))
        #expect(result.message.contains("check api_key"))
        assertNoSecret(testAPIKey, in: [LeakSurface("result", result.message)] + h.logs.all.map { LeakSurface("log", $0) })
    }

    /// A 400 carries Datadog's `errors` text, v1 strings and v2 JSON:API objects alike.
    @Test func badRequestIsPermanentWithDatadogsErrors() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let v1Body = Array(#"{"errors":["Event title is required"]}"#.utf8)
        h.datadog.inject(.response(CaptureServer.Response(status: 400, headers: [("Content-Type", "application/json")], body: v1Body)))
        let v1 = try await h.notifier().deliverOnThread(Sample.issue())
        #expect(v1.isPermanent)
        #expect(v1.message.contains("Datadog rejected the firing event"))
        #expect(v1.message.contains("HTTP 400 from \(h.datadog.url): Event title is required"))
        let v2Body = Array(#"{"errors":[{"status":"400","title":"Bad Request","detail":"invalid category"}]}"#.utf8)
        h.datadog.inject(.response(CaptureServer.Response(status: 400, body: v2Body)))
        let v2 = try await h.notifier().deliverOnThread(Sample.issue())
        #expect(v2.isPermanent)
        #expect(v2.message.contains("Bad Request: invalid category"))
    }

    /// A service (or proxy) that echoes the key in its error text: the key never reaches
    /// the result or the log.
    @Test func echoedKeyIsRedacted() async throws {
        let h = try await Harness.start()
        defer { stopLater { await h.stop() } }
        let body = Array(#"{"errors":["API key \#(testAPIKey) is invalid"]}"#.utf8)
        for status in [400, 403, 429, 500] {
            h.datadog.inject(.response(CaptureServer.Response(status: status, body: body)))
        }
        let notifier = try h.notifier()
        var surfaces: [LeakSurface] = []
        for _ in 0..<4 {
            let result = try await notifier.deliverOnThread(Sample.issue())
            #expect(!result.isDelivered)
            #expect(result.message.contains("API key <redacted> is invalid"), "\(result)")
            surfaces.append(LeakSurface("result", result.message))
        }
        assertNoSecret(testAPIKey, in: surfaces + h.logs.all.map { LeakSurface("log", $0) })
    }

    /// Odd success bodies never trap: an id too large for an integer is simply not kept.
    @Test func answerParsing() {
        #expect(DatadogAnswer(Array(#"{"status":"ok","event":{"id":1e300}}"#.utf8)).eventID == nil)
        #expect(DatadogAnswer(Array(#"{"status":"ok","event":{"id":42}}"#.utf8)).eventID == "42")
        #expect(DatadogAnswer(Array("<html>".utf8)).eventID == nil)
        #expect(DatadogAnswer(Array(#"{"errors":["a",{"title":"B","detail":"c"},{"detail":"d"},7]}"#.utf8)).errors == ["a", "B: c", "d"])
    }

    @Test func connectionRefusedRetries() async throws {
        _ = curlSetup
        let config = try DatadogConfig(["api_key": .string(testAPIKey), "api_url": "http://127.0.0.1:1", "timeout": "5s"])
        let logs = LogSink()
        let notifier = DatadogNotifier(config: config) { logs.record($0, $1, $2) }
        let result = try await notifier.deliverOnThread(Sample.issue())
        #expect(result.isRetry, "\(result)")
        assertNoSecret(testAPIKey, in: [LeakSurface("result", result.message)] + logs.all.map { LeakSurface("log", $0) })
    }
}
