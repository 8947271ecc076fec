import ArgumentParser
import CanoSDK
import Collector
import Foundation
import Logging

/// `cano-collector plugins`: inspect plugin files without starting the collector.
struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List plugins and check a plugin file for conformance.",
        subcommands: [List.self, Check.self])

    /// `plugins list`: what would be loaded, and why anything would not.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the plugins found and why any file was refused.",
            discussion: """
                Without directories (from --config or --plugin-dir), searches plugins/ next to the \
                binary, then /usr/lib/cano-collector/plugins (missing defaults are skipped). Exits 1 \
                when a file was refused, 2 when the config is invalid or a given directory does not exist.
                """)

        @Option(help: "The collector config file; its plugins section is searched (flags below add to it).")
        var config: String?

        @Option(name: .customLong("plugin-dir"), help: "A directory of *.so plugins (repeatable); replaces the defaults.")
        var pluginDirectories: [String] = []

        @Option(name: .customLong("plugin"), help: "A plugin file to load as well (repeatable).")
        var pluginPaths: [String] = []

        func run() throws {
            HTTPClient.initializeProcess()
            var search = PluginSearchConfig()
            if let config {
                do {
                    search = try ConfigLoader.load(path: config).plugins
                } catch {
                    print("error: \(error)")
                    throw ExitCode(2)
                }
            }
            search.directories += pluginDirectories
            search.paths += pluginPaths
            let catalog: PluginCatalog
            do {
                catalog = try PluginCatalog.scan(search)
            } catch {
                print("error: \(error.path): \(error.reason)")
                throw ExitCode(2)
            }
            let searched = search.directories.isEmpty ? PluginCatalog.defaultDirectories() : search.directories
            print("searched: \(searched.joined(separator: ", "))" + (search.paths.isEmpty ? "" : "; files: \(search.paths.joined(separator: ", "))"))
            if catalog.entries.isEmpty { print("no plugin files found") }
            for entry in catalog.entries {
                switch entry {
                case .loaded(let p):
                    print("loaded   \(p.name) \(p.version) (\(p.kind.rawValue), toolchain \(p.toolchain ?? "none")) \(p.path)")
                case .refused(let e):
                    print("refused  \(e.path): \(e.reason) [\(e.code)]")
                }
            }
            if !catalog.refused.isEmpty { throw ExitCode(1) }
        }
    }

    /// `plugins check PATH`: a conformance run against a local capture server.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a plugin, create it and deliver sample Issues to a local capture server.",
            discussion: """
                Prints PASS/FAIL per check with advice and exits 1 if any check failed. The checks \
                run in a child process: a plugin that crashes or ignores its deadline is a FAIL. \
                In --config-json, {{capture_url}} is replaced by the capture server's URL, e.g. \
                --config-json '{"url":"{{capture_url}}"}' for the webhook plugin.
                """)

        @Argument(help: "The plugin file (.so).")
        var path: String

        @Option(name: .customLong("config-json"), help: "The instance config as a JSON object.")
        var configJSON = "{}"

        @Option(help: "Seconds each plugin call may take.")
        var timeout: Double = 10

        /// Seconds allowed, beyond the plugin calls' deadlines, for loading and start-up.
        static let startupAllowance = 5.0

        @Flag(help: "Show the plugin's own log lines (JSON, on stderr).")
        var verbose = false

        @Flag(name: .customLong("in-process"), help: "Run the plugin in this process (a crashing plugin then ends the checker; useful under gdb).")
        var inProcess = false

        func run() async throws {
            if inProcess {
                try await runInProcess()
            } else {
                try runIsolated()
            }
        }

        /// The checks themselves; each verdict is printed (and flushed) as soon as it is
        /// known, so a crash in the next plugin call leaves everything before it on screen.
        private func runInProcess() async throws {
            HTTPClient.initializeProcess()
            let logger = verbose
                ? Logger(label: "cano.plugins.check") { JSONLogHandler(label: $0, level: .debug) }
                : Logger(label: "cano.plugins.check") { _ in SwiftLogNoOpLogHandler() }
            let report = await PluginConformance.run(
                path: path, configJSON: configJSON, timeout: .milliseconds(Int64(max(0.001, timeout) * 1000)), logger: logger,
                progress: { check in
                    print(check.text, terminator: "")
                    fflush(nil)  // all streams; naming stdout is not concurrency-safe in Swift 6
                })
            print(report.resultLine, terminator: "")
            if !report.passed { throw ExitCode(1) }
        }

        /// Runs the checks in a child process (this same command with --in-process), so a
        /// plugin that crashes (a segfault, a Swift trap) is reported as a FAIL with advice
        /// instead of taking the checker down.
        private func runIsolated() throws {
            guard let executable = PluginCatalog.executablePath() else {
                print("error: cannot find this executable (/proc/self/exe) to run the check in a child process; use --in-process")
                throw ExitCode(2)
            }
            let child = Process()
            child.executableURL = URL(fileURLWithPath: executable)
            child.arguments = Array(CommandLine.arguments.dropFirst()) + ["--in-process"]
            if !verbose {
                // The Swift runtime's crash backtrace is long; --verbose keeps it.
                var environment = ProcessInfo.processInfo.environment
                environment["SWIFT_BACKTRACE"] = "enable=no"
                child.environment = environment
            }
            let exited = DispatchSemaphore(value: 0)
            child.terminationHandler = { _ in exited.signal() }
            try child.run()
            // Four plugin calls, each bounded by --timeout, plus start-up: a plugin that
            // ignores its deadline (or blocks in create) is stopped and reported.
            let budget = 4 * max(0.001, timeout) + Self.startupAllowance
            if exited.wait(timeout: .now() + budget) == .timedOut {
                kill(child.processIdentifier, SIGKILL)
                exited.wait()
                print(ConformanceReport.Check(
                    "hang", .fail, "the plugin did not return within \(Int(budget.rounded(.up))) s (4 calls x --timeout \(timeout) s, plus start-up) "
                        + "in the step after the last line above; the check was stopped",
                    advice: "return CANO_STATUS_RETRY by ctx->deadline_unix_ms; never block without a timeout").text, terminator: "")
                print("result: FAIL")
                throw ExitCode(1)
            }
            switch child.terminationReason {
            case .exit:
                if child.terminationStatus != 0 { throw ExitCode(child.terminationStatus) }
            case .uncaughtSignal:
                let signal = child.terminationStatus
                let name = strsignal(signal).map { String(cString: $0) } ?? "signal \(signal)"
                print(ConformanceReport.Check(
                    "crash", .fail, "the plugin crashed the process (signal \(signal): \(name)) in the step after the last line above",
                    advice: "a plugin must never crash, trap or exit: report failures as results. "
                        + "Rerun with --verbose for a backtrace, or with --in-process under gdb or valgrind").text, terminator: "")
                print("result: FAIL")
                throw ExitCode(1)
            @unknown default:
                throw ExitCode(1)
            }
        }
    }
}
