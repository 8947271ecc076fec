import CanoSDK
import Foundation

/// One console request, independent of the HTTP server so ``Console`` is tested directly.
public struct ConsoleRequest: Sendable {
    /// `GET` or `POST`.
    public var method: String
    /// The path below the console's base (`/`, `/issues/12`, `/silences`).
    public var path: String
    /// Query parameters (the last value of each name).
    public var query: [String: String]
    /// A POST's `application/x-www-form-urlencoded` fields.
    public var form: [String: String]
    /// The raw `Authorization` header.
    public var authorization: String?
    /// Cookies by name.
    public var cookies: [String: String]
    /// The `Origin` header (browsers send it on POST).
    public var origin: String?
    /// The `Host` header, to compare with `Origin`.
    public var host: String?
    /// The `Sec-Fetch-Site` header (`same-origin`, `cross-site`…).
    public var secFetchSite: String?

    public init(method: String, path: String, query: [String: String] = [:], form: [String: String] = [:], authorization: String? = nil,
                cookies: [String: String] = [:], origin: String? = nil, host: String? = nil, secFetchSite: String? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.form = form
        self.authorization = authorization
        self.cookies = cookies
        self.origin = origin
        self.host = host
        self.secFetchSite = secFetchSite
    }

    /// The path with its query, as a link back to this page (the sign-in form's `back`).
    public var pathWithQuery: String {
        query.isEmpty ? path : path + "?" + query.sorted { $0.key < $1.key }.map { "\(PercentEncoding.encode($0.key))=\(PercentEncoding.encode($0.value))" }.joined(separator: "&")
    }

    /// Parses `application/x-www-form-urlencoded` text (a form body or a query string).
    public static func formFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ") }
            guard let name = parts.first?.removingPercentEncoding else { continue }
            fields[name] = parts.count > 1 ? parts[1].removingPercentEncoding ?? "" : ""
        }
        return fields
    }

    /// Parses a `Cookie` header.
    public static func cookies(_ header: String?) -> [String: String] {
        var cookies: [String: String] = [:]
        for pair in (header ?? "").split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            cookies[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        return cookies
    }
}

/// What the console answers: a status, headers (Set-Cookie, Location…) and an HTML body.
public struct ConsoleResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [HTTPHeader]
    public var body: [UInt8]

    /// An HTML page. What it shows from data (an Issue's text, a destination's message) was
    /// scrubbed of every registered secret where it entered the page: ``shown(_:)`` and
    /// ``HTML/escape(_:)``. Not the page as a whole: a short secret that is also a word of
    /// the page's own markup ("firing", "password") must not break the page.
    static func page(_ status: Int, _ html: String, headers: [HTTPHeader] = []) -> ConsoleResponse {
        ConsoleResponse(status: status, headers: headers + securityHeaders, body: Array(html.utf8))
    }

    /// A plain-text answer (401, 403, 405): what went wrong, in a line.
    static func text(_ status: Int, _ text: String, headers: [HTTPHeader] = []) -> ConsoleResponse {
        ConsoleResponse(status: status, headers: headers + [HTTPHeader(name: "Content-Type", value: "text/plain; charset=utf-8")] + securityHeaders,
                        body: Array(text.utf8))
    }

    /// 303 See Other to `location`, after a write.
    static func redirect(_ location: String, headers: [HTTPHeader] = []) -> ConsoleResponse {
        ConsoleResponse(status: 303, headers: headers + [HTTPHeader(name: "Location", value: location)] + securityHeaders, body: [])
    }

    /// No framing (clickjacking), no script, nothing loaded from elsewhere, no Issue URL
    /// sent to another site as a referrer.
    static let securityHeaders = [
        HTTPHeader(name: "Content-Security-Policy",
                   value: "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        HTTPHeader(name: "X-Frame-Options", value: "DENY"),
        HTTPHeader(name: "X-Content-Type-Options", value: "nosniff"),
        // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with
        // the console's own form posts, which the CSRF check must refuse.
        HTTPHeader(name: "Referrer-Policy", value: "same-origin"),
        HTTPHeader(name: "Cache-Control", value: "no-store"),
    ]
}

/// Text from data (alerts, plugins' messages, Issue JSON) as a page may show it: with every
/// registered secret replaced, whatever a plugin or an alert echoed.
func shown(_ text: String) -> String { SecretScrubber.shared.scrub(text) }
