import Foundation

/// Starts child processes one at a time. Foundation's `Process.run()` on Linux is not safe
/// to call from several threads at once: with the suite spawning collectors, Alertmanagers,
/// compilers and Python validators in parallel, one spawn crashed the test process in
/// `memmove` inside `Process.run()` (a bad pointer while copying the arguments and
/// environment). Spawning takes milliseconds; the waiting stays concurrent.
public enum Subprocess {
    private static let lock = NSLock()

    /// `process.run()`, serialised with every other spawn in the test process.
    public static func start(_ process: Process) throws {
        lock.lock()
        defer { lock.unlock() }
        try process.run()
    }
}
