#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The shared real-world fixtures (`../shared/fixtures` next to the repository; read-only).
public enum Fixtures {
    /// The repository root, found from this source file's location.
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }  // Fixtures.swift, TestSupport, Tests
        return url.path
    }()

    /// The fixtures directory: `CANO_FIXTURES` if set, else `../shared/fixtures`.
    public static let directory: String = {
        if let env = ProcessInfo.processInfo.environment["CANO_FIXTURES"] { return env }
        return URL(fileURLWithPath: repositoryRoot).deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
    }()

    /// The bytes of a fixture, by path relative to the fixtures directory.
    public static func data(_ relativePath: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + relativePath)))
    }
}
