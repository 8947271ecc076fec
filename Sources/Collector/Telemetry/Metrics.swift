import Synchronization

/// The process's metrics, rendered on `/metrics` in the Prometheus text format.
///
/// Deliberately tiny: counters, gauges and histograms keyed by name and a sorted label
/// set. Label values must never carry secrets (URLs, tokens); use destination names.
public final class Metrics: Sendable {
    /// Label name/value pairs; order does not matter.
    public typealias Labels = [String: String]

    private struct Key: Hashable, Comparable {
        let name: String
        let labels: [[String]]  // sorted [name, value] pairs
        static func < (a: Key, b: Key) -> Bool {
            a.name != b.name ? a.name < b.name : a.labels.lexicographicallyPrecedes(b.labels) { $0.joined() < $1.joined() }
        }
    }

    private struct Histogram {
        var buckets: [Double]
        var counts: [UInt64]
        var sum = 0.0
        var count: UInt64 = 0
    }

    private struct State {
        var help: [String: (type: String, text: String)] = [:]
        var counters: [Key: Double] = [:]
        var gauges: [Key: Double] = [:]
        var histograms: [Key: Histogram] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Default latency buckets, in seconds.
    public static let latencyBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    /// Declares a metric's HELP text and type, so it renders even before its first sample.
    public func describe(_ name: String, type: String, help: String) {
        state.withLock { $0.help[name] = (type, help) }
    }

    /// Adds `delta` to a counter.
    public func increment(_ name: String, _ labels: Labels = [:], by delta: Double = 1) {
        let key = Self.key(name, labels)
        state.withLock { $0.counters[key, default: 0] += delta }
    }

    /// Sets a gauge.
    public func set(_ name: String, _ labels: Labels = [:], to value: Double) {
        let key = Self.key(name, labels)
        state.withLock { $0.gauges[key] = value }
    }

    /// Records one observation in a histogram.
    public func observe(_ name: String, _ labels: Labels = [:], _ value: Double, buckets: [Double] = Metrics.latencyBuckets) {
        let key = Self.key(name, labels)
        state.withLock { s in
            var h = s.histograms[key] ?? Histogram(buckets: buckets, counts: Array(repeating: 0, count: buckets.count))
            for (i, bound) in h.buckets.enumerated() where value <= bound { h.counts[i] += 1 }
            h.sum += value
            h.count += 1
            s.histograms[key] = h
        }
    }

    /// The current value of a counter (0 when never incremented). For tests and the CLI.
    public func counter(_ name: String, _ labels: Labels = [:]) -> Double {
        state.withLock { $0.counters[Self.key(name, labels)] ?? 0 }
    }

    /// The current value of a gauge, or nil.
    public func gauge(_ name: String, _ labels: Labels = [:]) -> Double? {
        state.withLock { $0.gauges[Self.key(name, labels)] }
    }

    /// Renders every metric in the Prometheus text exposition format (version 0.0.4).
    public func render() -> String {
        let s = state.withLock { $0 }
        var out = ""
        var described = Set<String>()
        func header(_ name: String, _ fallbackType: String) {
            guard described.insert(name).inserted else { return }
            let h = s.help[name]
            out += "# HELP \(name) \(h?.text ?? name)\n# TYPE \(name) \(h?.type ?? fallbackType)\n"
        }
        func labelText(_ labels: [[String]], extra: [String]? = nil) -> String {
            let all = labels + (extra.map { [$0] } ?? [])
            guard !all.isEmpty else { return "" }
            // Label values can come from plugins (reasons, names): scrubbed like every output.
            return "{" + all.map { "\($0[0])=\"\(Self.escape(SecretScrubber.shared.scrub($0[1])))\"" }.joined(separator: ",") + "}"
        }
        for (key, value) in s.counters.sorted(by: { $0.key < $1.key }) {
            header(key.name, "counter")
            out += "\(key.name)\(labelText(key.labels)) \(Self.number(value))\n"
        }
        for (key, value) in s.gauges.sorted(by: { $0.key < $1.key }) {
            header(key.name, "gauge")
            out += "\(key.name)\(labelText(key.labels)) \(Self.number(value))\n"
        }
        for (key, h) in s.histograms.sorted(by: { $0.key < $1.key }) {
            header(key.name, "histogram")
            for (i, bound) in h.buckets.enumerated() {
                out += "\(key.name)_bucket\(labelText(key.labels, extra: ["le", Self.number(bound)])) \(h.counts[i])\n"
            }
            out += "\(key.name)_bucket\(labelText(key.labels, extra: ["le", "+Inf"])) \(h.count)\n"
            out += "\(key.name)_sum\(labelText(key.labels)) \(Self.number(h.sum))\n"
            out += "\(key.name)_count\(labelText(key.labels)) \(h.count)\n"
        }
        // Described metrics with no samples yet still show their HELP/TYPE lines.
        for name in s.help.keys.sorted() where !described.contains(name) {
            header(name, "untyped")
        }
        return out
    }

    private static func key(_ name: String, _ labels: Labels) -> Key {
        Key(name: name, labels: labels.sorted { $0.key < $1.key }.map { [$0.key, $0.value] })
    }

    private static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    private static func number(_ v: Double) -> String {
        v.rounded() == v && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}
