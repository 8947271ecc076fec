/// Masks values that look like secrets in text the collector forwards (pod logs, plugin
/// messages): tokens, passwords, keys, bearer headers, AWS keys, JWTs, PEM private keys
/// and credentials in URLs. Logs leave the cluster for Slack and the like, where a
/// leaked database password is worse than a missing log line.
///
/// The key stays visible, only the value is replaced (`password=[REDACTED]`), so a reader
/// still sees what was there.
public enum Redactor {
    /// The replacement text.
    public static let mask = "[REDACTED]"

    /// `text` with every secret-looking value masked.
    public static func redact(_ text: String) -> String {
        guard !text.isEmpty else { return text }
        var out = text
        // Whole PEM private key blocks, across lines.
        out.replace(#/-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z)/#) { match in
            "-----BEGIN \(match.output.1)PRIVATE KEY-----\(mask)-----END \(match.output.1)PRIVATE KEY-----"
        }
        // Authorization headers: Bearer/Basic/Token schemes.
        out.replace(#/(?i)(authorization["']?\s*[:=]\s*["']?(?:bearer|basic|token)?\s*)[^\s"',;]+/#) { "\($0.output.1)\(mask)" }
        out.replace(#/(?i)\b(bearer\s+)[A-Za-z0-9\-._~+\/]{8,}=*/#) { "\($0.output.1)\(mask)" }
        // key=value, key: value, "key": "value" for secret-ish key names.
        out.replace(#/(?i)((?:"|')?[A-Za-z0-9_.\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key|credential|auth)[A-Za-z0-9_.\-]*(?:"|')?\s*[:=]\s*(?:"|')?)(?!(?:bearer|basic|token)\s)([^\s"',;&}]+)/#) { m in
            m.output.2 == mask ? String(m.output.0) : "\(m.output.1)\(mask)"
        }
        // Credentials in URLs: scheme://user:password@host.
        out.replace(#/([A-Za-z][A-Za-z0-9+.\-]*:\/\/)[^\s\/:@]+:[^\s\/@]+@/#) { "\($0.output.1)\(mask)@" }
        // AWS access key ids.
        out.replace(#/\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b/#) { _ in mask }
        // JWTs (header.payload.signature, base64url).
        out.replace(#/\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]+/#) { _ in mask }
        // Well-known token formats: Slack, GitHub, GitLab, Google API keys.
        out.replace(#/\b(?:xox[abposr]-[A-Za-z0-9\-]{10,}|gh[pousr]_[A-Za-z0-9]{30,}|glpat-[A-Za-z0-9\-_]{20,}|AIza[0-9A-Za-z\-_]{35})/#) { _ in mask }
        return out
    }
}
