// cano-collector's benchmark suite (issue 8). Run it through scripts/bench.sh, which builds
// release and passes the output directory:
//
//   CollectorBench [--smoke | --quick] [--out DIR] [--only ingest,latency,storm,memory,kube,plugin-call,shared,kafka,startup,image]
//
// Every scenario runs the release `cano-collector` binary as a subprocess (next to this
// binary, or in CANO_BIN_DIR) against loopback doubles; KubeBench runs as its own process.
// Writes DIR/<date>.md and DIR/<date>.json, prints one line per scenario and finally
// "N passed, M failed" (exit status 1 if any failed).
import CanoSDK
import Foundation

let args = CommandLine.arguments
let scale: Scale = args.contains("--smoke") ? .smoke : args.contains("--quick") ? .quick : .full
let out = args.firstIndex(of: "--out").map { args[$0 + 1] } ?? FileManager.default.currentDirectoryPath + "/bench/results"
let only = args.firstIndex(of: "--only").map { Set(args[$0 + 1].split(separator: ",").map(String.init)) }

/// Prints and flushes, so progress shows in a log file or CI as it happens.
func say(_ line: String) {
    print(line)
    fflush(nil)
}
HTTPClient.initializeProcess()
// Globals are initialised lazily: fix the time origin now, before any stamp is taken.
_ = benchOrigin
let machine = Machine.read()
let scenarios: [(String, (Scale) async throws -> Section)] = [
    ("plugin-call", pluginCallScenario), ("ingest", ingestScenario), ("latency", latencyScenario),
    ("memory", memoryScenario), ("storm", stormScenario), ("kube", kubeScenario), ("shared", sharedStoreScenario),
    ("kafka", kafkaScenario), ("startup", startupScenario), ("image", imageScenario),
]
var sections: [Section] = []
for (name, run) in scenarios where only?.contains(name) ?? true {
    say("[\(name)] running (\(scale.mode))...")
    let began = ContinuousClock.now
    var section: Section
    do {
        section = try await run(scale)
    } catch {
        section = Section(name: name, title: name)
        section.passed = false
        section.error = String(describing: error)
    }
    section.seconds = seconds(.now - began)
    section.applyGuards(regressionGuards[name] ?? [])
    sections.append(section)
    if section.passed {
        say("[\(name)] ok in \(f1(section.seconds)) s")
        for row in section.rows { print("    " + zip(section.headers, row).map { "\($0): \($1)" }.joined(separator: ", ")) }
    } else {
        say("[\(name)] FAILED in \(f1(section.seconds)) s: \(section.error ?? "")")
    }
}
let formatter = DateFormatter()
formatter.dateFormat = "yyyy-MM-dd'T'HHmm'Z'"
formatter.timeZone = TimeZone(identifier: "UTC")
let stamp = formatter.string(from: Date()) + (scale.mode == "full" ? "" : "-" + scale.mode)
do {
    let path = try writeReport(sections: sections, machine: machine, mode: scale.mode, directory: out, stamp: stamp)
    say("results: \(path) and .json")
} catch {
    say("could not write the results: \(error)")
}
let failed = sections.filter { !$0.passed }.count
say("\(sections.count - failed) passed, \(failed) failed")
exit(failed == 0 ? 0 : 1)
