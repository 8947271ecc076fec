import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A child process for the tests, spawned with `posix_spawn`: the same properties as
/// Foundation's `Process` that the tests use, started with ``Subprocess/start(_:)``.
///
/// Why not `Process`: on Linux, `Process.run()` lists /proc/self/fd to close every
/// inherited descriptor in the child, and copies each entry's whole 256-byte `d_name`,
/// reading past the end of readdir's buffer (swift-corelibs-foundation,
/// `findMaximumOpenFromProcSelfFD`). With the suite's ~2,000 open descriptors, that read
/// crossed into unmapped memory and crashed the test process (signal 11 in `memcpy` under
/// `Process.run()`, seen in CI). Here the child closes them itself
/// (`posix_spawn_file_actions_addclosefrom_np`, glibc 2.34), and nothing reads the list.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: configured on one thread before start; afterwards only `lock` guards state.

    /// Why the child ended.
    public enum TerminationReason: Sendable { case exit, uncaughtSignal }

    public var executableURL: URL?
    public var arguments: [String] = []
    /// Nil: the test process's environment.
    public var environment: [String: String]?
    public var currentDirectoryURL: URL?
    /// A `Pipe` or a `FileHandle`; nil or `FileHandle.nullDevice` is /dev/null; the default
    /// inherits the test's own.
    public var standardInput: Any? = FileHandle.standardInput
    public var standardOutput: Any? = FileHandle.standardOutput
    public var standardError: Any? = FileHandle.standardError

    private struct Exit {
        var reason: TerminationReason
        var status: Int32
    }
    private let exit = Mutex<Exit?>(nil)
    private let reaping = NSLock()

    /// The child's pid; 0 before start.
    public private(set) var processIdentifier: Int32 = 0
    /// When `posix_spawn` was called (when the object was made, before start). Start-up
    /// times count from it.
    public private(set) var launchedAt = ContinuousClock.now

    public init() {}

    /// Spawns the child. - Throws: `POSIXError` when posix_spawn fails (no such file...).
    func spawn() throws {
        guard let path = executableURL?.path else { throw POSIXError(.ENOENT) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var devNull: Int32 = -1
        defer { if devNull >= 0 { close(devNull) } }
        func fd(_ handle: Any?, reading: Bool) throws -> Int32 {
            switch handle {
            case let pipe as Pipe: return reading ? pipe.fileHandleForReading.fileDescriptor : pipe.fileHandleForWriting.fileDescriptor
            // FileHandle.nullDevice has no descriptor of its own (-1): /dev/null, like nil.
            case let file as FileHandle where file.fileDescriptor >= 0: return file.fileDescriptor
            default:
                if devNull < 0 { devNull = open("/dev/null", O_RDWR | O_CLOEXEC) }
                guard devNull >= 0 else { throw POSIXError(.EIO) }
                return devNull
            }
        }
        for (target, handle, reading) in [(Int32(0), standardInput, true), (1, standardOutput, false), (2, standardError, false)] {
            try check(posix_spawn_file_actions_adddup2(&actions, try fd(handle, reading: reading), target))
        }
        try check(Self.addCloseFrom(&actions, 3))
        if let directory = currentDirectoryURL?.path { try check(Self.addChdir(&actions, directory)) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, as Process does: a signal meant for the test runner's
        // group does not reach the child.
        try check(posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP)))
        try check(posix_spawnattr_setpgroup(&attributes, 0))

        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        launchedAt = .now
        try check(posix_spawn(&pid, path, &actions, &attributes, argv, envp))
        processIdentifier = pid
        // The child has its own copies of the pipe ends it uses: close ours, so the reader
        // sees end of file when the child exits.
        if let pipe = standardInput as? Pipe { try? pipe.fileHandleForReading.close() }
        if let pipe = standardOutput as? Pipe { try? pipe.fileHandleForWriting.close() }
        if let pipe = standardError as? Pipe, pipe !== (standardOutput as? Pipe) { try? pipe.fileHandleForWriting.close() }
    }

    private func check(_ rc: Int32) throws {
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
    }

    /// glibc's extensions, found at run time: Swift's Glibc module declares them only
    /// under _GNU_SOURCE.
    private static let addCloseFrom: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32 = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            fatalError("posix_spawn_file_actions_addclosefrom_np is missing: glibc 2.34 or newer is needed")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    private static let addChdir: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32 = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else {
            fatalError("posix_spawn_file_actions_addchdir_np is missing: glibc 2.29 or newer is needed")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32).self)
    }()

    /// Records how the child ended from a waitpid status.
    private func record(_ status: Int32) {
        let signalled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        exit.withLock { $0 = signalled ? Exit(reason: .uncaughtSignal, status: status & 0x7f) : Exit(reason: .exit, status: (status >> 8) & 0xff) }
    }

    /// Blocks until the child exits (call it from a thread of its own, not Swift's pool).
    public func waitUntilExit() {
        precondition(processIdentifier > 0, "not started")
        reaping.lock()
        defer { reaping.unlock() }
        guard exit.withLock({ $0 }) == nil else { return }
        var status: Int32 = 0
        var rc: pid_t
        repeat { rc = waitpid(processIdentifier, &status, 0) } while rc == -1 && errno == EINTR
        if rc == processIdentifier { record(status) }
    }

    /// Whether the child still runs (reaps it when it has exited).
    public var isRunning: Bool {
        guard processIdentifier > 0 else { return false }
        if exit.withLock({ $0 }) != nil { return false }
        guard reaping.try() else { return true }  // a waitUntilExit is waiting: still running
        defer { reaping.unlock() }
        var status: Int32 = 0
        let rc = waitpid(processIdentifier, &status, WNOHANG)
        if rc == processIdentifier { record(status) }
        return exit.withLock { $0 } == nil && rc == 0
    }

    /// The exit code, or the signal's number when one ended it.
    public var terminationStatus: Int32 {
        guard let e = exit.withLock({ $0 }) else { preconditionFailure("the child is still running") }
        return e.status
    }

    public var terminationReason: TerminationReason {
        guard let e = exit.withLock({ $0 }) else { preconditionFailure("the child is still running") }
        return e.reason
    }

    /// SIGTERM.
    public func terminate() { if processIdentifier > 0 { kill(processIdentifier, SIGTERM) } }

    /// SIGINT.
    public func interrupt() { if processIdentifier > 0 { kill(processIdentifier, SIGINT) } }
}
