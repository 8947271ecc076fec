import CanoSDK
import Foundation

/// Compiles C plugins (the example and the broken fixtures) with the system C compiler,
/// exactly as a plugin author would: `cc -shared -fPIC -I Sources/PluginABI/include`.
/// A failed compile is an error with the compiler's output, never a skipped test.
public enum CPluginCompiler {
    static var repositoryRoot: String { Fixtures.repositoryRoot }

    /// `Tests/Fixtures/plugins/<name>`.
    public static func fixture(_ name: String) -> String {
        repositoryRoot + "/Tests/Fixtures/plugins/" + name
    }

    /// `examples/c-destination/jsonl_destination.c`.
    public static var examplePlugin: String { repositoryRoot + "/examples/c-destination/jsonl_destination.c" }

    /// Compiles `source` into `directory/output` and returns the .so path.
    /// `defines` become `-D` flags, passed without a shell (e.g. `FIXTURE_NAME="other"`).
    /// The compiler runs on a thread of its own: never on Swift's cooperative pool.
    public static func compile(
        _ source: String, into directory: String, as output: String, defines: [String] = [], flags: [String] = []
    ) async throws -> String {
        let result: Result<String, any Error> = await BlockingThread.run(name: "test-cc") {
            Result { try compileBlocking(source, into: directory, as: output, defines: defines, flags: flags) }
        }
        return try result.get()
    }

    private static func compileBlocking(
        _ source: String, into directory: String, as output: String, defines: [String], flags: [String]
    ) throws -> String {
        let target = directory + "/" + output
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [try compiler(), "-shared", "-fPIC", "-fvisibility=hidden", "-I", repositoryRoot + "/Sources/PluginABI/include"]
            + flags + defines.map { "-D" + $0 } + [source, "-o", target]
        let errors = Pipe()
        process.standardError = errors
        try Subprocess.start(process)
        let message = Subprocess.readToEnd(errors.fileHandleForReading)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSupportError("\(try compiler()) failed for \(source): \(String(decoding: message, as: UTF8.self))")
        }
        return target
    }

    /// `$CC`, else the first of cc, gcc, clang on PATH (the Swift toolchain ships clang, so
    /// a machine that builds this package always has one).
    static func compiler() throws -> String {
        if let cc = ProcessInfo.processInfo.environment["CC"], !cc.isEmpty { return cc }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in ["cc", "gcc", "clang"] {
            for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return name
            }
        }
        throw TestSupportError("no C compiler (cc, gcc or clang) on PATH; install gcc or set CC")
    }
}
