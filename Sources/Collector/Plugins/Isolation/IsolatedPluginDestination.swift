import CanoSDK
import Foundation
import Logging
import PluginABI
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A destination whose plugin instance must be released at shutdown. `CollectorApp`
/// calls `shutdown()` on every ready destination that conforms, after the drain.
public protocol ShutdownableDestination: Destination {
    /// Releases the plugin instance; later deliveries answer `.retry` ("shut down").
    /// Returns false when the plugin had to be abandoned or killed instead of destroyed.
    @discardableResult
    func shutdown() -> Bool
}

/// Which executable can run `plugin-host` (the hidden subcommand that hosts an isolated
/// plugin). The `cano-collector` binary registers itself when its command line is set up;
/// a process that never registers (a test runner embedding the collector) has none, so a
/// plugin without an explicit `isolation` runs in process there.
public enum PluginHostExecutable {
    private static let registered = Mutex<String?>(nil)

    /// The registered executable, or nil.
    public static var path: String? { registered.withLock { $0 } }

    /// Records `path` (normally /proc/self/exe) as able to run `plugin-host`.
    public static func register(_ path: String?) {
        registered.withLock { $0 = path }
    }
}

/// A destination whose plugin runs in a child process (`isolation: process`): the same C
/// ABI, driven over a socket by `cano-collector plugin-host`. A crash or hang kills only
/// the child; the call is answered `.retry` with `crashed: true`, and the child is started
/// again, lazily, on a later call, with exponential backoff between starts (100 ms doubling
/// to 30 s, reset by a call that completes).
///
/// Calls may run concurrently (the engine's workers); the child serialises them unless the
/// plugin is reentrant, exactly as in process. The key-value store, counters, logs and kube
/// GET are served by this process, so plugin state survives restarts of the child.
public final class IsolatedPluginDestination: ShutdownableDestination {
    /// The configured destination name.
    public let name: String
    /// The plugin (loaded in this process only to check it; its code runs in the child).
    public let plugin: LoadedPlugin

    /// How long past the call's deadline the child may take to answer before it is killed:
    /// room for the frame round trip and a plugin that returns right at its deadline.
    public static let deadlineGrace: Duration = .seconds(2)
    /// Default first delay before restarting a child that died.
    public static let initialRestartBackoff: Duration = .milliseconds(100)
    /// Default longest delay between restarts.
    public static let maxRestartBackoff: Duration = .seconds(30)

    /// How long start-up (exec, dlopen, create) may take.
    public static let startTimeout: Duration = .seconds(10)

    /// This destination's first restart delay; doubles per consecutive failure.
    public let initialRestartBackoff: Duration
    /// This destination's longest restart delay.
    public let maxRestartBackoff: Duration

    private let executable: String
    private let config: [UInt8]
    private let flags: PluginCreateFlags
    private let services: PluginServices
    private let startLock = NSLock()

    private struct State {
        var process: PluginProcess?
        var failures = 0
        var notBefore: ContinuousClock.Instant?
        var lastFailure = ""
        var shutDown = false
    }
    private let state = Mutex(State())

    /// Starts the child and creates the instance in it. `executable` is the binary with
    /// the `plugin-host` subcommand; the backoff bounds default to 100 ms and 30 s (tests
    /// shorten or lengthen them).
    ///
    /// - Throws: `DestinationSetupError` when the child cannot be started, the plugin
    ///   cannot be loaded in it, or its create() fails (like `PluginDestination`).
    public init(name: String, plugin: LoadedPlugin, config: [UInt8], services: PluginServices, executable: String,
                flags: PluginCreateFlags = [],
                initialRestartBackoff: Duration = IsolatedPluginDestination.initialRestartBackoff,
                maxRestartBackoff: Duration = IsolatedPluginDestination.maxRestartBackoff) throws(DestinationSetupError) {
        guard plugin.kind == .destination else {
            throw DestinationSetupError(.notADestination, destination: name, type: plugin.name,
                                        reason: "plugin \(plugin.name) (\(plugin.path)) is an enricher, not a destination")
        }
        self.name = name
        self.plugin = plugin
        self.executable = executable
        self.config = config
        self.flags = flags
        self.services = services
        self.initialRestartBackoff = initialRestartBackoff
        self.maxRestartBackoff = maxRestartBackoff
        switch start(deadline: .now + Self.startTimeout) {
        case .success(let process):
            state.withLock { $0.process = process }
        case .failure(let failure):
            throw DestinationSetupError(.createFailed, destination: name, type: plugin.name, reason: failure.reason, retryable: failure.retryable)
        }
    }

    deinit {
        state.withLock { $0.process }?.kill(reason: "destination released")
    }

    /// The child's pid, while one runs (for tests and diagnostics).
    public var childPID: Int32? {
        state.withLock { s in s.process.flatMap { $0.isRunning ? $0.pid : nil } }
    }

    /// Delivers through the child. Blocks until it answers, at most until
    /// `context.deadline` + `deadlineGrace`; call it from a dedicated thread.
    public func deliver(issueJSON: [UInt8], context: DeliveryContext) -> DeliveryOutcome {
        let process: PluginProcess
        switch acquire(deadline: context.deadline + Self.deadlineGrace) {
        case .success(let p): process = p
        case .failure(let outcome): return outcome
        }
        let fields: [[UInt8]] = [
            issueJSON, PluginFrame.field(Int64(context.attempt)), PluginFrame.field(context.deadlineUnixMillis),
            PluginFrame.field(context.idempotencyKey), context.reference ?? [], PluginFrame.field(context.reference == nil ? 0 : 1),
        ]
        let began = ContinuousClock.now
        switch process.call(.deliver, fields, deadline: context.deadline + Self.deadlineGrace) {
        case .frame(let frame):
            state.withLock { s in
                s.failures = 0
                s.notBefore = nil
            }
            let reference = frame.int(4) != 0 ? frame.bytes(3) : nil
            let retryAfter = frame.int(1)
            return PluginCallResult(status: Int32(truncatingIfNeeded: frame.int(0)), retryAfterMillis: retryAfter >= 0 ? retryAfter : nil,
                                    message: frame.string(2), reference: reference, payload: nil).outcome
        case .timedOut:
            let waited = Self.format(began.duration(to: .now))
            process.kill(reason: "killed after a call hung")
            let backoff = recordFailure(process, "it did not answer a call within its deadline")
            services.logger.error("isolated plugin hung; killed its process", metadata: [
                "destination": .string(name), "plugin": .string(plugin.name), "pid": .stringConvertible(process.pid),
                "restart_in": .string("\(backoff)"),
            ])
            return DeliveryOutcome(.retry, message: "plugin process for \(name) did not answer within \(waited); killed it", crashed: true)
        case .exited(let how, let killedByParent):
            if killedByParent || state.withLock({ $0.shutDown }) {
                // Killed because another call hung, or stopped (destroy, then exit) at
                // shutdown: not this Issue's doing.
                return DeliveryOutcome(.retry, message: "plugin process for \(name) was stopped during the call (\(how))")
            }
            let backoff = recordFailure(process, "it \(how)")
            services.logger.error("isolated plugin process died during a call", metadata: [
                "destination": .string(name), "plugin": .string(plugin.name), "pid": .stringConvertible(process.pid),
                "exit": .string(how), "restart_in": .string("\(backoff)"),
            ])
            return DeliveryOutcome(.retry, message: "plugin process for \(name) died during the call: \(how)", crashed: true)
        }
    }

    /// Sends destroy, waits briefly for the child to exit, then kills it. Returns within
    /// about a second even when the plugin is stuck in a call; false when it had to be
    /// killed. Idempotent.
    @discardableResult
    public func shutdown() -> Bool {
        let process: PluginProcess? = state.withLock { s in
            s.shutDown = true
            defer { s.process = nil }
            return s.process
        }
        guard let process, process.isRunning else { return true }
        let started = ContinuousClock.now
        _ = process.call(.destroy, [], deadline: started + .milliseconds(600))
        if !process.waitForExit(timeout: .milliseconds(300)) {
            services.logger.warning("isolated plugin did not stop in time; killed its process", metadata: [
                "destination": .string(name), "plugin": .string(plugin.name), "pid": .stringConvertible(process.pid),
            ])
            process.kill(reason: "killed at shutdown")
            process.waitForExit(timeout: .milliseconds(100))
            return false
        }
        return true
    }

    // MARK: - Starting the child

    private struct StartFailure: Error {
        var reason: String
        var retryable: Bool
        var crashed = false
    }

    /// The running child, or an outcome explaining why there is none (shut down, backing
    /// off after a crash, failed to start).
    private enum Acquired {
        case success(PluginProcess)
        case failure(DeliveryOutcome)
    }

    private func acquire(deadline: ContinuousClock.Instant) -> Acquired {
        enum Next { case use(PluginProcess), wait(DeliveryOutcome), start }
        func check() -> Next {
            state.withLock { s in
                if s.shutDown { return .wait(DeliveryOutcome(.retry, message: "destination \(name) is shut down")) }
                if let p = s.process {
                    if p.isRunning { return .use(p) }
                    // It died between calls (a plugin thread of its own crashed): a failure
                    // like any other, so a child that dies at once keeps backing off.
                    s.process = nil
                    s.failures += 1
                    s.notBefore = .now + Self.backoff(afterFailures: s.failures, initial: initialRestartBackoff, max: maxRestartBackoff)
                    s.lastFailure = "it \(p.exitDescription ?? "exited") between calls"
                }
                if let notBefore = s.notBefore, ContinuousClock.now < notBefore {
                    let remaining = ContinuousClock.now.duration(to: notBefore)
                    return .wait(DeliveryOutcome(
                        .retry, message: "plugin process for \(name) is restarting after a failure (\(s.lastFailure)); next start in \(Self.format(remaining))",
                        retryAfter: remaining))
                }
                return .start
            }
        }
        switch check() {
        case .use(let p): return .success(p)
        case .wait(let outcome): return .failure(outcome)
        case .start: break
        }
        startLock.lock()
        defer { startLock.unlock() }
        switch check() {  // another worker may have started it meanwhile
        case .use(let p): return .success(p)
        case .wait(let outcome): return .failure(outcome)
        case .start: break
        }
        switch start(deadline: min(deadline, .now + Self.startTimeout)) {
        case .success(let process):
            let kept = state.withLock { s -> Bool in
                guard !s.shutDown else { return false }
                s.process = process
                return true
            }
            if !kept {
                process.kill(reason: "shut down while starting")
                return .failure(DeliveryOutcome(.retry, message: "destination \(name) is shut down"))
            }
            services.logger.info("isolated plugin process restarted", metadata: [
                "destination": .string(name), "plugin": .string(plugin.name), "pid": .stringConvertible(process.pid),
            ])
            return .success(process)
        case .failure(let failure):
            let backoff = recordFailure(nil, failure.reason)
            services.logger.error("isolated plugin process could not be restarted", metadata: [
                "destination": .string(name), "plugin": .string(plugin.name), "reason": .string(failure.reason),
                "restart_in": .string("\(backoff)"),
            ])
            return .failure(DeliveryOutcome(.retry, message: "plugin process for \(name) could not be started: \(failure.reason)",
                                            retryAfter: backoff))
        }
    }

    /// Spawns a child, waits for the plugin to load, and creates the instance.
    private func start(deadline: ContinuousClock.Instant) -> Result<PluginProcess, StartFailure> {
        let process: PluginProcess
        do {
            process = try PluginProcess(executable: executable, pluginPath: plugin.path, name: name, handler: makeHandler())
        } catch {
            return .failure(StartFailure(reason: error.reason, retryable: true))
        }
        let remaining = max(.milliseconds(1), ContinuousClock.now.duration(to: deadline))
        switch process.awaitHello(timeout: remaining) {
        case .success: break
        case .failure(let error):
            process.kill(reason: "could not load the plugin")
            return .failure(StartFailure(reason: "the plugin process could not load \(plugin.path): \(error.description)", retryable: false))
        }
        switch process.call(.create, [config, PluginFrame.field(Int64(bitPattern: flags.rawValue))], deadline: deadline) {
        case .frame(let frame):
            let status = Int32(truncatingIfNeeded: frame.int(0))
            guard status == Int32(CANO_STATUS_OK.rawValue) else {
                process.send(PluginFrame(.destroy, id: 0))
                process.kill(reason: "create() failed")
                return .failure(StartFailure(reason: frame.string(2), retryable: status == Int32(CANO_STATUS_RETRY.rawValue)))
            }
            return .success(process)
        case .timedOut:
            process.kill(reason: "create() timed out")
            return .failure(StartFailure(reason: "create() did not return within \(Self.format(Self.startTimeout)) in the plugin process", retryable: true))
        case .exited(let how, _):
            return .failure(StartFailure(reason: "the plugin process \(how) during create()", retryable: true, crashed: true))
        }
    }

    /// Counts a failure of the child and schedules the earliest restart. Returns the delay.
    @discardableResult
    private func recordFailure(_ process: PluginProcess?, _ why: String) -> Duration {
        state.withLock { s in
            if let process, s.process !== process { return s.notBefore.map { ContinuousClock.now.duration(to: $0) } ?? .zero }
            s.process = nil
            s.failures += 1
            let backoff = Self.backoff(afterFailures: s.failures, initial: initialRestartBackoff, max: maxRestartBackoff)
            s.notBefore = .now + backoff
            s.lastFailure = why
            return backoff
        }
    }

    /// `initial` after the first failure, doubling per consecutive failure, capped at `max`.
    public static func backoff(afterFailures failures: Int, initial: Duration = initialRestartBackoff,
                               max cap: Duration = maxRestartBackoff) -> Duration {
        guard failures > 0 else { return .zero }
        let doublings = min(failures - 1, 20)
        return min(initial * (1 << doublings), cap)
    }

    // MARK: - Serving the child's host calls

    /// Handles logs, counters and host calls from the child, on its reader thread.
    private func makeHandler() -> PluginProcess.Handler {
        let name = name
        let services = services
        let pluginName = plugin.name
        return { frame in
            switch frame.kind {
            case .log:
                Self.log(frame, services: services, destination: name, plugin: pluginName)
                return nil
            case .counter:
                let counter = frame.string(0)
                guard Self.isValidCounterName(counter), frame.int(1) > 0 else { return nil }
                services.metrics.increment("cano_plugin_\(counter)_total", ["destination": name], by: Double(frame.int(1)))
                return nil
            case .hostCall:
                return Self.hostCall(frame, services: services, namespace: name)
            default:
                return nil
            }
        }
    }

    private static func log(_ frame: PluginFrame, services: PluginServices, destination: String, plugin: String) {
        var metadata: Logger.Metadata = [:]
        if let fields = try? IssueCoding.decode([String: JSONValue].self, from: frame.bytes(2)) {
            for (key, value) in fields { metadata[key] = Logger.MetadataValue(json: value) }
        }
        // The child's bridge already names both; a broken child cannot claim another destination.
        metadata["destination"] = .string(destination)
        metadata["plugin"] = .string(plugin)
        let level = Logger.Level(rawValue: frame.string(0)) ?? .info
        services.logger.log(level: level, "\(String(frame.string(1).prefix(16 * 1024)))", metadata: metadata)
    }

    /// Runs one key-value or kube call for the child. The namespace is this destination's
    /// whatever the child says, and limits are checked again: the child is not trusted.
    private static func hostCall(_ frame: PluginFrame, services: PluginServices, namespace: String) -> PluginFrame {
        func reply(_ code: Int64, _ body: [UInt8] = [], status: Int64 = 0) -> PluginFrame {
            PluginFrame(.hostReply, id: frame.id, [PluginFrame.field(code), body, PluginFrame.field(status)])
        }
        let argument = frame.bytes(1)
        let operation = frame.string(0)
        if operation == "kube_get" {
            guard let kube = services.kube, let path = String(validating: argument, as: UTF8.self), path.hasPrefix("/"),
                  let response = kube.get(path: path) else { return reply(-1) }
            return reply(0, response.body, status: Int64(response.status))
        }
        guard !argument.isEmpty, argument.count <= HostServicesBridge.maxKeyBytes, let key = String(validating: argument, as: UTF8.self) else {
            return reply(-1)
        }
        do {
            switch operation {
            case "kv_get":
                guard let value = try services.store.value(namespace: namespace, key: key) else { return reply(1) }
                return reply(0, value)
            case "kv_put":
                let value = frame.bytes(2)
                guard value.count <= HostServicesBridge.maxValueBytes else { return reply(-1) }
                try services.store.setValue(value, namespace: namespace, key: key)
                return reply(0)
            case "kv_delete":
                try services.store.removeValue(namespace: namespace, key: key)
                return reply(0)
            default:
                return reply(-1)
            }
        } catch {
            services.logger.warning("plugin key-value call failed", metadata: [
                "destination": .string(namespace), "operation": .string(operation), "error": .string("\(error)"),
            ])
            return reply(-1)
        }
    }

    private static func isValidCounterName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_")
        }
    }

    static func format(_ d: Duration) -> String {
        let (s, atto) = d.components
        let millis = s * 1000 + atto / 1_000_000_000_000_000
        return millis < 1000 ? "\(millis) ms" : String(format: "%.1f s", Double(millis) / 1000)
    }
}
