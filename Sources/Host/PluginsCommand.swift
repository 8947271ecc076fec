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
                    print("error: " + SecretScrubber.shared.scrub(error.description))
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
                    // Capabilities only for destinations: they say what the host sends to deliver().
                    let capabilities = p.kind == .destination ? ", capabilities \(p.capabilities)" : ""
                    print("loaded   \(p.name) \(p.version) (\(p.kind.rawValue), ABI \(PluginLoader.abiMajor).\(p.abiMinor), toolchain \(p.toolchain ?? "none")\(capabilities)) \(p.path)")
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
                --config-json '{"url":"{{capture_url}}"}' for the webhook plugin; with it, the plugin's \
                outcome mapping is exercised too (202, 429 with Retry-After, 500, 400, a hang, a reset). \
                ${VAR} and key_file: PATH are resolved as `run` resolves a destination's config \
                (relative paths from the working directory).
                """)

        @Argument(help: "The plugin file (.so).")
        var path: String

        @Option(name: .customLong("config-json"), help: "The instance config as a JSON object.")
        var configJSON = "{}"

        @Option(help: ArgumentHelp(
            "Seconds each plugin call may take: its deadline (ctx->deadline_unix_ms).",
            discussion: "Per call, not in total: a step (load, create or one call) still running --timeout + 5 s "
                + "after the step before it is stopped and reported as a hang."))
        var timeout: Double = 10

        /// Seconds allowed, beyond one call's deadline, for a step (loading, create, the
        /// capture server's answer) before the step is called a hang.
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
            // The child's report is relayed line by line as it comes (a crash must leave the
            // lines before it on screen) and kept, so the verdict is read from the report
            // itself: a plugin that calls exit(0) must not turn a run into a pass.
            let output = Pipe()
            child.standardOutput = output
            let relay = ReportRelay(output.fileHandleForReading)
            let exited = DispatchSemaphore(value: 0)
            child.terminationHandler = { _ in exited.signal() }
            try child.run()
            relay.start()
            // A watchdog per step, as --timeout promises: each verdict the child prints
            // restarts it, so only a step (create, one call) that outlives its own
            // --timeout + allowance is stopped, however many calls the check makes.
            let budget = max(0.001, timeout) + Self.startupAllowance
            var progress = relay.progress
            while exited.wait(timeout: .now() + budget) == .timedOut {
                let now = relay.progress
                if now != progress {
                    progress = now
                    continue
                }
                kill(child.processIdentifier, SIGKILL)
                exited.wait()
                relay.finish()
                print(ConformanceReport.Check(
                    "hang", .fail, "the plugin did not return within \(Int(budget.rounded(.up))) s (--timeout \(timeout) s per call, plus \(Int(Self.startupAllowance)) s) "
                        + "in the step after the last line above; the check was stopped",
                    advice: "return CANO_STATUS_RETRY by ctx->deadline_unix_ms; never block without a timeout").text, terminator: "")
                print("result: FAIL")
                throw ExitCode(1)
            }
            let report = relay.finish()
            switch child.terminationReason {
            case .exit:
                if child.terminationStatus != 0 { throw ExitCode(child.terminationStatus) }
                guard report.hasSuffix("result: PASS\n"), !report.hasPrefix("FAIL "), !report.contains("\nFAIL ") else {
                    print(ConformanceReport.Check(
                        "exit", .fail, "the check process ended (exit status 0) without a passing report, in the step after the last line above",
                        advice: "a plugin must never call exit() or _exit(): report failures as results").text, terminator: "")
                    print("result: FAIL")
                    throw ExitCode(1)
                }
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

/// Copies a child's stdout to ours as it arrives and keeps it, for the verdict at the end.
private final class ReportRelay: @unchecked Sendable {
    private let handle: FileHandle
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var text = ""
    private var finished: String?
    private var chunks = 0

    /// How many chunks were relayed so far: it changes whenever the child reports a step.
    var progress: Int { lock.withLock { chunks } }

    init(_ handle: FileHandle) { self.handle = handle }

    /// Starts relaying on a background thread until end of file.
    func start() {
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                FileHandle.standardOutput.write(chunk)
                lock.withLock {
                    text += String(decoding: chunk, as: UTF8.self)
                    chunks += 1
                }
            }
            done.signal()
        }
    }

    /// Waits for end of file (the child and anything it forked have closed stdout) and
    /// returns everything relayed. Idempotent.
    @discardableResult
    func finish() -> String {
        if let finished = lock.withLock({ finished }) { return finished }
        done.wait()
        return lock.withLock {
            finished = text
            return text
        }
    }
}
