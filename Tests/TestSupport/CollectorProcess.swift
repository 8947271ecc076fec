import CanoSDK
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real `cano-collector` binary run as a subprocess with a config a test writes, for
/// process-level tests (end to end, kill -9, SIGTERM drain).
public final class CollectorProcess: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    public let configPath: String
    private let process: ChildProcess
    private let output: URL
    /// How long after its launch a wait for ready saw the collector answer `/readyz` (to
    /// within 5 ms); nil until one has. With `waitReady: false`, it includes whatever the
    /// caller did before ``waitUntilReady(timeout:)``.
    public private(set) var startToReady: Duration?

    /// Writes `configYAML` (with `{{port}}` and `{{data_dir}}` replaced) and starts the
    /// collector; waits for `/readyz` unless `waitReady` is false. Without a `port`, it
    /// picks a free one, and another if that one was taken before the collector bound it
    /// (``withFreeLoopbackPort(attempts:what:_:)``; only when waiting for ready, which is
    /// when a taken port shows). `logLevel` is `debug` for tests (their failure messages
    /// show the log); benchmarks pass `info` so per-delivery log lines don't weigh on what
    /// they measure.
    /// Async because the wait runs on a thread of its own: blocking Swift's cooperative pool
    /// would stall every in-process double and test beside this one.
    public init(configYAML: String, directory: URL? = nil, port: Int? = nil, waitReady: Bool = true, environment: [String: String] = [:],
                logLevel: String = "debug") async throws {
        let directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("cano-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configPath = directory.appendingPathComponent("config.yaml").path
        (self.directory, self.configPath) = (directory, configPath)
        func launch(_ port: Int) throws -> (port: Int, process: ChildProcess, output: URL) {
            let yaml = configYAML
                .replacingOccurrences(of: "{{port}}", with: String(port))
                .replacingOccurrences(of: "{{data_dir}}", with: directory.appendingPathComponent("data").path)
                .replacingOccurrences(of: "{{dir}}", with: directory.path)
            try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
            let output = directory.appendingPathComponent("collector-\(UUID().uuidString.prefix(8)).log")
            FileManager.default.createFile(atPath: output.path, contents: nil)
            let handle = try FileHandle(forWritingTo: output)
            let process = ChildProcess()
            process.executableURL = URL(fileURLWithPath: try BuildProducts.collector())
            process.arguments = ["run", "--config", configPath, "--log-level", logLevel]
            process.environment = BuildProducts.collectorEnvironment(environment)
            process.standardOutput = handle
            process.standardError = handle
            try Subprocess.start(process)
            return (port, process, output)
        }
        if port == nil, waitReady {
            (self.port, process, output, startToReady) = try await withFreeLoopbackPort(what: "cano-collector") { port in
                let started = try launch(port)
                if let ready = await Self.becomesReady(port: port, process: started.process, output: started.output, timeout: 30) {
                    return .started((started.port, started.process, started.output, ready))
                }
                let log = (try? String(contentsOf: started.output, encoding: .utf8)) ?? ""
                if !started.process.isRunning, saysAddressInUse(log) { return .taken }
                // Not kept by anyone (no deinit runs for a half-made instance): stop it.
                if started.process.isRunning { kill(started.process.processIdentifier, SIGKILL) }
                throw TestTimeout(what: "cano-collector to become ready; its output:\n\(log)")
            }
        } else {
            (self.port, process, output) = try launch(try port ?? freeLoopbackPort())
            if waitReady { try await waitUntilReady() }
        }
    }

    /// Polls `/readyz` until 200, failing early if the process exits.
    public func waitUntilReady(timeout: TimeInterval = 30) async throws {
        guard let ready = await Self.becomesReady(port: port, process: process, output: output, timeout: timeout) else {
            throw TestTimeout(what: "cano-collector to become ready; its output:\n\(log)")
        }
        startToReady = ready
    }

    /// ``becomesReady(_:readyURL:log:listening:timeout:)`` for the collector: `/readyz`, and
    /// Hummingbird's "listening on" line, which is at info, so `logLevel` must be info or lower.
    private static func becomesReady(port: Int, process: ChildProcess, output: URL, timeout: TimeInterval) async -> Duration? {
        await TestSupport.becomesReady(process, readyURL: "http://127.0.0.1:\(port)/readyz", log: output,
                                       listening: "listening on 127.0.0.1:\(port)\"", timeout: timeout)
    }

    /// Posts a webhook body to `/api/alerts`.
    public func postAlerts(_ body: [UInt8], headers: [HTTPHeader] = []) throws -> HTTPResponse {
        try HTTPClient().send(HTTPRequest(method: "POST", url: "http://127.0.0.1:\(port)/api/alerts",
                                          headers: [HTTPHeader(name: "Content-Type", value: "application/json")] + headers, body: body))
    }

    /// GETs a path on the collector.
    public func get(_ path: String) throws -> HTTPResponse {
        try HTTPClient().send(HTTPRequest(url: "http://127.0.0.1:\(port)\(path)"))
    }

    /// Everything the process wrote (JSON log lines and stdout).
    public var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    public var isRunning: Bool { process.isRunning }
    /// The process id (benchmarks read its RSS and CPU time from /proc).
    public var pid: Int32 { process.processIdentifier }
    public var exitStatus: Int32 { process.terminationStatus }
    /// The signal that ended the process, or nil if it exited (or still runs).
    public var terminatingSignal: Int32? {
        !process.isRunning && process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil
    }

    /// Sends a signal (SIGTERM for a graceful stop, SIGKILL for a crash).
    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for the process to exit.
    /// The wait runs on a thread of its own: blocking Swift's cooperative pool would stall
    /// the in-process doubles the collector may be talking to.
    public func waitForExit(timeout: TimeInterval = 30) async throws {
        let process = self.process
        let exited = await BlockingThread.run(name: "test-wait-exit") { () -> Bool in
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(10_000) }  // bounded poll of a child's exit
            return !process.isRunning
        }
        guard exited else { throw TestTimeout(what: "cano-collector to exit; its output:\n\(log)") }
    }

    /// Kills the process (SIGKILL) and returns at once; the exit is reaped on a thread of
    /// its own. Tests call it from async code and deinit, where waiting for the exit would
    /// block Swift's cooperative pool (and `waitUntilExit` can take long while other tests
    /// launch processes). Use `signal(_:)` and ``waitForExit(timeout:)`` to wait.
    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        let process = self.process
        BlockingThread.start(name: "test-reap") { process.waitUntilExit() }
    }

    deinit { stop() }
}
