import CanoSDK
import Foundation
import Testing
import TestSupport
@testable import ServiceNowDestination

/// Issue 13 §4: create checks the credentials once, with the cheapest Table API read
/// (`GET /api/now/table/incident?sysparm_limit=1`), as plugins.md §2 allows: a rejection
/// (401, 403) fails create naming the check and the fix; anything else only warns;
/// `cano-collector validate` (validate-only) makes no call at all.
@Suite("ServiceNow credential check at create") struct ServiceNowCredentialCheckTests {
    @Test func goodCredentialsPassWithOneBoundedRead() async throws {
        let h = try await Harness.start()
        let host = TestHost()
        let failure = await h.create(host: host)
        await h.stop()
        #expect(failure == nil, "\(failure ?? "")")
        #expect(h.servicenow.calls.count == 1, "one check, nothing else")
        let check = try #require(h.servicenow.lookups.first)
        #expect(check.path == "/api/now/table/incident")
        #expect(check.query["sysparm_limit"] == "1")
        #expect(check.status == 200)
        #expect(check.headers["accept"] == "application/json")
    }

    @Test func aWrongPasswordFailsCreateNamingTheCheckAndTheFix() async throws {
        let h = try await Harness.start()
        let host = TestHost()
        let wrong = "sn-wrong-pw-9c1e-WRONGPASSWORD"
        let failure = await h.create(["password": .string(wrong)], host: host)
        await h.stop()
        let message = try #require(failure, "create succeeded with a password ServiceNow rejects")
        #expect(message.contains("ServiceNow credential check (GET /api/now/table/incident?sysparm_limit=1) was rejected"), "\(message)")
        #expect(message.contains("HTTP 401"), "\(message)")
        #expect(message.contains("User Not Authenticated"), "ServiceNow's own words: \(message)")
        #expect(message.contains("check username and password"), "the fix: \(message)")
        let basic = Data("\(testUsername):\(wrong)".utf8).base64EncodedString()
        assertNoSecret(wrong, in: [LeakSurface("create error", message)] + host.logs.lines.map { LeakSurface("log", $0) })
        assertNoSecret(basic, in: [LeakSurface("create error", message)] + host.logs.lines.map { LeakSurface("log", $0) })
    }

    /// 403: the user exists but may not read incidents; deliveries would all fail.
    @Test func aMissingRoleFailsCreateWithTheRoleHint() async throws {
        let h = try await Harness.start()
        h.servicenow.inject(.error(status: 403, message: "ACL Exception", detail: "Failed API level ACL Validation"))
        let failure = await h.create()
        await h.stop()
        let message = try #require(failure)
        #expect(message.contains("was rejected: HTTP 403"), "\(message)")
        #expect(message.contains("ACL Exception"), "\(message)")
        #expect(message.contains("itil"), "the fix names the role: \(message)")
    }

    /// A proxy that quotes the refused Authorization header must not put it in create's error.
    @Test func anEchoedCredentialIsRedacted() async throws {
        let h = try await Harness.start()
        h.servicenow.inject(.echoCredentials(status: 401))
        let host = TestHost()
        let failure = await h.create(host: host)
        await h.stop()
        let message = try #require(failure)
        let basic = Data("\(testUsername):\(testPassword)".utf8).base64EncodedString()
        assertNoSecret(testPassword, in: [LeakSurface("create error", message)])
        assertNoSecret(basic, in: [LeakSurface("create error", message)] + host.logs.lines.map { LeakSurface("log", $0) })
    }

    /// A ServiceNow that is down must not keep the collector from starting (plugins.md §2).
    @Test func serverTroubleOnlyWarns() async throws {
        let h = try await Harness.start()
        h.servicenow.inject(.serverError(503))
        let host = TestHost()
        let failure = await h.create(host: host)
        await h.stop()
        #expect(failure == nil, "\(failure ?? "")")
        #expect(host.logs.lines.contains { $0.contains("servicenow credential check inconclusive") && $0.contains("HTTP 503") }, "\(host.logs.lines)")
    }

    @Test func anUnreachableInstanceOnlyWarns() async throws {
        let h = try await Harness.start()
        let host = TestHost()
        // Port 1 on loopback: connection refused at once.
        let failure = await h.create(["instance_url": "http://127.0.0.1:1"], host: host)
        await h.stop()
        #expect(failure == nil, "\(failure ?? "")")
        #expect(host.logs.lines.contains { $0.contains("servicenow credential check skipped: ServiceNow did not answer") }, "\(host.logs.lines)")
    }

    /// The check is bounded by the configured timeout: a hanging instance delays start-up by
    /// that much at most, and only warns.
    @Test func aHangIsBoundedByTheConfiguredTimeout() async throws {
        let h = try await Harness.start()
        h.servicenow.inject(.delay(.seconds(30)))
        let host = TestHost()
        let started = ContinuousClock.now
        let failure = await h.create(["timeout": "300ms"], host: host)
        let took = ContinuousClock.now - started
        #expect(failure == nil, "\(failure ?? "")")
        // Measured across the cooperative pool, which a loaded 2-core machine held for 14 s
        // once: the margin is wide; "skipped" in the log is what shows the timeout acted.
        #expect(took < .seconds(25), "bounded by the timeout, not by the 30 s answer: took \(took)")
        #expect(host.logs.lines.contains { $0.contains("servicenow credential check skipped") }, "\(host.logs.lines)")
        await h.stop()
    }

    /// `cano-collector validate` must work offline and in CI: no request at all.
    @Test func validateOnlyMakesNoCall() async throws {
        let h = try await Harness.start()
        let failure = await h.create(["password": "sn-wrong-but-unchecked-pw"], host: TestHost(validateOnly: true))
        await h.stop()
        #expect(failure == nil, "\(failure ?? "")")
        #expect(h.servicenow.calls.isEmpty)
    }
}
