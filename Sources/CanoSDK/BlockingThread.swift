import Foundation  // Thread: named threads with a chosen stack size

/// Runs blocking work (libcurl, SQLite, plugin calls) on its own OS thread, never on
/// Swift's cooperative pool, whose few threads must never block.
public enum BlockingThread {
    /// Stack for these threads: the plugin ABI promises at least 1 MiB; we give 4.
    public static let stackBytes = 4 << 20

    /// Runs `body` on a new thread and returns (or throws) its result; the caller only
    /// suspends. `name` shows in debuggers and `top -H`.
    public static func run<T: Sendable, E: Error>(
        name: String = "cano-blocking", _ body: @escaping @Sendable () throws(E) -> T
    ) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            start(name: name) { continuation.resume(returning: Result { () throws(E) in try body() }) }
        }
        return try result.get()
    }

    /// Starts a detached thread (a watch loop, a worker) and returns at once.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.stackSize = stackBytes
        thread.start()
    }
}
