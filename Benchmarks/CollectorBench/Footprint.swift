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
        cano.append(nanos(ready))
        let alertmanager = try await AlertmanagerProcess(webhookURL: "\(unused)/am", logLevel: "info")
        alertmanager.stop()
        am.append(nanos(alertmanager.startToReady))
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

private func nanos(_ d: Duration) -> Int64 { d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000 }

// MARK: 9. Image

/// Builds the core-only image's root filesystem (`scripts/build-rootfs.sh`, what the
/// Dockerfile and `scripts/build-images.sh` copy into the image) from the release binary
/// under test, and reports its size, uncompressed and as one gzip'ed tar.
func imageScenario(_ scale: Scale) async throws -> Section {
    var section = Section(name: "image", title: "9. Image: the core-only root filesystem")
    // The tree's ownership (65532 for the data directory) needs root to set, as do the
    // packaging tests; CI runs as root.
    guard getuid() == 0 else { throw BenchFailure("scripts/build-rootfs.sh needs root (it sets file ownership): run as root, or leave `image` out with --only") }
    let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts").standardized
    let out = try TemporaryDirectory(prefix: "cano-bench-rootfs")
    defer { out.remove() }
    let tree = out.path + "/rootfs"
    let built = try shell("\(scripts.path)/build-rootfs.sh \(tree) \(try BuildProducts.collector())")
    guard built.status == 0 else { throw BenchFailure("build-rootfs.sh failed (\(built.status)): \(built.output.suffix(2000))") }
    // Regular files only, each once (the tree has symbolic links for library sonames).
    var files: [(path: String, bytes: Int)] = []
    let enumerator = FileManager.default.enumerator(atPath: tree)
    while let relative = enumerator?.nextObject() as? String {
        var st = stat()
        guard lstat(tree + "/" + relative, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
        files.append(("/" + relative, Int(st.st_size)))
    }
    let bytes = files.reduce(0) { $0 + $1.bytes }
    let gzipped = try shell("tar -C \(tree) -cf - . | gzip -6 | wc -c")
    guard gzipped.status == 0, let compressed = Int(gzipped.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw BenchFailure("could not measure the gzip'ed tree: \(gzipped.output)")
    }
    let mb = { (n: Int) in Double(n) / 1e6 }
    section.figures = ["image.rootfs_mb": mb(bytes), "image.rootfs_gzip_mb": mb(compressed), "image.rootfs_files": Double(files.count)]
    section.headers = ["tree", "files", "uncompressed MB", "gzip'ed tar MB"]
    section.rows = [["core-only rootfs (host binary, its library closure, CA bundle, /etc)", String(files.count), f1(mb(bytes)), f1(mb(compressed))]]
    let largest = files.sorted { $0.bytes > $1.bytes }.prefix(6).map { "\($0.path) \(f1(mb($0.bytes))) MB" }
    section.notes = [
        "Built by scripts/build-rootfs.sh from the release binary under test (debug sections stripped there, the symbol table kept). MB = 10^6 bytes; regular files only.",
        "Largest files: " + largest.joined(separator: ", ") + ".",
    ]
    return section
}

/// Runs `command` with /bin/sh; its exit status and combined output.
private func shell(_ command: String) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = Subprocess.readToEnd(pipe.fileHandleForReading)
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
