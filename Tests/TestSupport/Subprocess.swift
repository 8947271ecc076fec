import Foundation

/// Starting child processes and reading their output, in the tests.
public enum Subprocess {
    /// Spawns `process` (see ``ChildProcess`` for why not Foundation's `Process`).
    public static func start(_ process: ChildProcess) throws {
        try process.spawn()
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
