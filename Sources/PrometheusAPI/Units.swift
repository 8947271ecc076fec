/// How graphs and diagnoses write bytes and cores. Any Double is safe here: values from
/// Prometheus or a pod spec may be huge, zero or not finite, and none of them may trap.
public enum Units {
    /// Bytes in the largest binary unit that keeps a number ≥ 1, one decimal below 10:
    /// "1.9Gi", "512Mi", "0B"; "?" when not finite.
    public static func bytes(_ value: Double) -> String {
        guard value.isFinite else { return "?" }
        let units = ["B", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
        var v = value
        var i = 0
        while abs(v) >= 1024, i < units.count - 1 {
            v /= 1024
            i += 1
        }
        return number(abs(v) < 10 ? (v * 10).rounded() / 10 : v.rounded()) + units[i]
    }

    /// CPU cores: "250m" below one core, "1.25" above; "?" when not finite.
    public static func cores(_ value: Double) -> String {
        guard value.isFinite else { return "?" }
        return abs(value) < 1 ? number((value * 1000).rounded()) + "m" : number((value * 100).rounded() / 100)
    }

    /// A number without a needless ".0", never through a trapping Int conversion.
    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}
