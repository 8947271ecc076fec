import Foundation

/// Finds products of this package's build (the plugin `.so` files) from a test.
///
/// Looks, in order: the environment variable given, the directory of the running test
/// binary (`/proc/self/exe`, then `CommandLine.arguments[0]`; SwiftPM puts libraries
/// and the test bundle side by side in `.build/<triple>/<config>/`), then
/// `<repo>/.build/debug`. `swift build --build-tests` alone may not link dynamic
/// library products, so run `swift build` first (the README's test command does).
public enum BuiltProducts {
    /// The path of `lib<product>.so`, or an error saying how to build it.
    public static func library(_ product: String, environmentVariable: String) throws -> String {
        let file = "lib\(product).so"
        if let explicit = ProcessInfo.processInfo.environment[environmentVariable], !explicit.isEmpty {
            guard FileManager.default.fileExists(atPath: explicit) else {
                throw TestSupportError("\(environmentVariable)=\(explicit) does not exist")
            }
            return explicit
        }
        var directories: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append((exe as NSString).deletingLastPathComponent)
        }
        if let argument = CommandLine.arguments.first {
            directories.append((URL(fileURLWithPath: argument).resolvingSymlinksInPath().path as NSString).deletingLastPathComponent)
        }
        directories.append(CPluginCompiler.repositoryRoot + "/.build/debug")
        for directory in directories {
            // An .xctest bundle directory (macOS layout) sits next to the libraries too.
            for candidate in [directory, (directory as NSString).deletingLastPathComponent] {
                let path = candidate + "/" + file
                if FileManager.default.fileExists(atPath: path) { return path }
            }
        }
        throw TestSupportError("\(file) not found next to the test binary (looked in \(directories.joined(separator: ", "))); "
            + "run `swift build` before the tests, or set \(environmentVariable)")
    }
}
