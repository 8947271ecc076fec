// The results: one section per scenario, written as markdown (for people) and JSON (for
// tools and later comparison), with the machine they were measured on.
import CanoSDK
import Foundation
import TestSupport

/// One scenario's outcome.
struct Section: Sendable {
    var name: String
    var title: String
    var passed = true
    var error: String?
    var headers: [String] = []
    var rows: [[String]] = []
    /// Named figures, for the JSON and the goals.
    var figures: [String: Double] = [:]
    var notes: [String] = []
    var seconds: Double = 0

    init(name: String, title: String) {
        self.name = name
        self.title = title
    }

    var json: JSONValue {
        var o: [String: JSONValue] = [
            "name": .string(name), "title": .string(title), "passed": .bool(passed), "seconds": .number(seconds),
            "figures": .object(figures.mapValues { $0.isFinite ? JSONValue.number($0) : JSONValue.null }),
            "notes": .array(notes.map(JSONValue.string)),
            "table": .object(["headers": .array(headers.map(JSONValue.string)), "rows": .array(rows.map { .array($0.map(JSONValue.string)) })]),
        ]
        if let error { o["error"] = .string(error) }
        return .object(o)
    }
}

func f1(_ v: Double) -> String { v.isFinite ? String(format: "%.1f", v) : "n/a" }
func f2(_ v: Double) -> String { v.isFinite ? String(format: "%.2f", v) : "n/a" }
func f0(_ v: Double) -> String { v.isFinite ? String(format: "%.0f", v) : "n/a" }

/// The machine the figures were measured on.
struct Machine: Sendable {
    var fields: [(String, String)]

    static func read() -> Machine {
        func file(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        let cpu = file("/proc/cpuinfo").split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let memKiB = file("/proc/meminfo").split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { $0.split(separator: " ").compactMap { Int($0) }.first } ?? 0
        var uts = utsname()
        uname(&uts)
        let kernel = withUnsafeBytes(of: &uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let arch = withUnsafeBytes(of: &uts.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let swift = ProcessInfo.processInfo.environment["CANO_BENCH_SWIFT_VERSION"] ?? run(["swift", "--version"]).split(separator: "\n").first.map(String.init) ?? "unknown"
        let am = run(["prometheus-alertmanager", "--version"]).split(separator: "\n").first.map(String.init) ?? "not installed"
        return Machine(fields: [
            ("nproc", String(ProcessInfo.processInfo.activeProcessorCount)),
            ("memory", String(format: "%.1f GiB", Double(memKiB) / 1024 / 1024)),
            ("cpu", cpu), ("kernel", kernel), ("arch", arch), ("swift", swift), ("alertmanager", am),
            ("load average at start", file("/proc/loadavg").split(separator: " ").prefix(3).joined(separator: " ")),
            ("git commit", ProcessInfo.processInfo.environment["CANO_BENCH_COMMIT"] ?? "unknown"),
        ])
    }

    /// Output of a command found on PATH (stdout and stderr), or "" if it can't run.
    static func run(_ arguments: [String]) -> String { runCommand("/usr/bin/env", arguments)?.output ?? "" }
}

/// A goal of issue 8, checked against a figure.
struct Goal: Sendable {
    var measure: String
    var goal: String
    var figure: String
    var met: @Sendable (Double) -> Bool
    var format: @Sendable (Double) -> String
}

let goals: [Goal] = [
    Goal(measure: "Ingest vs Alertmanager (batches of 1)", goal: "ratio ≥ 1.0", figure: "ingest.ratio.batch1", met: { $0 >= 1.0 }, format: { f2($0) + "×" }),
    Goal(measure: "Ingest vs Alertmanager (batches of 50)", goal: "ratio ≥ 1.0", figure: "ingest.ratio.batch50", met: { $0 >= 1.0 }, format: { f2($0) + "×" }),
    Goal(measure: "Ingest vs Alertmanager (batches of 500)", goal: "ratio ≥ 1.0", figure: "ingest.ratio.batch500", met: { $0 >= 1.0 }, format: { f2($0) + "×" }),
    Goal(measure: "p99 latency, webhook, 100 alerts/s, no enrichment", goal: "≤ 50 ms", figure: "latency.webhook.100.p99_ms", met: { $0 <= 50 }, format: { f1($0) + " ms" }),
    Goal(measure: "p99 latency, Slack, 100 alerts/s, no enrichment", goal: "≤ 50 ms", figure: "latency.slack.100.p99_ms", met: { $0 <= 50 }, format: { f1($0) + " ms" }),
    Goal(measure: "RSS idle (host + webhook + slack plugins)", goal: "≤ 25 MiB", figure: "memory.idle_rss_mib", met: { $0 <= 25 }, format: { f1($0) + " MiB" }),
    Goal(measure: "CPU per alert at 100 alerts/s (intake to delivered, Webhook plugin; issue 16)", goal: "≤ 200 µs", figure: "memory.cpu_us_per_alert",
         met: { $0 <= 200 }, format: { f0($0) + " µs" }),
    Goal(measure: "Start to ready, p90 (host + webhook + slack plugins; issue 16)", goal: "≤ 100 ms", figure: "startup.cano.p90_ms",
         met: { $0 <= 100 }, format: { f1($0) + " ms" }),
    Goal(measure: "Core-only root filesystem, uncompressed (issue 16)", goal: "≤ 40 MB", figure: "image.rootfs_mb", met: { $0 <= 40 }, format: { f1($0) + " MB" }),
    Goal(measure: "RSS with 10k pods (Kubernetes sources, steady)", goal: "≤ 60 MiB", figure: "kube.rss_after_sync_mib", met: { $0 <= 60 }, format: { f1($0) + " MiB" }),
    Goal(measure: "Storm: alerts lost", goal: "0", figure: "storm.lost", met: { $0 == 0 }, format: f0),
    Goal(measure: "Storm: 429s after the first", goal: "0", figure: "storm.repeated_429", met: { $0 == 0 }, format: f0),
    Goal(measure: "Storm with noise control on: Slack messages posted (issue 12)", goal: "≤ 10", figure: "storm_grouped.messages_sent",
         met: { $0 <= 10 }, format: f0),
]

/// Writes `<date>.md` and `<date>.json` into `directory`; returns the markdown path.
func writeReport(sections: [Section], machine: Machine, mode: String, directory: String, stamp: String) throws -> String {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    var all: [String: Double] = [:]
    for s in sections { all.merge(s.figures) { a, _ in a } }

    var md = "# cano-collector benchmarks: \(stamp) (\(mode))\n\n"
    md += "Generated by `scripts/bench.sh` (see docs/benchmarks.md for how to read this).\n\n## Machine\n\n| | |\n|---|---|\n"
    for (k, v) in machine.fields { md += "| \(k) | \(v.replacingOccurrences(of: "|", with: "/")) |\n" }
    md += "\n## Goals\n\n| Measure | Goal | Measured | |\n|---|---|---|---|\n"
    var goalJSON: [JSONValue] = []
    for g in goals {
        let value = all[g.figure]
        let verdict = value.map { g.met($0) ? "met" : "missed" } ?? "not measured"
        md += "| \(g.measure) | \(g.goal) | \(value.map(g.format) ?? "—") | \(verdict) |\n"
        goalJSON.append(.object(["measure": .string(g.measure), "goal": .string(g.goal), "figure": .string(g.figure),
                                 "value": value.map { JSONValue.number($0) } ?? .null, "verdict": .string(verdict)]))
    }
    for s in sections {
        md += "\n## \(s.title)\n\n"
        if let error = s.error { md += "**Failed:** \(error)\n\n" }
        if !s.headers.isEmpty {
            md += "| " + s.headers.joined(separator: " | ") + " |\n|" + s.headers.map { _ in "---" }.joined(separator: "|") + "|\n"
            for row in s.rows { md += "| " + row.joined(separator: " | ") + " |\n" }
            md += "\n"
        }
        for n in s.notes { md += "- \(n)\n" }
        md += "\n_Scenario time: \(f1(s.seconds)) s._\n"
    }
    let json: JSONValue = .object([
        "date": .string(stamp), "mode": .string(mode),
        "machine": .object(Dictionary(uniqueKeysWithValues: machine.fields.map { ($0.0, JSONValue.string($0.1)) })),
        "goals": .array(goalJSON), "scenarios": .array(sections.map(\.json)),
    ])
    let mdPath = directory + "/\(stamp).md"
    try md.write(toFile: mdPath, atomically: true, encoding: .utf8)
    try Data(IssueCoding.encode(json)).write(to: URL(fileURLWithPath: directory + "/\(stamp).json"))
    return mdPath
}
