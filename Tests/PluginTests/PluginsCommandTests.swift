import Foundation
import Testing
import TestSupport

/// `cano-collector plugins ...` as a user runs it. Enabled once the collector's root
/// command registers `PluginsCommand` (the lead's `Sources/Host`); until then the binary
/// has no `plugins` subcommand to run.
@Suite("plugins CLI")
struct PluginsCommandTests {
    @Test func aCrashingPluginIsReportedNotFatal() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let run = try await PluginsCLI.run(["plugins", "check", try await fixtures.build("crashes")])
        #expect(run.status == 1)
        #expect(run.output.contains("PASS  create"))
        #expect(run.output.contains("FAIL  crash: the plugin crashed the process (signal 11"), "\(run.output)")
        #expect(run.output.hasSuffix("result: FAIL\n"))
    }

    @Test func aHangingPluginIsStopped() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let run = try await PluginsCLI.run(["plugins", "check", try await fixtures.build("hangs"), "--timeout", "0.2"])
        #expect(run.status == 1)
        #expect(run.output.contains("PASS  create"))
        #expect(run.output.contains("FAIL  hang: the plugin did not return"), "\(run.output)")
        #expect(run.output.hasSuffix("result: FAIL\n"))
    }

    /// A plugin that ends the process with status 0 leaves no verdict; before, the clean
    /// exit was taken for a pass (exit status 0).
    @Test func aPluginThatExitsIsAFailNotAPass() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let run = try await PluginsCLI.run(["plugins", "check", try await fixtures.build("exits")])
        #expect(run.status == 1, "\(run.output)")
        #expect(run.output.contains("PASS  create"))
        #expect(run.output.contains("FAIL  exit: the check process ended (exit status 0)"), "\(run.output)")
        #expect(run.output.hasSuffix("result: FAIL\n"))
    }

    @Test func checkPassesTheCExample() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let config = "{\"path\":\"\(fixtures.directory.file("out.jsonl"))\"}"
        let run = try await PluginsCLI.run(["plugins", "check", try await fixtures.buildExample(), "--config-json", config])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.hasSuffix("result: PASS\n"))
    }

    @Test func checkPassesTheWebhookAgainstItsCaptureServer() async throws {
        let run = try await PluginsCLI.run(["plugins", "check", try BuildProducts.plugin("CanoWebhook"),
                                      "--config-json", #"{"url":"{{capture_url}}","hmac_secret":"x"}"#])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("PASS  deliver resolved: HTTP 200"))
        #expect(run.output.contains("received 2 request(s)"))
    }

    /// --timeout is per call, as its help says: a check of many calls, each within its
    /// step budget, is not stopped. Before, 4 x --timeout + 5 s bounded the whole run, so
    /// a 3 s create and two 2.5 s deliveries (8 s > 7 s) were reported as a hang.
    @Test func timeoutIsPerCallNotTotal() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let plugin = try await fixtures.build("slow_calls", defines: ["CREATE_MS=3000", "DELIVER_MS=2500"])
        let run = try await PluginsCLI.run(["plugins", "check", plugin, "--timeout", "0.5"])
        #expect(!run.output.contains("FAIL  hang"), "\(run.output)")
        #expect(run.output.contains("PASS  deliver resolved"), "\(run.output)")
        #expect(run.output.contains("PASS  destroy"), "\(run.output)")
        #expect(run.output.contains("FAIL  create: create() with CANO_CREATE_VALIDATE_ONLY took"), "a 3 s create is still flagged as slow")
        let help = try await PluginsCLI.run(["plugins", "check", "--help"])
        #expect(help.output.contains("Per call, not in total"), "\(help.output)")
        #expect(!help.output.contains("4 calls"))
    }

    /// `${VAR}` in --config-json is resolved from the checker's environment, as `run` does.
    @Test func checkResolvesEnvironmentReferences() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let run = try await PluginsCLI.run(["plugins", "check", try await fixtures.buildExample(), "--config-json", #"{"path":"${CANO_CHECK_OUT}/out.jsonl"}"#],
                                     environment: ["CANO_CHECK_OUT": fixtures.directory.path])
        #expect(run.status == 0, "\(run.output)")
        #expect(FileManager.default.fileExists(atPath: fixtures.directory.file("out.jsonl")))
    }

    @Test func listShowsLoadedAndRefused() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        _ = try await fixtures.build("valid")
        _ = try await fixtures.build("newer_minor")
        let run = try await PluginsCLI.run(["plugins", "list", "--plugin-dir", fixtures.directory.path])
        #expect(run.status == 1, "a refused file makes list fail")
        #expect(run.output.contains("loaded   valid 0.0.1"))
        #expect(run.output.contains("refused  ") && run.output.contains("newer_minor.so") && run.output.contains("[abiMinorTooNew]"))
    }
}

enum PluginsCLI {

    /// stdout only: the checks' report, without the log lines. `environment` is added.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        try await CollectorCLI.run(arguments, environment: environment, standardError: false)
    }
}
