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
