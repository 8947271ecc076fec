import CanoSDK

/// The webhook destination's settings, parsed from its `config` block (snake_case keys).
///
/// ```yaml
/// config:
///   url: https://hooks.example.com/cano/${HOOK_KEY}
///   headers: { Authorization: "Bearer ${TOKEN}" }
///   hmac_secret_file: /var/run/secrets/hook/hmac   # the host reads it into hmac_secret
///   signature_header: X-Cano-Signature
///   timeout: 10s
///   ca_file: /etc/ssl/internal-ca.pem              # the host reads it into ca (PEM)
///   insecure_skip_verify: false
/// ```
///
/// Error messages never repeat the URL, header values or the secret: any of them may
/// hold a credential.
struct WebhookConfig: Sendable {
    /// Keys this destination understands; anything else is a typo and an error.
    static let knownKeys: Set<String> = ["url", "headers", "hmac_secret", "signature_header", "timeout", "ca", "insecure_skip_verify"]
    static let defaultSignatureHeader = "X-Cano-Signature"
    static let defaultTimeout: Duration = .seconds(10)

    var url: String
    var headers: [HTTPHeader] = []
    var hmacSecret: [UInt8]?
    var signatureHeader = WebhookConfig.defaultSignatureHeader
    var timeout = WebhookConfig.defaultTimeout
    var tls: TLSOptions?

    /// "scheme://host:port": all that logs and messages show of the URL.
    var origin: String { RedactedURL.origin(of: url) }

    /// What no result or log line may contain: the HMAC key, the URL's credentials
    /// (userinfo, keyed query values) and the values of secret-named headers
    /// (`Authorization`, `X-Api-Key`...; ``SecretSafe/isSecretKey(_:)``), for ``SecretSafe``.
    var secrets: [[UInt8]] {
        var values = SecretSafe.secrets(inURL: url)
        if let hmacSecret { values.append(String(decoding: hmacSecret, as: UTF8.self)) }
        for header in headers where SecretSafe.isSecretKey(header.name) {
            values.append(header.value)
            // "Bearer xyz": the credential alone leaks as easily as the whole value.
            if let space = header.value.lastIndex(of: " ") { values.append(String(header.value[header.value.index(after: space)...])) }
        }
        return SecretSafe.prepared(values)
    }

    init(_ json: JSONValue) throws(PluginError) {
        guard case .object(let object) = json else { throw PluginError("config must be an object") }
        if let unknown = object.keys.sorted().first(where: { !Self.knownKeys.contains($0) }) {
            throw PluginError("unknown config key \"\(unknown)\" (known: \(Self.knownKeys.sorted().joined(separator: ", ")))")
        }

        guard case .string(let url)? = object["url"] else {
            throw PluginError(object["url"] == nil ? "missing required key \"url\"" : "key \"url\": expected a string")
        }
        guard ConfigValues.isUsableURL(url, allowQuery: true) else {
            // Deliberately not echoed: webhook URLs often carry their key in the path.
            throw PluginError("key \"url\": expected an absolute http:// or https:// URL with a host and no spaces")
        }
        self.url = url

        switch object["headers"] {
        case nil: break
        case .object(let headers)?:
            for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
                guard Self.isToken(name) else { throw PluginError("key \"headers\": \"\(name.prefix(64))\" is not a valid header name") }
                guard case .string(let text) = value else { throw PluginError("key \"headers.\(name)\": expected a string") }
                guard !text.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                    throw PluginError("key \"headers.\(name)\": the value contains a line break")
                }
                self.headers.append(HTTPHeader(name: name, value: text))
            }
        default: throw PluginError("key \"headers\": expected an object of header names to string values")
        }

        switch object["hmac_secret"] {
        case nil: break
        case .string(let secret)? where !secret.isEmpty: hmacSecret = Array(secret.utf8)
        default: throw PluginError("key \"hmac_secret\": expected a non-empty string")
        }

        switch object["signature_header"] {
        case nil: break
        case .string(let name)? where Self.isToken(name):
            guard hmacSecret != nil else { throw PluginError("key \"signature_header\" needs \"hmac_secret\" to be set") }
            signatureHeader = name
        default: throw PluginError("key \"signature_header\": expected a header name")
        }

        timeout = try ConfigValues.timeout(object["timeout"], fallback: Self.defaultTimeout)
        tls = try ConfigValues.tls(object)
    }

    /// An HTTP token (RFC 9110 field name).
    static func isToken(_ name: String) -> Bool {
        let extra = Set("!#$%&'*+-.^_`|~".utf8)
        return !name.isEmpty && name.utf8.count <= 256 && name.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || extra.contains(c)
        }
    }
}
