import CanoSDK
import Collector
import Foundation
import Testing
import TestSupport
@testable import DatadogDestination

/// Issue #14: create checks the API key once with Datadog's key validation endpoint
/// (`GET https://api.<site>/api/v1/validate`, `DD-API-KEY`), as plugins.md §2 allows: a
/// rejection (403, or `{"valid": false}`) fails create naming the check and the fix; an
/// unreachable or odd Datadog only warns; `cano-collector validate` makes no call at all.
@Suite("Datadog API key check at create") struct DatadogKeyCheckTests {
    @Test func aGoodKeyPassesWithOneCheckOnTheAPIPath() async throws {
        let h = try await Harness.start()
        let host = TestHost()
        let failure = await h.create(host: host)
        await h.stop()
        #expect(failure == nil, "\(failure ?? "")")
        #expect(h.datadog.allRequests.count == 1, "one check, nothing else: \(h.datadog.allRequests.map(\.target))")
        let check = try #require(h.datadog.keyChecks.first)
        #expect(check.method == "GET")
        #expect(check.target == "/api/v1/validate", "the validation path under api_url, as the events are")
        #expect(check.header("DD-API-KEY") == testAPIKey)
        #expect(check.body.isEmpty)
        #expect(h.datadog.requests.isEmpty, "no event was posted by the check")
        #expect(host.logs.lines.contains { $0.contains("datadog API key checked") }, "\(host.logs.lines)")
    }

    /// A key Datadog refuses (wrong, revoked, an application key, another site's) fails
    /// create at start, so the destination shows unready instead of dead-lettering later.
    @Test func aRejectedKeyFailsCreateNamingTheCheckAndTheFixWithoutTheKey() async throws {
        let h = try await Harness.start(apiKeys: ["some0other0organisations0key0000"])
        let host = TestHost()
        let failure = await h.create(host: host)
        await h.stop()
        let message = try #require(failure, "create succeeded with a key Datadog rejects")
        #expect(message.contains("Datadog API key check (GET /api/v1/validate) rejected the key"), "\(message)")
        #expect(message.contains("HTTP 403"), "\(message)")
        #expect(message.contains("Forbidden"), "Datadog's own words: \(message)")
        #expect(message.contains("api_key") && message.contains("site"), "the fix names the key and the site: \(message)")
        assertNoSecret(testAPIKey, in: [LeakSurface("create error", message)] + host.logs.lines.map { LeakSurface("log", $0) })
        #expect(h.datadog.requests.isEmpty, "nothing posted")
    }

    /// A 200 that says `{"valid": false}` is a rejection too.
    @Test func validFalseFailsCreate() async throws {
        let h = try await Harness.start()
        h.datadog.inject(.response(CaptureServer.Response(
            status: 200, headers: [("Content-Type", "application/json")], body: Array(#"{"valid":false}"#.utf8))))
        let failure = await h.create()
        await h.stop()
        let message = try #require(failure)
        #expect(message.contains("Datadog API key check (GET /api/v1/validate) rejected the key"), "\(message)")
        #expect(message.contains("valid: false"), "\(message)")
    }

    /// An echoed key in Datadog's (or a proxy's) refusal must not reach create's error.
    @Test func anEchoedKeyIsRedacted() async throws {
        let h = try await Harness.start()
        h.datadog.inject(.response(CaptureServer.Response(
            status: 403, headers: [("Content-Type", "application/json")], body: Array(#"{"errors":["Forbidden: \#(testAPIKey)"]}"#.utf8))))
        let host = TestHost()
        let failure = await h.create(host: host)
        await h.stop()
        let message = try #require(failure)
        assertNoSecret(testAPIKey, in: [LeakSurface("create error", message)] + host.logs.lines.map { LeakSurface("log", $0) })
    }

    /// `cano-collector validate` must work offline and in CI: no request at all, even with a
    /// key Datadog would refuse.
    @Test func validateOnlyMakesNoCall() async throws {
        let h = try await Harness.start(apiKeys: ["some0other0organisations0key0000"])
        let failure = await h.create(host: TestHost(validateOnly: true))
        await h.stop()
        #expect(failure == nil, "\(failure ?? "")")
        #expect(h.datadog.allRequests.isEmpty, "\(h.datadog.allRequests.map(\.target))")
    }

    /// A Datadog that cannot be reached must not keep the collector from starting (plugins.md §2).
    @Test func anUnreachableDatadogOnlyWarns() async throws {
        let h = try await Harness.start()
        let host = TestHost()
        // Port 1 on loopback: connection refused at once.
        let failure = await h.create(["api_url": "http://127.0.0.1:1"], host: host)
        await h.stop()
        #expect(failure == nil, "\(failure ?? "")")
        #expect(host.logs.lines.contains { $0.contains("datadog API key check skipped: Datadog did not answer") }, "\(host.logs.lines)")
    }

    /// Server trouble (or a 429) says nothing about the key: a warning, not a failure.
    @Test func serverTroubleOnlyWarns() async throws {
        let h = try await Harness.start()
        h.datadog.inject(.serverError(503))
        let host = TestHost()
        let failure = await h.create(host: host)
        await h.stop()
        #expect(failure == nil, "\(failure ?? "")")
        #expect(host.logs.lines.contains { $0.contains("datadog API key check inconclusive") && $0.contains("HTTP 503") }, "\(host.logs.lines)")
    }

    /// Bounded by `timeout`: a hanging Datadog delays start-up by that much at most, and only warns.
    @Test func aHangIsBoundedByTheConfiguredTimeout() async throws {
        let h = try await Harness.start()
        h.datadog.inject(.response(CaptureServer.Response(status: 200, body: Array(#"{"valid":true}"#.utf8), delay: .seconds(30))))
        let host = TestHost()
        let started = ContinuousClock.now
        let failure = await h.create(["timeout": "300ms"], host: host)
        let took = ContinuousClock.now - started
        #expect(failure == nil, "\(failure ?? "")")
        // Measured across the cooperative pool, which a loaded 2-core machine held for 14 s
        // once: the margin is wide; "skipped" in the log is what shows the timeout acted.
        #expect(took < .seconds(25), "bounded by the timeout, not by the 30 s answer: took \(took)")
        #expect(host.logs.lines.contains { $0.contains("datadog API key check skipped") }, "\(host.logs.lines)")
        await h.stop()
    }

    /// The check goes to the site's API host, never the v2 intake host the events use
    /// (the intake does not serve /api/v1/validate); `api_url` replaces both.
    @Test func theCheckURLIsTheSitesAPIHost() throws {
        let eu = try DatadogConfig(["api_key": .string(testAPIKey), "site": "EU1"])
        #expect(eu.eventsURL == "https://event-management-intake.datadoghq.eu/api/v2/events")
        #expect(eu.keyCheckURL == "https://api.datadoghq.eu/api/v1/validate")
        let gov = try DatadogConfig(["api_key": .string(testAPIKey), "site": "US1-FED", "api_version": "v1"])
        #expect(gov.keyCheckURL == "https://api.ddog-gov.com/api/v1/validate")
        let proxied = try DatadogConfig(["api_key": .string(testAPIKey), "site": "EU1", "api_url": "https://dd-proxy.internal:8443/datadog/"])
        #expect(proxied.keyCheckURL == "https://dd-proxy.internal:8443/datadog/api/v1/validate")
        // UK1: Datadog lists no API host there (destinations.md §6.1), so nothing to call.
        let uk = try DatadogConfig(["api_key": .string(testAPIKey), "site": "UK1"])
        #expect(uk.keyCheckURL == nil)
    }

    /// On UK1 without `api_url` there is no listed API host: create skips the check (and
    /// says so) rather than guess a host.
    @Test func uk1WithoutAnAPIURLSkipsTheCheck() async throws {
        let h = try await Harness.start(site: "UK1")
        let host = TestHost()
        let failure = await h.create(["api_url": .null], host: host)
        await h.stop()
        #expect(failure == nil, "\(failure ?? "")")
        #expect(h.datadog.allRequests.isEmpty)
        #expect(host.logs.lines.contains { $0.contains("datadog API key check skipped") && $0.contains("UK1") }, "\(host.logs.lines)")
    }
}
