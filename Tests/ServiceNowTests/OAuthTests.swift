import CanoSDK
import Foundation
import Testing
import TestSupport
@testable import ServiceNowDestination

/// Issue 13 §3: OAuth client credentials against ServiceNow's token endpoint
/// (`POST /oauth_token.do`), the access token cached in the instance, refreshed before it
/// expires and once on a 401, and no secret (client secret, password, access token) in
/// any message or log line.
@Suite("ServiceNow OAuth") struct ServiceNowOAuthTests {
    /// Every text the plugin produced: results and log lines.
    func surfaces(_ h: Harness, _ results: [DeliveryResult], extra: [String] = []) -> [LeakSurface] {
        results.map { LeakSurface("result", $0.messageText) } + h.logs.all.map { LeakSurface("log", $0) }
            + extra.map { LeakSurface("text", $0) }
    }

    func assertNoOAuthSecret(_ h: Harness, _ results: [DeliveryResult], extra: [String] = []) {
        let surfaces = surfaces(h, results, extra: extra)
        assertNoSecret(testClientSecret, in: surfaces)
        assertNoSecret(PercentEncoding.encode(testClientSecret), in: surfaces)
        assertNoSecret(testPassword, in: surfaces)
        for token in h.servicenow.issuedTokens { assertNoSecret(token, in: surfaces) }
    }

    @Test func clientCredentialsGetOneTokenThatEveryCallCarries() async throws {
        let h = try await Harness.startOAuth()
        let notifier = try h.notifier()
        let first = await h.deliver(notifier, makeIssue())
        let again = await h.deliver(notifier, makeIssue())
        await h.stop()
        #expect(first.isDelivered && again.isDelivered, "\(first) \(again)")
        #expect(h.servicenow.tokenRequests.count == 1, "the token is cached in the instance")
        let request = try #require(h.servicenow.tokenRequests.first)
        #expect(request.method == "POST" && request.status == 200)
        #expect(request.headers["content-type"] == "application/x-www-form-urlencoded")
        #expect(request.headers["authorization"] == nil, "the client authenticates in the form")
        let form = request.form
        #expect(form == ["grant_type": "client_credentials", "client_id": testClientID, "client_secret": testClientSecret])
        let token = try #require(h.servicenow.issuedTokens.first)
        let tableCalls = h.servicenow.calls.filter { $0.path != "/oauth_token.do" }
        #expect(tableCalls.count == 4 && tableCalls.allSatisfy { $0.headers["authorization"] == "Bearer " + token })
        assertNoOAuthSecret(h, [first, again])
    }

    /// With `username` and `password` next to the client, the password grant: the token acts
    /// for that user (and its roles), as on instances without the client credentials grant.
    @Test func theUserAndClientTogetherUseThePasswordGrant() async throws {
        let h = try await Harness.startOAuth(grant: .password)
        let result = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        #expect(result.isDelivered, "\(result)")
        let request = try #require(h.servicenow.tokenRequests.first)
        let form = request.form
        #expect(form == ["grant_type": "password", "client_id": testClientID, "client_secret": testClientSecret,
                         "username": testUsername, "password": testPassword])
        assertNoOAuthSecret(h, [result])
    }

    /// The token is replaced shortly before `expires_in` runs out, so no call is ever sent
    /// with a token about to expire.
    @Test func theTokenIsRefreshedBeforeItExpires() async throws {
        let clock = ManualClock()
        let h = try await Harness.startOAuth(doubleClock: clock, pluginClock: clock)
        let notifier = try h.notifier()
        _ = await h.deliver(notifier, makeIssue())
        clock.advance(1700)  // 100 s left: still used
        _ = await h.deliver(notifier, makeIssue())
        #expect(h.servicenow.tokenRequests.count == 1)
        clock.advance(70)  // 30 s left: replaced first
        let late = await h.deliver(notifier, makeIssue())
        await h.stop()
        #expect(late.isDelivered, "\(late)")
        #expect(h.servicenow.tokenRequests.count == 2)
        #expect(!h.servicenow.calls.contains { $0.status == 401 }, "never sent an expired token")
        let second = try #require(h.servicenow.issuedTokens.last)
        #expect(h.servicenow.calls.last?.headers["authorization"] == "Bearer " + second)
    }

    /// A token the instance no longer takes (expired by its clock, revoked) is replaced
    /// once, and the call sent again.
    @Test func a401GetsANewTokenOnceAndTheCallIsResent() async throws {
        let serverClock = ManualClock()
        let h = try await Harness.startOAuth(doubleClock: serverClock)
        let notifier = try h.notifier()
        _ = await h.deliver(notifier, makeIssue())
        serverClock.advance(1900)  // expired for the double, not for the plugin's clock
        let afterExpiry = await h.deliver(notifier, makeIssue())
        h.servicenow.revokeTokens()
        let afterRevoke = await h.deliver(notifier, makeIssue(status: .resolved))
        await h.stop()
        #expect(afterExpiry.isDelivered, "\(afterExpiry)")
        #expect(afterRevoke.isDelivered, "\(afterRevoke)")
        #expect(h.servicenow.tokenRequests.count == 3)
        #expect(h.servicenow.calls.filter { $0.status == 401 }.count == 2, "one 401 each, then the new token worked")
        #expect(h.servicenow.incidents.first?.isResolved == true)
        assertNoOAuthSecret(h, [afterExpiry, afterRevoke])
    }

    /// A 401 with a brand-new token is permanent: one refresh, never a loop.
    @Test func a401WithAFreshTokenIsPermanentAfterOneRefresh() async throws {
        let h = try await Harness.startOAuth()
        h.servicenow.rejectIssuedTokens()
        let result = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        #expect(result.isPermanent, "\(result)")
        #expect(result.messageText.contains("HTTP 401"), "\(result.messageText)")
        #expect(h.servicenow.tokenRequests.count == 2, "the first token and one refresh")
        assertNoOAuthSecret(h, [result])
    }

    @Test func aWrongClientSecretIsPermanentAndNamesTheTokenEndpoint() async throws {
        let h = try await Harness.startOAuth()
        let wrong = "sn-cs-WRONG-0e9d&x"
        let result = await h.deliver(try h.notifier(["client_secret": .string(wrong)]), makeIssue())
        await h.stop()
        #expect(result.isPermanent, "\(result)")
        #expect(result.messageText.contains("ServiceNow OAuth token request (POST /oauth_token.do)"), "\(result.messageText)")
        #expect(result.messageText.contains("HTTP 401"), "\(result.messageText)")
        #expect(result.messageText.contains("access_denied"), "\(result.messageText)")
        #expect(result.messageText.contains("check client_id and client_secret"), "\(result.messageText)")
        #expect(h.servicenow.incidents.isEmpty)
        assertNoSecret(wrong, in: surfaces(h, [result]))
        assertNoSecret(PercentEncoding.encode(wrong), in: surfaces(h, [result]))
    }

    /// A token endpoint that is down is transient, like the Table API.
    @Test func tokenEndpointTroubleRetries() async throws {
        let h = try await Harness.startOAuth()
        h.servicenow.inject(.serverError(503))
        let result = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        #expect(result.isRetry, "\(result)")
        #expect(result.messageText.contains("POST /oauth_token.do"), "\(result.messageText)")
        #expect(h.servicenow.creates.isEmpty)
    }

    /// A proxy quoting the token request's body (client secret, password) or the refused
    /// Bearer header: neither reaches a message or a log line.
    @Test func echoedSecretsAreRedacted() async throws {
        let h = try await Harness.startOAuth(grant: .password)
        let notifier = try h.notifier()
        h.servicenow.inject(.echoBody(status: 400))
        let echoedForm = await h.deliver(notifier, makeIssue())
        let first = await h.deliver(notifier, makeIssue())
        h.servicenow.inject(.echoCredentials(status: 403))
        let echoedBearer = await h.deliver(notifier, makeIssue())
        await h.stop()
        #expect(echoedForm.isPermanent && echoedBearer.isPermanent, "\(echoedForm) \(echoedBearer)")
        #expect(first.isDelivered, "\(first)")
        #expect(echoedBearer.messageText.contains("<redacted>"), "\(echoedBearer.messageText)")
        assertNoOAuthSecret(h, [echoedForm, first, echoedBearer])
    }

    static let mistakes: [([String: JSONValue?], String)] = [
        (["client_secret": nil], "key \"client_id\" needs \"client_secret\" (or client_secret_file: /path"),
        (["client_id": nil], "key \"client_secret\" needs \"client_id\""),
        (["client_secret": ""], "key \"client_secret\" is empty"),
        (["client_secret": 5], "key \"client_secret\": expected a string (or client_secret_file: /path)"),
        (["client_id": "a\nb"], "key \"client_id\": the value contains a line break"),
        (["token": "tok-123456"], "not both"),
        (["username": "cano"], "key \"username\" needs \"password\""),
    ]

    @Test(arguments: mistakes)
    func configMistakesAreNamed(changes: [String: JSONValue?], message: String) {
        var object: [String: JSONValue] = [
            "instance_url": "https://acme.service-now.com", "client_id": .string(testClientID), "client_secret": .string(testClientSecret),
        ]
        for (key, value) in changes { object[key] = value }
        let text: String
        do {
            let config = try ServiceNowConfig(.object(object))
            text = "accepted \(config.auth)"
        } catch {
            text = error.message
        }
        #expect(text.contains(message), "\(text)")
        assertNoSecret(testClientSecret, in: [LeakSurface("config error", text)])
    }

    @Test func theGrantFollowsTheKeys() throws {
        let client = try ServiceNowConfig(.object([
            "instance_url": "https://acme.service-now.com", "client_id": .string(testClientID), "client_secret": .string(testClientSecret),
        ]))
        #expect(client.auth == .oauth(ServiceNowConfig.OAuthClient(clientID: testClientID, clientSecret: testClientSecret, username: nil, password: nil)))
        let withUser = try ServiceNowConfig(.object([
            "instance_url": "https://acme.service-now.com", "client_id": .string(testClientID), "client_secret": .string(testClientSecret),
            "username": "cano", "password": .string(testPassword),
        ]))
        #expect(withUser.auth == .oauth(ServiceNowConfig.OAuthClient(clientID: testClientID, clientSecret: testClientSecret, username: "cano", password: testPassword)))
        let cleaned = SecretSafe.redact("\(testClientSecret) \(PercentEncoding.encode(testClientSecret)) \(testPassword)", prepared: withUser.secrets)
        #expect(cleaned == "<redacted> <redacted> <redacted>")
    }

    /// create's credential check goes through the token endpoint: a client ServiceNow
    /// rejects fails create; validate-only asks for no token either.
    @Test func createChecksTheClientAndValidateOnlyFetchesNothing() async throws {
        let h = try await Harness.startOAuth()
        let ok = await h.create()
        let host = TestHost()
        let rejected = await h.create(["client_secret": "sn-cs-rejected-77"], host: host)
        let before = h.servicenow.calls.count
        let dry = await h.create(["client_secret": "sn-cs-rejected-77"], host: TestHost(validateOnly: true))
        await h.stop()
        #expect(ok == nil, "\(ok ?? "")")
        let message = try #require(rejected)
        #expect(message.contains("ServiceNow OAuth token request (POST /oauth_token.do) was rejected: HTTP 401"), "\(message)")
        #expect(message.contains("check client_id and client_secret"), "\(message)")
        assertNoSecret("sn-cs-rejected-77", in: [LeakSurface("create error", message)] + host.logs.lines.map { LeakSurface("log", $0) })
        #expect(dry == nil)
        #expect(h.servicenow.calls.count == before, "validate-only: no token request, no table call")
    }
}
