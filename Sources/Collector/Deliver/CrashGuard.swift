import CCrashGuard
#if canImport(Glibc)
import Glibc
#endif

/// Crash attribution for in-process plugins (the C side is `ccrashguard.h`).
///
/// A plugin that segfaults ends the collector; the delivery engine then counts the crash,
/// at the next start, against the delivery that was in the call. Without attribution every
/// delivery in flight on any thread would be blamed. With it, the fatal-signal handler
/// records the delivery id of the crashing thread in a marker file in the data directory,
/// and only that one is blamed.
public enum CrashGuard {
    /// What the fatal-signal handler recorded before the last unclean exit.
    public struct Report: Sendable, Equatable {
        /// The deliveries that were in the crashing plugin call; empty when the crash came
        /// from outside any plugin call.
        public var deliveryIDs: Set<Int64>
        /// The fatal signals seen.
        public var signals: [Int32]

        /// A report, as the marker file gives it (tests build their own).
        public init(deliveryIDs: Set<Int64>, signals: [Int32]) {
            self.deliveryIDs = deliveryIDs
            self.signals = signals
        }
    }

    /// The marker file in a data directory.
    public static func markerPath(inDataDirectory directory: String) -> String {
        directory + "/crash-marker"
    }

    /// Reads and empties the marker file at `path`, then installs the handlers writing to it
    /// (once per process; later calls switch the file).
    /// - Returns: the last run's report, or nil when it left none: a clean exit, or an exit
    ///   no handler saw (kill -9, the OOM killer, a node failure).
    /// - Throws: `CrashGuardError` when the file cannot be opened or the handlers installed.
    public static func install(markerPath path: String) throws(CrashGuardError) -> Report? {
        let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CrashGuardError(path: path, errno: errno) }
        let report = read(fd)
        guard ftruncate(fd, 0) == 0, cano_crash_guard_install(fd) == 0 else {
            let code = errno
            close(fd)
            throw CrashGuardError(path: path, errno: code)
        }
        return report
    }

    /// Runs `body` (a plugin call) with `deliveryID` published to the crash handler.
    @inline(__always)
    static func calling<T>(deliveryID: Int64, _ body: () -> T) -> T {
        cano_crash_guard_enter(deliveryID)
        defer { cano_crash_guard_leave() }
        return body()
    }

    private static func read(_ fd: Int32) -> Report? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(bytes.count)) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        let size = MemoryLayout<cano_crash_record>.size
        guard bytes.count >= size else { return nil }
        var report = Report(deliveryIDs: [], signals: [])
        for offset in stride(from: 0, through: bytes.count - size, by: size) {
            let record = bytes[offset..<offset + size].withUnsafeBytes { $0.loadUnaligned(as: cano_crash_record.self) }
            guard record.magic == CANO_CRASH_MAGIC else { continue }
            report.signals.append(record.signal)
            if record.delivery_id > 0 { report.deliveryIDs.insert(record.delivery_id) }
        }
        return report.signals.isEmpty ? nil : report
    }
}

/// The crash marker file could not be opened, or the handlers not installed.
public struct CrashGuardError: Error, Sendable, CustomStringConvertible {
    /// The marker file.
    public var path: String
    /// The C errno.
    public var errno: Int32
    public var description: String { "cannot set up the crash marker \(path): \(String(cString: strerror(errno)))" }
}
