import CanoSDK
import Foundation  // Process: tests may use full Foundation

/// Validates JSON against `docs/issue.schema.json` with a real JSON Schema implementation
/// (Python's `jsonschema`, draft 2020-12), so the published contract and what the host
/// emits cannot drift apart.
public enum IssueSchema {
    /// A validation failure, with the validator's messages.
    public struct Violation: Error, CustomStringConvertible {
        public let description: String
    }

    /// Throws unless every document validates. Each element is one Issue's JSON.
    /// Runs on a thread of its own (python3 takes a while): never on Swift's cooperative pool.
    public static func validate(_ documents: [[UInt8]]) async throws {
        let result: Result<Void, any Error> = await BlockingThread.run(name: "test-schema") { Result { try validateBlocking(documents) } }
        try result.get()
    }

    private static func validateBlocking(_ documents: [[UInt8]]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cano-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var paths: [String] = []
        for (i, doc) in documents.enumerated() {
            let path = dir.appendingPathComponent("\(i).json").path
            try Data(doc).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let script = """
            import json, sys
            from jsonschema import Draft202012Validator, FormatChecker
            schema = json.load(open(sys.argv[1]))
            Draft202012Validator.check_schema(schema)
            v = Draft202012Validator(schema, format_checker=FormatChecker())
            bad = 0
            for p in sys.argv[2:]:
                for e in v.iter_errors(json.load(open(p))):
                    bad += 1
                    print(p, "/".join(map(str, e.absolute_path)), e.message[:300])
            sys.exit(1 if bad else 0)
            """
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, Fixtures.repositoryRoot + "/docs/issue.schema.json"] + paths
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try Subprocess.start(process)
        let output = Subprocess.readToEnd(pipe.fileHandleForReading)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Violation(description: "schema validation failed (needs python3 with jsonschema):\n" + String(decoding: output, as: UTF8.self))
        }
    }
}
