import Foundation

/// Compiles C plugins (the example and the broken fixtures) with the system C compiler,
/// exactly as a plugin author would: `cc -shared -fPIC -I Sources/PluginABI/include`.
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
    public static func compile(_ source: String, into directory: String, as output: String, defines: [String] = []) throws -> String {
        let target = directory + "/" + output
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-shared", "-fPIC", "-fvisibility=hidden", "-I", repositoryRoot + "/Sources/PluginABI/include"]
            + defines.map { "-D" + $0 } + [source, "-o", target]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSupportError("cc failed for \(source): \(String(decoding: message, as: UTF8.self))")
        }
        return target
    }
}
