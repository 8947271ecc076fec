#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// One way things break, and how to recognise it. A rule is a pure function of the
/// facts: no I/O, no clock, so its tests feed it real objects and assert its words.
protocol DiagnosisRule: Sendable {
    /// The rule's name in docs/diagnosis.md and in `cano_diagnoses_total{rule}`.
    var name: String { get }
    /// The diagnosis when the facts show this rule's failure; nil otherwise.
    func diagnose(_ facts: DiagnosisFacts) -> Diagnosis?
}

/// Runs the rules in order and keeps the first answer: the most specific rules come
/// first (a Helm hook, a quota, scheduling, an eviction, an image pull, a config error,
/// an OOM kill, a failing probe), then what the log says, then the bare exit code.
public enum Diagnoser {
    static let rules: [any DiagnosisRule] = [
        HelmRule(), QuotaRule(), SchedulingRule(), EvictionRule(), ImagePullRule(), ConfigErrorRule(),
        OOMKilledRule(), ProbeRule(), LogSignatureRule(), ExitCodeRule(),
    ]

    /// The first rule's diagnosis of `facts`, or nil when no rule recognises them.
    public static func diagnose(_ facts: DiagnosisFacts) -> Diagnosis? {
        for rule in rules {
            if let d = rule.diagnose(facts) { return d }
        }
        return nil
    }
}

/// How evidence quotes text it did not write (messages, commands, log lines).
enum Evidence {
    /// `text` trimmed, and cut to `limit` characters with an ellipsis.
    static func clip(_ text: String, _ limit: Int = 240) -> String {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return t.count > limit ? String(t.prefix(limit)) + "…" : t
    }
}

/// Kubernetes resource quantities ("500m", "2Gi", "1G", "1e3"), as the API's
/// `resource.Quantity` writes them. Written here rather than imported: no Swift library
/// parses them, and the grammar is one number and one suffix.
enum Quantity {
    private static let suffixes: [(String, Double)] = [
        ("Ki", 1024), ("Mi", 1024 * 1024), ("Gi", 1024 * 1024 * 1024), ("Ti", 1024 * 1024 * 1024 * 1024),
        ("Pi", 1024 * 1024 * 1024 * 1024 * 1024), ("Ei", 1024 * 1024 * 1024 * 1024 * 1024 * 1024),
        ("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18),
    ]

    /// The quantity's value in base units (bytes, cores), or nil when it is not one.
    static func parse(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces)
        for (suffix, factor) in suffixes where t.hasSuffix(suffix) {
            return Double(t.dropLast(suffix.count)).map { $0 * factor }
        }
        return Double(t)
    }
}
