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
/// Sessions are stateless, so every replica accepts them: the cookie is its expiry and an
/// HMAC of it under the admin token (`<expiry ms>.<hex>`), checked on every write, so a
/// copied cookie dies at its expiry and rotating the token ends every session. The csrf
/// token is an HMAC of the session. The admin token itself never leaves the server.
struct ConsoleAuth: Sendable {
    /// The admin session cookie's name.
    static let sessionCookie = "cano_admin"
    /// The one-shot message cookie shown after a write (``Console``'s flash).
    static let flashCookie = "cano_flash"
    /// How long a session lasts.
    static let sessionLifetime: Duration = .seconds(12 * 3600)

    let read: IntakeAuth
    private let admin: Secret?
    /// Origins besides the request's own `Host` that may post (`server.external_url`'s).
    private let extraOrigins: Set<String>

    init(read: IntakeAuth, adminToken: Secret?, externalURL: String? = nil) {
        self.read = read
        self.admin = adminToken
        self.extraOrigins = Set([externalURL.flatMap(Self.origin)].compactMap { $0 })
    }

    /// True when writes can be enabled at all (`server.admin_token` is set).
    var adminConfigured: Bool { admin != nil }

    func canRead(_ authorization: String?) -> Bool { read.accepts(authorization) }

    /// True when `token` is the admin token (constant time).
    func isAdminToken(_ token: String) -> Bool {
        guard let admin else { return false }
        return ConstantTime.equal(Array(admin.value.utf8), Array(token.utf8))
    }

    /// A new session's cookie value, valid for ``sessionLifetime`` from `now`; nil without
    /// an admin token.
    func newSession(now: Date = Date()) -> String? {
        let expiry = Int64((now.timeIntervalSince1970 + Double(Self.sessionLifetime.components.seconds)) * 1000)
        return mac("cano-console-session-v2:\(expiry)").map { "\(expiry).\($0)" }
    }

    /// The request's session, when it carries a valid, unexpired one.
    func session(_ cookies: [String: String], now: Date = Date()) -> String? {
        guard let presented = cookies[Self.sessionCookie], let dot = presented.firstIndex(of: "."),
              let expiry = Int64(presented[..<dot]), Double(expiry) / 1000 > now.timeIntervalSince1970,
              let expected = mac("cano-console-session-v2:\(expiry)"),
              ConstantTime.equal(Array(presented[presented.index(after: dot)...].utf8), Array(expected.utf8)) else { return nil }
        return presented
    }

    /// The form token of `session`: what proves a write comes from a page of that session.
    func csrfToken(for session: String) -> String { mac("cano-console-csrf-v2:\(session)") ?? "" }

    /// Why a write must be refused, or nil: a valid admin session, its csrf token in the
    /// form, and no sign of another site.
    func writeRefusal(_ request: ConsoleRequest) -> String? {
        if let refusal = crossSiteRefusal(request) { return refusal }
        guard let session = session(request.cookies) else {
            return "this needs an admin session: sign in with the admin token (server.admin_token); sessions last 12 hours"
        }
        guard let presented = request.form["csrf"], ConstantTime.equal(Array(presented.utf8), Array(csrfToken(for: session).utf8)) else {
            return "the form's csrf token is missing or wrong: reload the page and try again"
        }
        return nil
    }

    /// Refuses a request a browser says comes from another site (also for signing in, so no
    /// other site can sign a browser in or out): `Sec-Fetch-Site: cross-site`, an opaque
    /// `Origin`, or an `Origin` that is neither this request's `Host` (default ports
    /// ignored) nor `server.external_url`'s.
    func crossSiteRefusal(_ request: ConsoleRequest) -> String? {
        if request.secFetchSite == "cross-site" { return "cross-site requests are refused" }
        guard let origin = request.origin else { return nil }  // not a browser's post, or an old one: the csrf token decides
        guard origin != "null", let normalized = Self.origin(origin) else { return "the request's Origin is opaque" }
        if extraOrigins.contains(normalized) { return nil }
        let scheme = normalized.hasPrefix("https://") ? "https" : "http"
        guard let host = request.host, Self.origin("\(scheme)://\(host)") == normalized else {
            return "the request's Origin is not this console's"
        }
        return nil
    }

    /// `scheme://host[:port]` in lower case without the scheme's default port, or nil when
    /// `url` is not an http(s) URL.
    static func origin(_ url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = components.host?.lowercased(), !host.isEmpty else { return nil }
        let defaultPort = scheme == "https" ? 443 : 80
        let port = components.port.flatMap { $0 == defaultPort ? nil : $0 }
        return "\(scheme)://\(host)" + (port.map { ":\($0)" } ?? "")
    }

    private func mac(_ label: String) -> String? {
        guard let admin else { return nil }
        return Hex.lowercase(HMAC<SHA256>.authenticationCode(for: Array(label.utf8), using: SymmetricKey(data: Array(admin.value.utf8))))
    }
}
