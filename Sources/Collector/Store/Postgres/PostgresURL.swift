import Foundation

/// A parsed `storage.postgres.url`:
/// `postgres[ql]://USER[:PASSWORD]@HOST[:PORT][/DATABASE][?sslmode=MODE&application_name=NAME&connect_timeout=SECONDS]`.
///
/// The user name and password are percent-decoded (a password with `@`, `/`, `:`, `?` or
/// `#` must be percent-encoded, as in libpq's URLs). `HOST` may be a bracketed IPv6
/// address (`[::1]`). The password never appears in ``description``, in a mirror or
/// in a ``ParseError``.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// libpq's `sslmode`, which decides whether TLS is used and what is verified.
    public enum SSLMode: String, Sendable, CaseIterable {
        /// Plain TCP only.
        case disable
        /// TLS when the server offers it (treated like ``prefer``: postgres-nio tries TLS first).
        case allow
        /// TLS when the server offers it, plain otherwise; the certificate is not verified.
        case prefer
        /// TLS or no connection; the certificate chain is verified only when a CA file is
        /// configured (libpq does the same: `require` with a root certificate is `verify-ca`).
        case require
        /// TLS, and the chain must lead to the configured CA (or a system root).
        case verifyCA = "verify-ca"
        /// As ``verifyCA``, and the certificate must name the host.
        case verifyFull = "verify-full"
    }

    /// A URL that cannot be used, with a description naming what is wrong. Never holds
    /// the password or the URL itself.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong, in one sentence.
        public var description: String
        /// An error saying `description`.
        public init(_ description: String) { self.description = description }
    }

    /// The role to log in as (percent-decoded).
    public var user: String
    /// The password (percent-decoded); nil when the URL has none (trust or certificate auth).
    public var password: String?
    /// The server's host name or IP address, without IPv6 brackets.
    public var host: String
    /// The server's TCP port (default 5432).
    public var port: Int
    /// The database (default: the user name, as libpq does).
    public var database: String
    /// TLS policy (default ``SSLMode/prefer``, as libpq's).
    public var sslMode: SSLMode
    /// Reported to the server (`pg_stat_activity.application_name`); default `cano-collector`.
    public var applicationName: String
    /// How long one connection attempt (TCP, TLS and login) may take; default 5 seconds.
    public var connectTimeout: Duration

    /// The query parameters understood.
    public static let parameters = ["sslmode", "application_name", "connect_timeout"]

    /// Parses `string`.
    /// - Throws: ``ParseError`` naming the faulty part (never echoing the password).
    public init(parsing string: String) throws(ParseError) {
        let text = string.trimmingCharacters(in: .whitespacesAndNewlines)
        // Everything that could be credentials: between "://" and the last "@". Parts of
        // the URL echoed in an error are first checked against it, so even a password
        // that broke the parse (an unencoded "?") is never repeated.
        let secretRegion: Substring = {
            guard let scheme = text.range(of: "://"), let at = text.range(of: "@", options: .backwards),
                  at.lowerBound >= scheme.upperBound else { return "" }
            return text[scheme.upperBound..<at.lowerBound]
        }()
        func echo(_ part: Substring) -> String {
            let s = String(part)
            return !s.isEmpty && secretRegion.contains(s) ? "(value not shown)" : "'\(s)'"
        }

        guard let schemeEnd = text.range(of: "://") else {
            throw ParseError("the URL must start with postgres:// or postgresql:// (postgres://USER:PASSWORD@HOST:PORT/DATABASE)")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw ParseError("the URL must start with postgres:// or postgresql://, not another scheme")
        }
        var rest = text[schemeEnd.upperBound...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }

        // Query first: it ends the URL.
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        // Authority up to the path.
        var authority = rest
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        }

        // Credentials.
        var hostPort = authority
        var user: String?
        var password: String?
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            let userPart: Substring
            if let colon = userinfo.firstIndex(of: ":") {
                userPart = userinfo[..<colon]
                guard let p = Self.percentDecoded(userinfo[userinfo.index(after: colon)...]) else {
                    throw ParseError("the password has an invalid percent-escape (encode '%' as %25)")
                }
                password = p
            } else {
                userPart = userinfo
            }
            guard let u = Self.percentDecoded(userPart) else {
                throw ParseError("the user name has an invalid percent-escape")
            }
            user = u
        }
        guard let user, !user.isEmpty else {
            if user == nil && text[schemeEnd.upperBound...].contains("@") {
                // The '@' is there but not in the authority: a '/', '?' or '#' before it.
                throw ParseError("the URL names no user, or its password has an unencoded '/', '?' or '#' (percent-encode them as %2F, %3F, %23)")
            }
            throw ParseError("the URL names no user: postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }

        // Host and port.
        var host: String
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                throw ParseError("the IPv6 host has no closing ']': write it as [::1]:5432")
            }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw ParseError("unexpected text after the IPv6 host's ']'") }
                portText = after.dropFirst()
            }
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." || $0 == "%" }) else {
                throw ParseError("the IPv6 host between [ and ] is not an IPv6 address")
            }
        } else {
            if hostPort.contains(",") {
                throw ParseError("several hosts are not supported: give one host (a service or load balancer in front of the primary)")
            }
            if let colon = hostPort.firstIndex(of: ":") {
                host = String(hostPort[..<colon])
                portText = hostPort[hostPort.index(after: colon)...]
            } else {
                host = String(hostPort)
            }
            host = Self.percentDecoded(Substring(host)) ?? host
            guard host.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || "-._".unicodeScalars.contains($0) }) else {
                throw ParseError("the host name has characters a host name cannot have (a password with '/', '?', '#' or '@' must be percent-encoded)")
            }
        }
        guard !host.isEmpty else {
            throw ParseError("the URL names no host (Unix sockets are not supported): postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        var port = 5432
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else {
                throw ParseError("the port must be a number from 1 to 65535")
            }
            port = p
        }

        // Database.
        guard let database = Self.percentDecoded(path) else {
            throw ParseError("the database name has an invalid percent-escape")
        }
        if database.contains("/") { throw ParseError("the database name must not contain '/'") }

        // Parameters.
        var sslMode = SSLMode.prefer
        var applicationName = "cano-collector"
        var connectTimeout = Duration.seconds(5)
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let name: Substring
            let rawValue: Substring
            if let eq = pair.firstIndex(of: "=") {
                name = pair[..<eq]
                rawValue = pair[pair.index(after: eq)...]
            } else {
                name = pair
                rawValue = ""
            }
            guard let value = Self.percentDecoded(rawValue) else {
                throw ParseError("the value of parameter \(echo(name)) has an invalid percent-escape")
            }
            switch name {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw ParseError("sslmode \(echo(rawValue)) is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            case "application_name":
                guard !value.isEmpty, value.utf8.count < 64 else {
                    throw ParseError("application_name must be 1 to 63 bytes long")
                }
                applicationName = value
            case "connect_timeout":
                guard let seconds = Int(value), (1...300).contains(seconds) else {
                    throw ParseError("connect_timeout must be a whole number of seconds from 1 to 300")
                }
                connectTimeout = .seconds(seconds)
            default:
                throw ParseError("unknown URL parameter \(echo(name)); supported: \(Self.parameters.joined(separator: ", "))")
            }
        }

        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database.isEmpty ? user : database
        self.sslMode = sslMode
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
    }

    /// `host:port`, with IPv6 hosts in brackets: what error messages name.
    public var endpoint: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The URL with the password replaced by `<redacted>`.
    public var description: String {
        var text = "postgres://\(Self.percentEncoded(user))"
        if password != nil { text += ":<redacted>" }
        text += "@\(endpoint)/\(Self.percentEncoded(database))?sslmode=\(sslMode.rawValue)"
        if applicationName != "cano-collector" { text += "&application_name=\(Self.percentEncoded(applicationName))" }
        if connectTimeout != .seconds(5) { text += "&connect_timeout=\(connectTimeout.components.seconds)" }
        return text
    }

    /// Same as ``description``: the password is redacted in debug output too.
    public var debugDescription: String { description }

    /// A mirror without the password, so `dump()` and reflection-based logging cannot show it.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "user": user, "host": host, "port": port, "database": database,
            "sslMode": sslMode, "applicationName": applicationName,
        ])
    }

    /// `%XX` decoding that fails (nil) on malformed escapes or invalid UTF-8 rather than
    /// guessing; `+` stays `+` (these are URL parts, not form data).
    static func percentDecoded(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = text.utf8.makeIterator()
        while let byte = utf8.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = utf8.next(), let low = utf8.next(),
                      let h = hexValue(high), let l = hexValue(low) else { return nil }
                bytes.append(h << 4 | l)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func percentEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
