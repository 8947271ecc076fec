import Foundation

/// The name a collector process puts on its claims in a shared store.
public enum ReplicaIdentity {
    /// `CANO_REPLICA_ID` if set, else `<hostname>/<pid>`: in Kubernetes the hostname is the
    /// pod name and the collector is PID 1, so a container restarted in the same pod gets
    /// the same name and takes its own interrupted work back at once; two processes on one
    /// machine (tests, a laptop) still differ.
    public static let current: String = {
        if let id = ProcessInfo.processInfo.environment["CANO_REPLICA_ID"], !id.isEmpty { return id }
        return "\(hostname)/\(getpid())"
    }()

    /// gethostname(2): no resolver lookup (ProcessInfo.hostName may do one).
    private static var hostname: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
