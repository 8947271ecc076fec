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

    /// Everything `handle` yields until end of file. Foundation's `readDataToEndOfFile()`
    /// traps (`try!`) when a signal interrupts its read (EINTR): it crashed the whole test
    /// process in CI. This reads with read(2) and retries an interrupted call.
    public static func readToEnd(_ handle: FileHandle) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if n > 0 {
                data.append(contentsOf: buffer[0..<n])
            } else if n == 0 || errno != EINTR {
                return data
            }
        }
    }
}
