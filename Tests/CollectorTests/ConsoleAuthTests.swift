@testable import Collector
import CanoSDK
import Foundation
import Testing

/// The console's admin sessions, csrf tokens and origin checks (ConsoleAuth), with the
/// clock given: a session ends at its expiry wherever the cookie went, and another site's
/// origin never passes.
@Suite struct ConsoleAuthTests {
    let auth = ConsoleAuth(read: .none, adminToken: Secret("console-auth-test-token"), externalURL: "https://cano.example.com/base")

    func request(cookie: String? = nil, csrf: String? = nil, origin: String? = nil, host: String? = "127.0.0.1:9099") -> ConsoleRequest {
        ConsoleRequest(method: "POST", path: "/dead-letters/retry", form: csrf.map { ["csrf": $0] } ?? [:],
                       cookies: cookie.map { [ConsoleAuth.sessionCookie: $0] } ?? [:], origin: origin, host: host)
    }

    @Test func aSessionLastsTwelveHoursAndCarriesItsOwnCsrfToken() throws {
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        let session = try #require(auth.newSession(now: start))
        #expect(!session.contains("console-auth-test-token"))
        #expect(auth.session([ConsoleAuth.sessionCookie: session], now: start.addingTimeInterval(11 * 3600)) == session)
        #expect(auth.session([ConsoleAuth.sessionCookie: session], now: start.addingTimeInterval(12 * 3600 + 1)) == nil, "expired")
        let later = try #require(auth.newSession(now: start.addingTimeInterval(60)))
        #expect(later != session && auth.csrfToken(for: later) != auth.csrfToken(for: session), "each session has its own token")

        // A forged expiry, or a session of another admin token, is refused.
        let forged = "9999999999999." + session.split(separator: ".")[1]
        #expect(auth.session([ConsoleAuth.sessionCookie: forged], now: start) == nil)
        let other = ConsoleAuth(read: .none, adminToken: Secret("another-admin-token"))
        #expect(other.session([ConsoleAuth.sessionCookie: session], now: start) == nil, "rotating the token ends every session")
        #expect(ConsoleAuth(read: .none, adminToken: nil).newSession() == nil, "no admin token: no session")
    }

    @Test func writesNeedTheSessionAndItsToken() throws {
        let session = try #require(auth.newSession())
        let token = auth.csrfToken(for: session)
        #expect(auth.writeRefusal(request(cookie: session, csrf: token)) == nil)
        #expect(auth.writeRefusal(request(cookie: session, csrf: token, origin: "http://127.0.0.1:9099")) == nil)
        #expect(auth.writeRefusal(request(csrf: token)) != nil, "no session")
        #expect(auth.writeRefusal(request(cookie: session)) != nil, "no token")
        #expect(auth.writeRefusal(request(cookie: session, csrf: auth.csrfToken(for: try #require(auth.newSession(now: Date().addingTimeInterval(5))))) ) != nil,
                "another session's token")
    }

    @Test(arguments: [
        ("http://127.0.0.1:9099", "127.0.0.1:9099", true),
        ("https://cano.example.com", "cano.example.com:443", true),   // the default port, written or not
        ("http://cano.example.com", "cano.example.com:80", true),
        ("https://cano.example.com", "10.0.0.7:9099", true),          // server.external_url behind a proxy
        ("http://evil.example", "127.0.0.1:9099", false),
        ("http://127.0.0.1:9098", "127.0.0.1:9099", false),
        ("null", "127.0.0.1:9099", false),
        ("javascript:alert(1)", "127.0.0.1:9099", false),
    ])
    func origins(origin: String, host: String, allowed: Bool) {
        #expect((auth.crossSiteRefusal(request(origin: origin, host: host)) == nil) == allowed)
    }

    @Test func backPathsStayInsideTheConsole() {
        #expect(Console.localPath("/silences?matchers=a%3D%22b%22") == "/silences?matchers=a%3D%22b%22")
        for hostile in ["//evil.example", "/../api/alerts", "https://evil.example", "/x'\"<>", "/\\evil", nil] {
            #expect(Console.localPath(hostile) == "/")
        }
    }
}
