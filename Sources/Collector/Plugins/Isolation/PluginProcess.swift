import CanoSDK
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One running `cano-collector plugin-host` child: its pid, the socket its stdin and
/// stdout are connected to, and a reader thread that answers its host-service calls and
/// hands call results to the waiting callers.
///
/// A `PluginProcess` lives for one incarnation of the child. When the child exits (or is
/// killed) every waiting call is woken with `.exited`, and the owner starts a new one.
final class PluginProcess: @unchecked Sendable {
    // @unchecked: `pid` and `fd` are immutable after init; everything mutable is in `state`.

    /// What a call came back with.
    enum Answer: Sendable {
        /// The child answered (a `result` frame).
        case frame(PluginFrame)
        /// No answer by the deadline; the caller decides whether to kill the child.
        case timedOut
        /// The child is gone; the text says how ("killed by signal 11 (Segmentation fault)").
        /// `killedByParent` when this collector killed it (a hang, shutdown), not the plugin.
        case exited(String, killedByParent: Bool)
    }

    /// Handles the child's frames other than results (logs, counters, host calls), on the
    /// reader thread. Returns the reply to send, if any.
    typealias Handler = @Sendable (PluginFrame) -> PluginFrame?

    let pid: pid_t
    private let fd: Int32
    private let writeLock = Mutex<Void>(())

    private struct State {
        var nextID: UInt32 = 1
        var waiting: [UInt32: DispatchSemaphore] = [:]
        var answers: [UInt32: PluginFrame] = [:]
        var exitDescription: String?
        /// Set when the parent killed the child on purpose, so the exit is described as such.
        var killReason: String?
        var hello: PluginFrame?
        var helloWaiter: DispatchSemaphore?
    }
    private let state = Mutex(State())

    /// Spawns `executable plugin-host --plugin PATH --name NAME` with a socket as its stdin
    /// and stdout (stderr is inherited, so a crashing plugin's last words reach the
    /// collector's stderr), and starts the reader thread.
    init(executable: String, pluginPath: String, name: String, handler: @escaping Handler) throws(DestinationSetupError) {
        var pair: [Int32] = [-1, -1]
        // SOCK_CLOEXEC: another destination's child must not inherit this one's socket,
        // or the child would never see end-of-stream when this collector goes away.
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw DestinationSetupError(.createFailed, destination: name, type: "", reason: "socketpair failed: \(String(cString: strerror(errno)))", retryable: true)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair[1], 0)
        posix_spawn_file_actions_adddup2(&actions, pair[1], 1)
        // Nothing else of the collector's (listening sockets, the database) reaches the child,
        // even a descriptor some library opened without O_CLOEXEC.
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }

        var environment = ProcessInfo.processInfo.environment
        // The Swift runtime's crash backtracer takes seconds and a page of stderr per crash;
        // an operator who wants it sets SWIFT_BACKTRACE explicitly.
        if environment["SWIFT_BACKTRACE"] == nil { environment["SWIFT_BACKTRACE"] = "enable=no" }
        let arguments = [executable, "plugin-host", "--plugin", pluginPath, "--name", name]
        let envStrings = environment.map { "\($0.key)=\($0.value)" }

        var child: pid_t = 0
        let status = Self.withCStrings(arguments) { argv in
            Self.withCStrings(envStrings) { envp in
                posix_spawn(&child, executable, &actions, nil, argv, envp)
            }
        }
        close(pair[1])
        guard status == 0 else {
            close(pair[0])
            throw DestinationSetupError(.createFailed, destination: name, type: "",
                                        reason: "cannot start the plugin process \(executable): \(String(cString: strerror(status)))", retryable: true)
        }
        pid = child
        fd = pair[0]
        let reader = Reader(process: self, handler: handler)
        BlockingThread.start(name: "cano-plugin-\(name.prefix(20))") { reader.run() }
    }

    deinit {
        close(fd)
    }

    /// Waits up to `timeout` for the child's `hello` (the plugin loaded). Returns the
    /// plugin's name, or an error text (its `fatal` reason, or how it exited).
    func awaitHello(timeout: Duration) -> Result<String, PluginProcessError> {
        let semaphore = DispatchSemaphore(value: 0)
        let ready: Result<String, PluginProcessError>? = state.withLock { s in
            if let hello = s.hello { return hello.kind == .hello ? .success(hello.string(0)) : .failure(PluginProcessError(hello.string(0))) }
            if let exit = s.exitDescription { return .failure(PluginProcessError("the plugin process exited at start-up (\(exit))")) }
            s.helloWaiter = semaphore
            return nil
        }
        if let ready { return ready }
        if semaphore.wait(timeout: .now() + Self.dispatch(timeout)) == .timedOut {
            kill(reason: "start-up timeout")
            return .failure(PluginProcessError("the plugin process did not start within \(timeout)"))
        }
        return awaitHello(timeout: .zero)
    }

    /// Sends a request and waits for its `result` until `deadline`. Blocks: call it from
    /// a dedicated thread only.
    func call(_ kind: PluginFrame.Kind, _ fields: [[UInt8]], deadline: ContinuousClock.Instant) -> Answer {
        let semaphore = DispatchSemaphore(value: 0)
        let id: UInt32? = state.withLock { s in
            guard s.exitDescription == nil else { return nil }
            let id = s.nextID
            s.nextID &+= 1
            s.waiting[id] = semaphore
            return id
        }
        guard let id else { return exitAnswer() }
        guard send(PluginFrame(kind, id: id, fields)) else {
            // The socket is closed: the reader is about to see the end of the stream.
            _ = semaphore.wait(timeout: .now() + .seconds(2))
            state.withLock { s in _ = s.waiting.removeValue(forKey: id) }
            return exitAnswer()
        }
        let remaining = ContinuousClock.now.duration(to: deadline)
        let waited = semaphore.wait(timeout: .now() + Self.dispatch(max(.zero, remaining)))
        return state.withLock { s in
            s.waiting.removeValue(forKey: id)
            if let answer = s.answers.removeValue(forKey: id) { return .frame(answer) }
            if let exit = s.exitDescription { return .exited(exit, killedByParent: s.killReason != nil) }
            _ = waited
            return .timedOut
        }
    }

    private func exitAnswer() -> Answer {
        state.withLock { s in .exited(s.exitDescription ?? "its socket is closed", killedByParent: s.killReason != nil) }
    }

    /// Writes one frame; false when the child is gone.
    @discardableResult
    func send(_ frame: PluginFrame) -> Bool {
        writeLock.withLock { _ in PluginFrameIO.write(frame, to: fd) }
    }

    /// How the child ended, once it has.
    var exitDescription: String? { state.withLock { $0.exitDescription } }

    /// True until the child has been reaped.
    var isRunning: Bool { exitDescription == nil }

    /// SIGKILLs the child; its calls are answered `.exited` once the reader has reaped it.
    /// `reason` replaces the signal in the exit description ("killed after a hang").
    func kill(reason: String) {
        state.withLock { s in if s.killReason == nil { s.killReason = reason } }
        _ = Glibc.kill(pid, SIGKILL)
    }

    /// Waits up to `timeout` for the child to be reaped.
    @discardableResult
    func waitForExit(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !isRunning { return true }
            // A short poll, bounded by `timeout` (≤ 1 s at shutdown): a condition variable
            // would need the reader to signal a second waiter list for this rare path.
            usleep(2_000)
        }
        return !isRunning
    }

    /// The reader thread's body, kept apart so the process object holds no reference
    /// cycle through the thread closure.
    private struct Reader: Sendable {
        let process: PluginProcess
        let handler: Handler

        func run() {
            while true {
                let frame: PluginFrame
                do {
                    frame = try PluginFrameIO.read(from: process.fd)
                } catch {
                    process.finish(after: error)
                    return
                }
                switch frame.kind {
                case .result:
                    process.state.withLock { s in
                        guard let waiter = s.waiting[frame.id] else { return }  // its caller gave up
                        s.answers[frame.id] = frame
                        waiter.signal()
                    }
                case .hello, .fatal:
                    process.state.withLock { s in
                        s.hello = frame
                        s.helloWaiter?.signal()
                        s.helloWaiter = nil
                    }
                default:
                    if let reply = handler(frame) { process.send(reply) }
                }
            }
        }
    }

    /// The stream ended: reap the child, describe how it ended and wake every caller.
    private func finish(after error: PluginFrameIO.ReadError) {
        if case .malformed = error { _ = Glibc.kill(pid, SIGKILL) }  // it broke the protocol
        var status: Int32 = 0
        // The child closes its socket when it exits; give it a moment to become reapable
        // before forcing it, so a crash is reported with its own signal.
        var reaped = false
        for _ in 0..<100 {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { reaped = true; break }
            if r < 0 && errno != EINTR { break }
            usleep(2_000)
        }
        if !reaped {
            _ = Glibc.kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        let description = Self.describe(status: status)
        state.withLock { s in
            var text = s.killReason.map { "\($0); \(description)" } ?? description
            if case .malformed(let why) = error { text = "it broke the frame protocol (\(why)); \(description)" }
            s.exitDescription = text
            for waiter in s.waiting.values { waiter.signal() }
            s.helloWaiter?.signal()
            s.helloWaiter = nil
        }
    }

    /// "killed by signal 11 (Segmentation fault)" or "exited with status 3".
    static func describe(status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
        let name = strsignal(signal).map { String(cString: $0) } ?? "unknown"
        return "killed by signal \(signal) (\(name))"
    }

    /// glibc ≥ 2.34's posix_spawn_file_actions_addclosefrom_np, looked up at run time:
    /// Swift's Glibc module does not import it (it is behind _GNU_SOURCE).
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    static func dispatch(_ duration: Duration) -> DispatchTimeInterval {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(Int(clamping: seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        return body(pointers)
    }
}

/// Why a plugin process could not be started or used.
struct PluginProcessError: Error, Sendable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
