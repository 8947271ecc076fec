/// Masks values that look like secrets in text the collector forwards (pod logs, plugin
/// messages): passwords, tokens, keys and credentials in `key=value` / `key: value` /
/// `"key": "value"` form, Authorization headers and bearer tokens, credentials in URLs,
/// AWS access key ids, JWTs, PEM private keys and well-known token formats (Slack,
/// GitHub, GitLab, Google API keys). Logs leave the cluster for Slack and the like, where
/// a leaked database password is worse than a missing log line.
///
/// The key stays visible, only the value is replaced (`password=[REDACTED]`), so a reader
/// still sees what was there.
///
/// It works line by line with hand-written scanners and cheap substring checks before any
/// regular expression: Swift's Regex backtracks badly on long runs of word characters (a
/// 128 KiB log took seconds), and a log excerpt must never cost the enricher its budget.
public enum Redactor {
    /// The replacement text.
    public static let mask = "[REDACTED]"

    /// `text` with every secret-looking value masked.
    public static func redact(_ text: String) -> String {
        guard !text.isEmpty else { return text }
        var out: [String] = []
        var inPrivateKey = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if inPrivateKey {
                if let end = line.firstRange(of: "-----END") {
                    out[out.count - 1] += String(line[end.lowerBound...])
                    inPrivateKey = false
                }
                continue
            }
            if line.contains("-----BEGIN"), let header = line.firstRange(of: "PRIVATE KEY-----") {
                var kept = String(line[..<header.upperBound]) + mask
                if let end = line[header.upperBound...].firstRange(of: "-----END") {
                    kept += String(line[end.lowerBound...])
                } else {
                    inPrivateKey = true
                }
                out.append(kept)
                continue
            }
            out.append(redactLine(String(line)))
        }
        return out.joined(separator: "\n")
    }

    /// Key names whose values are secrets (matched case-insensitively inside a longer key,
    /// so `DB_PASSWORD` and `client_secret` count).
    static let secretKeys: [[UInt8]] = [
        "password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "api-key", "access_key", "access-key",
        "accesskey", "private_key", "private-key", "privatekey", "credential", "authorization",
    ].map { Array($0.utf8) }

    static func redactLine(_ line: String) -> String {
        var bytes = Array(line.utf8)
        var lower = bytes.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        var ranges: [Range<Int>] = []
        ranges += keyValueSecrets(lower)
        ranges += bearerTokens(lower)
        if !ranges.isEmpty {
            bytes = apply(ranges, to: bytes)
            lower = bytes.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        }
        var text = String(decoding: bytes, as: UTF8.self)
        // Rarer formats: a substring check first, the regex only on lines that have it.
        if text.contains("://"), text.contains("@") {
            text.replace(#/([A-Za-z][A-Za-z0-9+.\-]{0,20}:\/\/)[^\s\/:@]{1,256}:[^\s\/@]{1,256}@/#) { "\($0.output.1)\(mask)@" }
        }
        if text.contains("AKIA") || text.contains("ASIA") || text.contains("AGPA") || text.contains("AIDA") || text.contains("AROA") || text.contains("ANPA") {
            text.replace(#/\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b/#) { _ in mask }
        }
        if text.contains("eyJ") {
            text.replace(#/\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]+/#) { _ in mask }
        }
        if text.contains("xox") || text.contains("gh") || text.contains("glpat-") || text.contains("AIza") {
            text.replace(#/\b(?:xox[abposr]-[A-Za-z0-9\-]{10,}|gh[pousr]_[A-Za-z0-9]{30,}|glpat-[A-Za-z0-9\-_]{20,}|AIza[0-9A-Za-z\-_]{35})/#) { _ in mask }
        }
        return text
    }

    /// Value ranges of `key=value`, `key: value`, `"key": "value"` where the key contains a
    /// secret key name. For `Authorization: Bearer xyz` the scheme stays and `xyz` goes.
    static func keyValueSecrets(_ s: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var i = 0
        let n = s.count
        while i < n {
            guard let key = secretKeys.first(where: { k in i + k.count <= n && s[i] == k[0] && s[i..<(i + k.count)].elementsEqual(k) }) else {
                i += 1
                continue
            }
            var j = i + key.count
            while j < n, isKeyByte(s[j]) { j += 1 }
            if j < n, s[j] == UInt8(ascii: "\"") || s[j] == UInt8(ascii: "'") { j += 1 }
            while j < n, s[j] == UInt8(ascii: " ") || s[j] == UInt8(ascii: "\t") { j += 1 }
            guard j < n, s[j] == UInt8(ascii: ":") || s[j] == UInt8(ascii: "=") else {
                i = max(i + 1, j)
                continue
            }
            j += 1
            while j < n, s[j] == UInt8(ascii: " ") || s[j] == UInt8(ascii: "\t") { j += 1 }
            if j < n, s[j] == UInt8(ascii: "\"") || s[j] == UInt8(ascii: "'") { j += 1 }
            // An auth scheme word stays: the credential is what follows it.
            for scheme in ["bearer", "basic", "token"].map({ Array($0.utf8) }) where j + scheme.count < n
                && s[j..<(j + scheme.count)].elementsEqual(scheme) && s[j + scheme.count] == UInt8(ascii: " ") {
                j += scheme.count
                while j < n, s[j] == UInt8(ascii: " ") { j += 1 }
                break
            }
            let start = j
            while j < n, !isValueEnd(s[j]) { j += 1 }
            if j > start, !s[start..<j].elementsEqual(Array(mask.lowercased().utf8)) { ranges.append(start..<j) }
            i = max(i + 1, j)
        }
        return ranges
    }

    /// Tokens after "bearer " anywhere (curl commands, stack traces).
    static func bearerTokens(_ s: [UInt8]) -> [Range<Int>] {
        let word = Array("bearer ".utf8)
        var ranges: [Range<Int>] = []
        var i = 0
        while i + word.count <= s.count {
            guard s[i] == word[0], s[i..<(i + word.count)].elementsEqual(word) else {
                i += 1
                continue
            }
            var j = i + word.count
            while j < s.count, s[j] == UInt8(ascii: " ") { j += 1 }
            let start = j
            while j < s.count, isTokenByte(s[j]) { j += 1 }
            if j - start >= 8 { ranges.append(start..<j) }
            i = max(i + 1, j)
        }
        return ranges
    }

    private static func apply(_ ranges: [Range<Int>], to bytes: [UInt8]) -> [UInt8] {
        // Merge overlaps (the key=value and bearer scanners can find the same token).
        let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
        var merged: [Range<Int>] = []
        for r in sorted {
            if let last = merged.last, r.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var at = 0
        for r in merged {
            out += bytes[at..<r.lowerBound]
            out += Array(mask.utf8)
            at = r.upperBound
        }
        out += bytes[at...]
        return out
    }

    private static func isKeyByte(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
    }

    private static func isValueEnd(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") || c == UInt8(ascii: ",")
            || c == UInt8(ascii: ";") || c == UInt8(ascii: "&") || c == UInt8(ascii: "}") || c == UInt8(ascii: "\r")
    }

    private static func isTokenByte(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)
            || [UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "=")].contains(c)
    }
}
