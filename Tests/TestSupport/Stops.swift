import Foundation  // NSCondition, atexit
import Synchronization

/// What a test started and must stop before it returns (servers, replicas), for
/// ``withStops(_:)``. Stops run in reverse order of adding; a stop may run twice (a test
/// that stops something itself), so stops must be idempotent.
public final class StopList: Sendable {
    private let stops = Mutex<[@Sendable () async -> Void]>([])

    public init() {}

    /// Adds `stop`, to run when the test's body ends.
    public func add(_ stop: @escaping @Sendable () async -> Void) { stops.withLock { $0.append(stop) } }

    func run() async {
        for stop in stops.withLock({ $0 }).reversed() { await stop() }
    }
}

/// Runs `body` with a ``StopList``, then awaits every stop added, also when `body` throws.
///
/// `defer { Task { await server.shutdown() } }` leaves the shutdown to a detached task; at
/// the end of a test run the process can exit while that task is still closing the
/// server's connections, and crash in the exit handlers (seen: signal 11 in `_dl_fini`
/// after the fake API server's suite had passed, which fails the whole `swift test`).
public func withStops<T>(_ body: (StopList) async throws -> T) async throws -> T {
    let stops = StopList()
    do {
        let result = try await body(stops)
        await stops.run()
        return result
    } catch {
        await stops.run()
        throw error
    }
}

/// Stops `stop` after the test, from a `defer` (which cannot await):
/// `defer { stopLater { await server.stop() } }`.
///
/// The stop runs in a task of its own, as `defer { Task { ... } }` would, but the test
/// process does not exit before every such stop has finished (up to
/// ``PendingStops/exitWait``): an exit handler waits for them. Without it, the last tests'
/// shutdowns raced the process's exit and crashed it in the exit handlers (signal 11 in
/// `_dl_fini`) after the suite had passed. ``withStops(_:)`` is the structured form, for
/// tests that can wrap their body.
public func stopLater(_ stop: @escaping @Sendable () async -> Void) {
    PendingStops.shared.start(stop)
}

/// The stops ``stopLater(_:)`` started that have not finished yet.
public final class PendingStops: Sendable {
    /// The one registry of the test process.
    public static let shared = PendingStops()
    /// How long the process's exit waits for stops still running.
    public static let exitWait: TimeInterval = 30

    private struct State {
        var running = 0
        var exitHookInstalled = false
    }
    private let state = Mutex(State())
    private let finished = NSCondition()

    func start(_ stop: @escaping @Sendable () async -> Void) {
        let install = state.withLock { s -> Bool in
            s.running += 1
            defer { s.exitHookInstalled = true }
            return !s.exitHookInstalled
        }
        // Exit handlers run in reverse order of registration: this one, registered long
        // after the dynamic loader's, runs before `_dl_fini` unloads anything.
        if install { atexit { PendingStops.shared.waitForAll(timeout: PendingStops.exitWait) } }
        Task {
            await stop()
            self.finish()
        }
    }

    private func finish() {
        finished.lock()
        state.withLock { $0.running -= 1 }
        finished.broadcast()
        finished.unlock()
    }

    /// Blocks until no stop is running, or `timeout` seconds passed; true when none is.
    /// Only for the exit handler: it blocks the calling thread.
    @discardableResult
    func waitForAll(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        finished.lock()
        defer { finished.unlock() }
        while state.withLock({ $0.running }) > 0 {
            if !finished.wait(until: deadline) { return false }
        }
        return true
    }
}
