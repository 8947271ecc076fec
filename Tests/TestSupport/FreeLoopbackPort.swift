import CanoSDK
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP port that was free a moment ago (bind to port 0, read it, close).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestTimeout(what: "a socket") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    guard bound == 0 else { throw TestTimeout(what: "binding a free port") }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// What one try of ``withFreeLoopbackPort(attempts:what:_:)`` found.
public enum PortAttempt<Value> {
    /// The process listens; `Value` is what the caller keeps of it.
    case started(Value)
    /// The port was taken before the process bound it (its log said so); the try left
    /// nothing running.
    case taken
}

/// Runs `start` with a free loopback port, and again with another while it reports the
/// port ``PortAttempt/taken``, at most `attempts` times. `start` must tell its own server
/// from another that took the port: a `/readyz` answer alone may come from the other one,
/// so it also finds its server's "listening on" line in that server's log.
///
/// Why: ``freeLoopbackPort()`` closes its socket before the process binds the number, and
/// a test running beside this one can take the port in between. CI saw it ("address
/// already in use") with Alertmanager; every helper that starts a server process on a port
/// it picked shares the race, and this one retry.
public func withFreeLoopbackPort<Value>(
    attempts: Int = 3, what: String, _ start: (Int) async throws -> PortAttempt<Value>
) async throws -> Value {
    for _ in 0..<attempts {
        if case .started(let value) = try await start(try freeLoopbackPort()) { return value }
    }
    throw TestTimeout(what: "\(what) to listen: every port tried (\(attempts)) was taken")
}

/// How long after its launch `process` became ready: `readyURL` answered 200 and the
/// process's own log (`log`) held `listening`, its line for the address it bound (another
/// server that took the port would answer `readyURL` too). Nil when `process` exited or
/// `timeout` (seconds) passed first. Polls every 5 ms, so the figure is accurate to that
/// (the benchmark's start-to-ready scenario reads it), on a thread of its own, so Swift's
/// cooperative pool (and the doubles on it) keeps running.
public func becomesReady(_ process: ChildProcess, readyURL: String, log: URL, listening: String, timeout: TimeInterval) async -> Duration? {
    await BlockingThread.run(name: "test-wait-ready") { () -> Duration? in
        let client = HTTPClient()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let r = try? client.send(HTTPRequest(url: readyURL, timeout: .seconds(1))), r.status == 200,
               (try? String(contentsOf: log, encoding: .utf8))?.contains(listening) == true {
                return .now - process.launchedAt
            }
            guard process.isRunning else { break }
            usleep(5_000)  // bounded start-up poll
        }
        return nil
    }
}

/// Whether a server process's log says it could not bind its port: Go's "bind: address
/// already in use" (Alertmanager) or the collector's ``StartError``.
public func saysAddressInUse(_ log: String) -> Bool {
    log.lowercased().contains("already in use")
}
