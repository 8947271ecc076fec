import Foundation

/// Where the products of `swift build` are: the `cano-collector` binary and the plugin
/// libraries, next to the test bundle (or in `CANO_BIN_DIR`).
public enum BuildProducts {
    /// The build directory (e.g. `.build/debug`).
    public static let directory: String = {
        if let dir = ProcessInfo.processInfo.environment["CANO_BIN_DIR"] { return dir }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The test binary sits inside `<name>PackageTests.xctest` on some layouts.
        while url.path.contains(".xctest") { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The path of a product, failing with advice when `swift build` has not built it.
    public static func path(_ name: String) throws -> String {
        let path = directory + "/" + name
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestTimeout(what: "\(name) in \(directory): run `swift build` before `swift test` (scripts/test.sh does)")
        }
        return path
    }

    /// The collector binary.
    public static func collector() throws -> String { try path("cano-collector") }

    /// The environment to run the collector binary with: this process's, plus `extra`, with
    /// the Swift runtime's crash backtracer off unless asked for. Tests crash plugins on
    /// purpose, and each backtrace costs seconds of CPU that starve the tests beside it.
    public static func collectorEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if environment["SWIFT_BACKTRACE"] == nil { environment["SWIFT_BACKTRACE"] = "enable=no" }
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    /// A plugin library by product name, e.g. `plugin("CanoWebhook")` → `libCanoWebhook.so`.
    public static func plugin(_ product: String) throws -> String { try path("lib\(product).so") }
}
