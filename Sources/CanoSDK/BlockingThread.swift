import Foundation  // Thread: named threads with a chosen stack size
#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (libcurl, SQLite, plugin calls) on its own OS thread, never on
/// Swift's cooperative pool, whose few threads must never block.
public enum BlockingThread {
    /// Stack for these threads: the plugin ABI promises at least 1 MiB; we give 4.
    public static let stackBytes = 4 << 20

    /// Linux keeps at most this many bytes of a thread name (16 with the NUL); a longer
    /// name makes `pthread_setname_np` fail and the thread stays unnamed.
    public static let maxOSNameBytes = 15

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

    /// Starts a detached thread (a watch loop, a worker) and returns at once. The OS sees
    /// the first ``maxOSNameBytes`` bytes of `name` (`/proc/PID/task/TID/comm`).
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let osName = osName(name)
        let thread = Thread {
            setOSName(osName)
            body()
        }
        thread.name = name
        thread.stackSize = stackBytes
        thread.start()
    }

    /// Names the calling thread for the kernel. Foundation's own attempt fails for names over
    /// 15 bytes, and glibc's `pthread_setname_np` is not visible to Swift; writing
    /// `/proc/thread-self/comm` is what it does underneath.
    private static func setOSName(_ name: String) {
        #if os(Linux)
        guard let file = fopen("/proc/thread-self/comm", "w") else { return }
        fputs(name, file)
        fclose(file)
        #endif
    }

    /// `name` cut to what the kernel keeps, never inside a UTF-8 character.
    static func osName(_ name: String) -> String {
        var result = ""
        var bytes = 0
        for character in name.unicodeScalars {
            let size = String(character).utf8.count
            if bytes + size > maxOSNameBytes { break }
            bytes += size
            result.unicodeScalars.append(character)
        }
        return result
    }
}
