import Foundation
import Testing
import TestSupport

/// `cano-collector plugins ...` as a user runs it. Enabled once the collector's root
/// command registers `PluginsCommand` (the lead's `Sources/Host`); until then the binary
/// has no `plugins` subcommand to run.
@Suite("plugins CLI", .enabled(if: PluginsCLI.available))
struct PluginsCommandTests {
    @Test func aCrashingPluginIsReportedNotFatal() throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let run = try PluginsCLI.run(["plugins", "check", try fixtures.build("crashes")])
        #expect(run.status == 1)
        #expect(run.output.contains("PASS  create"))
        #expect(run.output.contains("FAIL  crash: the plugin crashed the process (signal 11"), "\(run.output)")
        #expect(run.output.hasSuffix("result: FAIL\n"))
    }

    @Test func aHangingPluginIsStopped() throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let run = try PluginsCLI.run(["plugins", "check", try fixtures.build("hangs"), "--timeout", "0.2"])
        #expect(run.status == 1)
        #expect(run.output.contains("PASS  create"))
        #expect(run.output.contains("FAIL  hang: the plugin did not return"), "\(run.output)")
        #expect(run.output.hasSuffix("result: FAIL\n"))
    }

    @Test func checkPassesTheCExample() throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let config = "{\"path\":\"\(fixtures.directory.file("out.jsonl"))\"}"
        let run = try PluginsCLI.run(["plugins", "check", try fixtures.buildExample(), "--config-json", config])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.hasSuffix("result: PASS\n"))
    }

    @Test func checkPassesTheWebhookAgainstItsCaptureServer() throws {
        let run = try PluginsCLI.run(["plugins", "check", try BuildProducts.plugin("CanoWebhook"),
                                      "--config-json", #"{"url":"{{capture_url}}","hmac_secret":"x"}"#])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("PASS  deliver resolved: HTTP 200"))
        #expect(run.output.contains("received 2 request(s)"))
    }

    @Test func listShowsLoadedAndRefused() throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        _ = try fixtures.build("valid")
        _ = try fixtures.build("newer_minor")
        let run = try PluginsCLI.run(["plugins", "list", "--plugin-dir", fixtures.directory.path])
        #expect(run.status == 1, "a refused file makes list fail")
        #expect(run.output.contains("loaded   valid 0.0.1"))
        #expect(run.output.contains("refused  ") && run.output.contains("newer_minor.so") && run.output.contains("[abiMinorTooNew]"))
    }
}

enum PluginsCLI {
    /// True when the built binary knows `plugins check`.
    static var available: Bool {
        (try? run(["plugins", "check", "--help"]))?.output.contains("--config-json") == true
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BuildProducts.collector())
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
