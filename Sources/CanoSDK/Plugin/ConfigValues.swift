/// Typed readers for the values of a plugin's `config` object, shared by every plugin so
/// they accept the same forms and refuse bad input in the same words. Errors name the key
/// ("key \"timeout\": expected ...") and never echo the value (it may be a secret).
public enum ConfigValues {
    /// The longest `timeout` a plugin accepts: a delivery deadline is shorter anyway.
    public static let maxTimeout: Duration = .seconds(300)

    /// A duration: a number of seconds (`10`, `0.5`), or a string with a unit, `"500ms"`,
    /// `"10s"` or `"2m"`. Nil for anything else, or a negative, non-finite or absurd value.
    public static func duration(_ value: JSONValue) -> Duration? {
        switch value {
        case .number(let seconds):
            guard seconds.isFinite, seconds >= 0, seconds < 1e9 else { return nil }
            return .milliseconds(Int64((seconds * 1000).rounded()))
        case .string(let text):
            let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000)]
            for (suffix, factor) in units where text.hasSuffix(suffix) {
                guard let number = Double(text.dropLast(suffix.count)), number.isFinite, number >= 0, number < 1e9 else { return nil }
                return .milliseconds(Int64((number * factor).rounded()))
            }
            return nil
        default:
            return nil
        }
    }

    /// The per-request `timeout` key: `fallback` when absent, else a duration in
    /// (0, ``maxTimeout``].
    /// - Throws: ``PluginError`` naming `key` when the value is not such a duration.
    public static func timeout(_ value: JSONValue?, key: String = "timeout", fallback: Duration) throws(PluginError) -> Duration {
        guard let value, value != .null else { return fallback }
        guard let timeout = duration(value), timeout > .zero, timeout <= maxTimeout else {
            throw PluginError("key \"\(key)\": expected a duration between 1ms and 300s, like 10s, 500ms or a number of seconds")
        }
        return timeout
    }

    /// An absolute http(s) URL with a host, and no whitespace or control characters. A path
    /// prefix is kept (a proxy, or a test double). `allowQuery: false` (an API base URL the
    /// plugin appends paths to) also refuses `?` and `#`; a webhook URL may carry a query.
    public static func isUsableURL(_ url: String, allowQuery: Bool = false) -> Bool {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { return false }
        guard !url.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7f } == true }) else { return false }
        if !allowQuery, url.contains(where: { $0 == "?" || $0 == "#" }) { return false }
        let origin = RedactedURL.origin(of: url)
        return !origin.hasSuffix("://") && !origin.hasSuffix(":")
    }

    /// The TLS keys HTTP plugins share: `ca` (PEM certificates; users write `ca_file:
    /// /path`, which the host reads into `ca`) and `insecure_skip_verify`. Nil when
    /// neither changes the defaults (the system trust store, verification on).
    /// - Throws: ``PluginError`` naming the key.
    public static func tls(_ object: [String: JSONValue]) throws(PluginError) -> TLSOptions? {
        var tls = TLSOptions()
        var custom = false
        switch object["ca"] {
        case nil, .null?: break
        case .string(let pem)? where pem.contains("-----BEGIN CERTIFICATE-----"):
            tls.caPEM = Array(pem.utf8)
            custom = true
        default: throw PluginError("key \"ca\": expected PEM certificates (use ca_file: /path in the collector config)")
        }
        if let skip = try bool(object["insecure_skip_verify"], key: "insecure_skip_verify") {
            tls.insecureSkipVerify = skip
            custom = custom || skip
        }
        return custom ? tls : nil
    }

    /// A list of strings.
    /// - Throws: ``PluginError`` naming `key` for anything else.
    public static func strings(_ value: JSONValue, key: String) throws(PluginError) -> [String] {
        guard case .array(let items) = value else { throw PluginError("key \"\(key)\": expected a list of strings") }
        var out: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw PluginError("key \"\(key)\": expected a list of strings") }
            out.append(text)
        }
        return out
    }

    /// A boolean, or nil when absent.
    /// - Throws: ``PluginError`` naming `key` for anything else.
    public static func bool(_ value: JSONValue?, key: String) throws(PluginError) -> Bool? {
        switch value {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        default: throw PluginError("key \"\(key)\": expected true or false")
        }
    }
}
