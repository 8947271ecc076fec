import CanoSDK
import Crypto
import Foundation

/// Who may do what in the console:
/// - **read**: the `Authorization` header that `ui.auth` (or else `server.auth`) accepts;
///   basic auth is what a browser asks for by itself;
/// - **write** (retry dead letters, add and expire silences): an admin session, made by
///   signing in with `server.admin_token`, held in an HttpOnly, SameSite=Strict cookie;
///   and, against cross-site request forgery, the form's `csrf` token and a same-origin
///   `Origin` (or `Sec-Fetch-Site`) when the browser sends one.
///
/// Sessions are stateless: the cookie is an HMAC of a fixed label under the admin token,
/// so every replica accepts it and rotating the token ends every session. The token itself
/// never leaves the server.
struct ConsoleAuth: Sendable {
    /// The admin session cookie's name.
    static let sessionCookie = "cano_admin"
    /// The one-shot message cookie shown after a write (``Console``'s flash).
    static let flashCookie = "cano_flash"

    let read: IntakeAuth
    private let admin: Secret?
    /// The session cookie's value for a signed-in admin, or nil without an admin token.
    let sessionValue: String?
    /// The form token that proves a write comes from a console page.
    let csrfToken: String?

    init(read: IntakeAuth, adminToken: Secret?) {
        self.read = read
        self.admin = adminToken
        let key = adminToken.map { SymmetricKey(data: Array($0.value.utf8)) }
        sessionValue = key.map { Self.mac("cano-console-session-v1", $0) }
        csrfToken = key.map { Self.mac("cano-console-csrf-v1", $0) }
    }

    /// The admin token, for the silences API the console calls in-process once a write
    /// passed ``writeRefusal(_:)``. Never rendered.
    var adminToken: String? { admin?.value }

    /// True when writes can be enabled at all (`server.admin_token` is set).
    var adminConfigured: Bool { admin != nil }

    func canRead(_ authorization: String?) -> Bool { read.accepts(authorization) }

    /// True when `token` is the admin token (constant time).
    func isAdminToken(_ token: String) -> Bool {
        guard let admin else { return false }
        return ConstantTime.equal(Array(admin.value.utf8), Array(token.utf8))
    }

    /// True when the request carries the admin session cookie.
    func isAdmin(cookies: [String: String]) -> Bool {
        guard let expected = sessionValue, let presented = cookies[Self.sessionCookie] else { return false }
        return ConstantTime.equal(Array(presented.utf8), Array(expected.utf8))
    }

    /// Why a write must be refused, or nil: an admin session, the form's csrf token, and no
    /// sign of another site (`Origin` naming another host, `Sec-Fetch-Site: cross-site`).
    func writeRefusal(_ request: ConsoleRequest) -> String? {
        if let refusal = crossSiteRefusal(request) { return refusal }
        guard isAdmin(cookies: request.cookies) else { return "this needs an admin session: sign in with the admin token (server.admin_token)" }
        guard let expected = csrfToken, let presented = request.form["csrf"],
              ConstantTime.equal(Array(presented.utf8), Array(expected.utf8)) else {
            return "the form's csrf token is missing or wrong: reload the page and try again"
        }
        return nil
    }

    /// Refuses a request a browser says comes from another site (also for signing in, so no
    /// other site can sign a browser in or out).
    func crossSiteRefusal(_ request: ConsoleRequest) -> String? {
        if request.secFetchSite == "cross-site" { return "cross-site requests are refused" }
        if let origin = request.origin, origin != "null" {
            let host = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
            guard let host, let expected = request.host, host.lowercased() == expected.lowercased() else {
                return "the request's Origin is not this console's"
            }
        } else if request.origin == "null" {
            return "the request's Origin is opaque"
        }
        return nil
    }

    private static func mac(_ label: String, _ key: SymmetricKey) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(label.utf8), using: key).map { String(format: "%02x", $0) }.joined()
    }
}
