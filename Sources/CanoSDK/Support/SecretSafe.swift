#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Keeps secrets out of text that leaves a plugin or the host: results, errors, logs.
///
/// Remote services sometimes echo what they were sent (a proxy's error page quoting the
/// `Authorization` header, an API repeating the token it refused), so any text built from a
/// response must be cleaned before it becomes a result message or a log field. The host
/// runs the same replacement over everything it writes (defence in depth), but a plugin
/// knows its own secrets first and cleans at the source.
///
/// ```swift
/// let secrets = [config.token] + SecretSafe.secrets(inURL: config.apiURL)
/// return .permanent(message: SecretSafe.redact("Slack said: \(remoteText)", secrets: secrets))
/// ```
public enum SecretSafe {
    /// What a secret is replaced with.
    public static let placeholder = "<redacted>"

    /// Secrets shorter than this are not replaced: redacting "ab" would shred ordinary text
    /// and tell a reader nothing, and no real token is that short.
    public static let minimumLength = 4

    /// `text` with every occurrence of each secret replaced by ``placeholder``.
    ///
    /// Longest secrets are replaced first, so a secret that contains another (a URL and its
    /// password) leaves no fragment behind. Matching is on UTF-8 bytes, so a secret next to
    /// a combining character is still found (Character-wise matching would miss it).
    public static func redact(_ text: String, secrets: some Sequence<String>) -> String {
        let ordered = prepared(secrets)
        guard !ordered.isEmpty, !text.isEmpty else { return text }
        return redact(text, prepared: ordered)
    }

    /// The secrets worth replacing (long enough, deduplicated), longest first, as bytes.
    /// Callers that redact many texts with the same secrets prepare them once.
    public static func prepared(_ secrets: some Sequence<String>) -> [[UInt8]] {
        var unique = Set<String>()
        for s in secrets where s.utf8.count >= minimumLength { unique.insert(s) }
        return unique.map { Array($0.utf8) }.sorted { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1) }
    }

    /// ``redact(_:secrets:)`` with secrets already ``prepared(_:)``.
    public static func redact(_ text: String, prepared secrets: [[UInt8]]) -> String {
        guard !secrets.isEmpty else { return text }
        var bytes = Array(text.utf8)
        var changed = false
        let replacement = Array(placeholder.utf8)
        for secret in secrets where secret.count <= bytes.count {
            guard let first = firstRange(of: secret, in: bytes, from: 0) else { continue }
            changed = true
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var start = 0
            var match: Range<Int>? = first
            while let m = match {
                out += bytes[start..<m.lowerBound]
                out += replacement
                start = m.upperBound
                match = firstRange(of: secret, in: bytes, from: start)
            }
            out += bytes[start...]
            bytes = out
        }
        // A valid UTF-8 secret starts and ends on scalar boundaries, so the result is valid.
        return changed ? String(decoding: bytes, as: UTF8.self) : text
    }

    /// The secret parts of a URL: the userinfo password (and the whole userinfo, which
    /// some URLs use for a bare token) and the values of query parameters whose names look
    /// secret (``isSecretQueryParameter(_:)``). Paths are not included: a path secret
    /// (Slack-style webhook URLs) needs the whole URL registered by its config key.
    public static func secrets(inURL url: String) -> [String] {
        guard let schemeEnd = url.firstRange(of: "://") else { return [] }
        var found: [String] = []
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            found.append(String(userinfo))
            if let colon = userinfo.firstIndex(of: ":") {
                let password = String(userinfo[userinfo.index(after: colon)...])
                found.append(password)
                if let decoded = password.removingPercentEncoding, decoded != password { found.append(decoded) }
            }
        }
        if let q = rest.firstIndex(of: "?") {
            let query = rest[rest.index(after: q)...].prefix { $0 != "#" }
            for pair in query.split(separator: "&") {
                guard let eq = pair.firstIndex(of: "=") else { continue }
                let name = String(pair[..<eq])
                let value = String(pair[pair.index(after: eq)...])
                if isSecretQueryParameter(name), !value.isEmpty {
                    found.append(value)
                    if let decoded = value.removingPercentEncoding, decoded != value { found.append(decoded) }
                }
            }
        }
        return found
    }

    /// Words that make a config key (or header, query parameter or environment variable
    /// name) secret. Names are split into words at `_`, `-`, `.` and case changes, so
    /// `token`, `bearer_token`, `hmac_secret`, `password`, `credentials`, `Authorization`,
    /// `X-Auth-Token`, `SLACK_TOKEN` and `hmacSecret` are all secret.
    public static let secretKeyWords: Set<String> = [
        "token", "password", "passwd", "secret", "credential", "credentials", "authorization",
        "apikey", "hmac", "signature", "sig", "cookie", "dsn",
    ]

    /// A trailing word "key" makes a name secret only alone (`key`) or after one of these
    /// words (`api_key`, `routing_key`, `integration_key`, `X-Api-Key`, `access_key`...):
    /// `label_key` or `aggregation_key` name a field, not a credential, and treating their
    /// values ("team") as secrets would shred every log line.
    public static let secretKeyQualifiers: Set<String> = [
        "api", "routing", "integration", "access", "secret", "private", "signing", "client", "app",
        "license", "service", "account", "encryption", "master", "auth", "subscription", "webhook",
    ]

    /// Last words that make a name describe a secret rather than hold one:
    /// `signature_header` ("X-Cano-Signature"), `token_url`, `password_file`, `secret_name`.
    public static let describingWords: Set<String> = [
        "header", "name", "label", "annotation", "url", "uri", "endpoint", "path", "file", "field", "type", "mode",
        "enabled", "length", "ttl", "timeout", "algorithm", "format", "prefix", "id",
    ]

    /// Whole names whose value is secret though no word says so: an incoming-webhook URL
    /// carries its credential in the path.
    public static let secretKeyNames: Set<String> = ["webhook_url", "webhookurl"]

    /// True when a value stored under `key` should be treated as a secret (see
    /// ``secretKeyWords``, ``secretKeyQualifiers``, ``describingWords`` and ``secretKeyNames``).
    public static func isSecretKey(_ key: String) -> Bool {
        let parts = words(of: key)
        if secretKeyNames.contains(parts.joined(separator: "_")) { return true }
        if parts.count > 1, let last = parts.last, describingWords.contains(last) { return false }
        if parts.contains(where: { secretKeyWords.contains($0) }) { return true }
        guard parts.last == "key" else { return false }
        return parts.count == 1 || secretKeyQualifiers.contains(parts[parts.count - 2])
    }

    /// Query parameter names whose values are credentials (signed URLs, OAuth codes, API
    /// keys): everything ``isSecretKey(_:)`` accepts (`token`, `access_token`, `key`,
    /// `api_key`, `sig`, `signature`, `secret`, `password`, `X-Amz-Signature`,
    /// `X-Amz-Credential`), plus `code` (OAuth) and `auth`.
    public static func isSecretQueryParameter(_ name: String) -> Bool {
        ["code", "auth", "sas"].contains(name.lowercased()) || isSecretKey(name)
    }

    /// "X-Api-Key" → ["x", "api", "key"]; "hmacSecret" → ["hmac", "secret"].
    private static func words(of key: String) -> [String] {
        var result: [String] = []
        var current = ""
        var previousLower = false
        for c in key {
            if c == "_" || c == "-" || c == "." || c == " " {
                if !current.isEmpty { result.append(current) }
                current = ""
                previousLower = false
                continue
            }
            if c.isUppercase, previousLower, !current.isEmpty {
                result.append(current)
                current = ""
            }
            current += c.lowercased()
            previousLower = c.isLowercase || c.isNumber
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    private static func firstRange(of needle: [UInt8], in haystack: [UInt8], from start: Int) -> Range<Int>? {
        guard let head = needle.first, needle.count <= haystack.count - start else { return nil }
        var i = start
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == head {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i..<(i + needle.count) }
            }
            i += 1
        }
        return nil
    }
}

extension DeliveryResult {
    /// The same result with every secret removed from its message (and reference), for a
    /// plugin to apply to whatever it returns: remote error text may quote the credential.
    public func redacting(secrets: [[UInt8]]) -> DeliveryResult {
        guard !secrets.isEmpty else { return self }
        switch self {
        case .delivered(let reference, let message):
            return .delivered(reference: reference, message: SecretSafe.redact(message, prepared: secrets))
        case .retry(let after, let message):
            return .retry(after: after, message: SecretSafe.redact(message, prepared: secrets))
        case .permanent(let message):
            return .permanent(message: SecretSafe.redact(message, prepared: secrets))
        }
    }
}
