// Scenarios 8 and 9 (issue 16): start to ready, side by side with Alertmanager, and the
// size of the core-only image's root filesystem.
import CanoSDK
import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

// MARK: 8. Start to ready

/// Starts the collector (host + both plugins, as the memory scenario runs it) and
/// Alertmanager `scale.startupRuns` times each, alternating, and records how long each took
/// from its launch to its readiness endpoint answering 200 (`/readyz`, `/-/ready`).
func startupScenario(_ scale: Scale) async throws -> Section {
    var section = Section(name: "startup", title: "8. Start to ready: cano-collector vs Alertmanager")
    // The Slack plugin checks its token with auth.test when created: the double answers it.
    let slack = try await SlackDouble.start(token: Rig.slackToken)
    defer { slack.stop() }
    let unused = "http://127.0.0.1:\(try freeLoopbackPort())"
    let config = try Rig.configHead(hookURL: "\(unused)/hook", slackAPI: slack.apiURL, slackPacing: 1) + "\ndefault_destinations: [hook, slack]"
    var cano: [Int64] = [], am: [Int64] = []
    for _ in 0..<scale.startupRuns {
        let collector = try await CollectorProcess(configYAML: config, logLevel: "info")
        collector.stop()
        try? FileManager.default.removeItem(at: collector.directory)
        guard let ready = collector.startToReady else { throw BenchFailure("cano-collector: no start-to-ready time recorded") }
        cano.append(ready.nanoseconds)
        let alertmanager = try await AlertmanagerProcess(webhookURL: "\(unused)/am", logLevel: "info")
        alertmanager.stop()
        am.append(alertmanager.startToReady.nanoseconds)
    }
    let canoSummary = LatencySummary(nanos: cano), amSummary = LatencySummary(nanos: am)
    section.headers = ["process", "starts", "p50 ms", "p90 ms", "max ms"]
    for (who, key, summary) in [("cano-collector (host + Webhook and Slack plugins)", "cano", canoSummary), ("Alertmanager", "alertmanager", amSummary)] {
        section.figures["startup.\(key).p50_ms"] = summary.p50
        section.figures["startup.\(key).p90_ms"] = summary.p90
        section.figures["startup.\(key).max_ms"] = summary.max
        section.rows.append([who, String(summary.count), f1(summary.p50), f1(summary.p90), f1(summary.max)])
    }
    section.notes = [
        "From posix_spawn to the first 200 of the readiness endpoint (`/readyz`; Alertmanager's `/-/ready`) together with the process's own log line for the address it bound, polled every 5 ms: accurate to about 5 ms.",
        "Each start has a fresh data directory (SQLite creates and migrates its database; Alertmanager its own storage), as a pod with an emptyDir volume does. Log level info; the two alternate.",
    ]
    return section
}

// MARK: 9. Image

/// Builds the core-only image's root filesystem (`scripts/build-rootfs.sh`, what the
/// Dockerfile and `scripts/build-images.sh` copy into the image) from the release binary
/// under test, and reports its size, uncompressed and as one gzip'ed tar.
func imageScenario(_ scale: Scale) async throws -> Section {
    var section = Section(name: "image", title: "9. Image: the core-only root filesystem")
    // The tree's ownership (65532 for the data directory) needs root to set, as do the
    // packaging tests; CI runs as root.
    guard getuid() == 0 else { throw BenchFailure("scripts/build-rootfs.sh needs root (it sets file ownership): run as root, or leave `image` out with --only") }
    // bench.sh runs from the checkout the binaries were built from.
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/build-rootfs.sh").standardized.path
    guard FileManager.default.isExecutableFile(atPath: script) else { throw BenchFailure("\(script) not found: run the benchmark from its checkout") }
    let out = try TemporaryDirectory(prefix: "cano-bench-rootfs")
    defer { out.remove() }
    let tree = out.path + "/rootfs"
    let built = runCommand(script, [tree, try BuildProducts.collector()])
    guard let built, built.status == 0 else {
        throw BenchFailure("build-rootfs.sh failed (status \(built.map { String($0.status) } ?? "none: not started")): \(built?.output.suffix(2000) ?? "")")
    }
    // Regular files, each inode once.
    var files: [(path: String, bytes: Int)] = []
    var seen = Set<[UInt64]>()
    let enumerator = FileManager.default.enumerator(atPath: tree)
    while let relative = enumerator?.nextObject() as? String {
        var st = stat()
        guard lstat(tree + "/" + relative, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
              seen.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted else { continue }
        files.append(("/" + relative, Int(st.st_size)))
    }
    let bytes = files.reduce(0) { $0 + $1.bytes }
    // The tree as one gzip'ed tar, counted; pipefail so a failed tar fails the figure. Its
    // last line is wc's count (tar's warnings, if any, come before).
    let gzipped = runCommand("/bin/bash", ["-o", "pipefail", "-c", #"tar -C "$1" -cf - . | gzip -6 | wc -c"#, "bash", tree])
    guard let gzipped, gzipped.status == 0,
          let compressed = gzipped.output.split(separator: "\n").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
        throw BenchFailure("could not measure the gzip'ed tree: \(gzipped?.output ?? "bash could not be started")")
    }
    let mb = { (n: Int) in Double(n) / 1e6 }
    section.figures = ["image.rootfs_mb": mb(bytes), "image.rootfs_gzip_mb": mb(compressed), "image.rootfs_files": Double(files.count)]
    section.headers = ["tree", "files", "uncompressed MB", "gzip'ed tar MB"]
    section.rows = [["core-only rootfs (host binary, its library closure, CA bundle, /etc)", String(files.count), f1(mb(bytes)), f1(mb(compressed))]]
    let largest = files.sorted { $0.bytes > $1.bytes }.prefix(6).map { "\($0.path) \(f1(mb($0.bytes))) MB" }
    section.notes = [
        "Built by scripts/build-rootfs.sh from the release binary under test (debug sections stripped there, the symbol table kept). MB = 10^6 bytes of regular files; the image archives of scripts/build-images.sh are a little larger (tar headers, directories, links).",
        "Largest files: " + largest.joined(separator: ", ") + ".",
    ]
    return section
}
