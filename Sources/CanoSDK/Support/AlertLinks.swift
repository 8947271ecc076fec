/// The links the host puts on alert Issues, by title, and the Alertmanager web UI pages built
/// from them: one home for the host (the silence link, the truncation note) and plugins (the
/// Slack plugin's Alertmanager button).
public enum AlertLinks {
    /// Title of the alert's generatorURL link.
    public static let prometheusTitle = "Prometheus query"
    /// Title of the sending Alertmanager's externalURL link, from the webhook body.
    public static let alertmanagerTitle = "Alertmanager"

    /// `<externalURL>/#/alerts?filter={a="b",…}`: Alertmanager's alert list filtered to
    /// those labels (the whole list when there are none).
    public static func alertsURL(base: String, labels: [String: String]) -> String {
        let root = trimmed(base) + "/#/alerts"
        return labels.isEmpty ? root : root + "?filter=" + PercentEncoding.encode(filter(labels))
    }

    /// `<externalURL>/#/silences/new?filter={a="b",…}`: the silence form prefilled with
    /// those equality matchers.
    public static func silenceURL(base: String, labels: [String: String]) -> String {
        trimmed(base) + "/#/silences/new?filter=" + PercentEncoding.encode(filter(labels))
    }

    /// `{a="b",c="d"}`: equality matchers sorted by name, values quoted the way
    /// Alertmanager's matcher grammar reads them (`\` and `"` escaped).
    public static func filter(_ labels: [String: String]) -> String {
        let matchers = labels.sorted { $0.key < $1.key }.map { key, value in "\(key)=\"\(escaped(value))\"" }
        return "{" + matchers.joined(separator: ",") + "}"
    }

    /// `\` and `"` escaped. A loop, not `replacing(_:with:)`, whose generic search cost 4%
    /// of ingest's CPU: every alert gets this link.
    private static func escaped(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") }) else { return value }
        var out = ""
        out.reserveCapacity(value.utf8.count + 4)
        for scalar in value.unicodeScalars {
            if scalar == "\\" || scalar == "\"" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(scalar)
        }
        return out
    }

    private static func trimmed(_ base: String) -> String {
        base.hasSuffix("/") ? String(base.dropLast()) : base
    }
}
