import CanoSDK
import Foundation  // Process: tests may use full Foundation

/// Validates Teams messages against the official Adaptive Card JSON Schema, version 1.4.0
/// (`Tests/Fixtures/adaptivecards/adaptive-card-1.4.json`, from microsoft/AdaptiveCards,
/// MIT: see the README there), with Python's `jsonschema` (draft 6, as the schema says).
///
/// A bad card is accepted by Power Automate with 202 and fails later inside the flow, where
/// nobody sees it; this is the check that stands in for Teams' renderer.
///
/// Each attachment's `content` is validated as an `AdaptiveCard` after removing its
/// `msteams` member: that is Teams' host extension (`{"width": "Full"}`), which the
/// renderer-neutral schema does not list (its `additionalProperties` is false).
/// ``TeamsDouble`` checks `msteams` itself.
public enum AdaptiveCardSchema {
    /// A validation failure, with the validator's messages.
    public struct Violation: Error, CustomStringConvertible {
        /// The validator's output: file, attachment, JSON path and message per error.
        public let description: String
    }

    /// The committed schema file.
    public static var schemaPath: String { Fixtures.repositoryRoot + "/Tests/Fixtures/adaptivecards/adaptive-card-1.4.json" }

    /// Throws unless every message's cards validate. Each element is one request body (the
    /// `type: message` envelope). Runs on a thread of its own (python3 takes a while).
    public static func validate(messages: [[UInt8]]) async throws {
        let result: Result<Void, any Error> = await BlockingThread.run(name: "test-cardschema") { Result { try validateBlocking(messages) } }
        try result.get()
    }

    private static func validateBlocking(_ messages: [[UInt8]]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cano-cards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var paths: [String] = []
        for (i, message) in messages.enumerated() {
            let path = dir.appendingPathComponent("\(i).json").path
            try Data(message).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        // anyOf errors say only "is not valid under any of the given schemas". `explain`
        // follows the branch for the element's own type (dropping branches that failed on
        // the `type` enum), down to the property at fault.
        let script = """
            import json, sys
            from jsonschema import Draft6Validator
            schema = json.load(open(sys.argv[1]))
            Draft6Validator.check_schema(schema)
            v = Draft6Validator(schema)
            def explain(e):
                while e.context:
                    wrong = {c.schema_path[0] for c in e.context if c.validator == "enum" and list(c.relative_path) == ["type"]}
                    candidates = [c for c in e.context if c.schema_path[0] not in wrong] or list(e.context)
                    e = max(candidates, key=lambda c: len(list(c.absolute_path)))
                return e
            bad = 0
            for p in sys.argv[2:]:
                msg = json.load(open(p))
                for i, att in enumerate(msg.get("attachments", [])):
                    card = dict(att.get("content") or {})
                    card.pop("msteams", None)
                    for e in v.iter_errors(card):
                        bad += 1
                        d = explain(e)
                        print(p, "attachment", i, "/".join(map(str, d.absolute_path)), d.message[:300])
            sys.exit(1 if bad else 0)
            """
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, schemaPath] + paths
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try Subprocess.start(process)
        let output = Subprocess.readToEnd(pipe.fileHandleForReading)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Violation(description: "Adaptive Card schema validation failed (needs python3 with jsonschema):\n" + String(decoding: output, as: UTF8.self))
        }
    }
}
