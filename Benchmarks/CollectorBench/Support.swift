// Shared pieces of the suite: clocks, threads that may block, load generators over
// keep-alive HTTP, and reading a process's RSS and CPU time from /proc.
import CanoSDK
import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The suite's time origin: send stamps and arrival times are both measured from it, in this
/// process, so no clock crosses a process boundary.
let benchOrigin = ContinuousClock.now

/// Nanoseconds since `benchOrigin`.
func nowNanos(_ instant: ContinuousClock.Instant = .now) -> Int64 { (instant - benchOrigin).nanoseconds }

extension Duration {
    /// The duration in whole nanoseconds.
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}

/// Runs `executable` with `arguments` (no shell) to completion: its exit status and what it
/// wrote to stdout and stderr together; nil when it could not be started.
func runCommand(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String)? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    guard (try? p.run()) != nil else { return nil }
    let data = Subprocess.readToEnd(pipe.fileHandleForReading)
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// A value shared between load threads and the code that reads the results. A class (not a
/// `Mutex`, which is non-copyable) so that escaping thread closures can capture it.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// A benchmark step that could not complete (its scenario is reported failed).
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body(i)` on `count` fresh OS threads and resumes when all return. Load generators
/// block in libcurl, which must never happen on Swift's cooperative pool.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            let thread = Thread {
                body(i)
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.notify(queue: .global()) { done.resume() }
    }
}

/// Sleeps the calling (dedicated) thread until `instant`: pacing an open-loop load, not
/// synchronisation.
func sleepThread(until instant: ContinuousClock.Instant) {
    let left = instant - .now
    guard left > .zero else { return }
    let micros = left.components.seconds * 1_000_000 + left.components.attoseconds / 1_000_000_000_000
    usleep(UInt32(clamping: micros))
}

/// Polls `condition` every 250 ms (reading the doubles' records costs CPU the collector shares) until it holds or `timeout` passes; returns whether it held.
func poll(timeout: Duration, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(250))
    }
    return try condition()
}

/// Percentiles of latencies in nanoseconds, as milliseconds.
struct LatencySummary: Sendable {
    var count: Int
    var p50: Double, p90: Double, p99: Double, max: Double

    init(nanos: [Int64]) {
        let sorted = nanos.sorted()
        count = sorted.count
        func at(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            return Double(sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]) / 1e6
        }
        p50 = at(0.5); p90 = at(0.9); p99 = at(0.99)
        max = Double(sorted.last ?? 0) / 1e6
    }
}

/// What a load run got back.
struct LoadResult: Sendable {
    var requests = 0
    var ok = 0
    var statuses: [Int: Int] = [:]
    var transportErrors = 0
    var elapsed: Duration = .zero
    /// Response time of each request answered 200, in nanoseconds: from the moment it was
    /// due (an open loop's slot, so a request held behind a slow one counts its wait too:
    /// no coordinated omission) or, in a closed loop, from the moment it was sent.
    var responseNanos: [Int64] = []

    /// POSTs one JSON body and counts the outcome; `due` is when the request was due (now
    /// when nil).
    mutating func post(_ client: HTTPClient, url: String, body: [UInt8], due: ContinuousClock.Instant? = nil) {
        requests += 1
        let from = due ?? .now
        do {
            let r = try client.send(HTTPRequest(method: "POST", url: url, headers: [HTTPHeader(name: "Content-Type", value: "application/json")],
                                                body: body, timeout: .seconds(30)))
            statuses[r.status, default: 0] += 1
            if r.status == 200 {
                ok += 1
                responseNanos.append((.now - from).nanoseconds)
            }
        } catch { transportErrors += 1 }
    }

    /// Adds one sender's counts to the total.
    mutating func add(_ other: LoadResult) {
        requests += other.requests
        ok += other.ok
        transportErrors += other.transportErrors
        statuses.merge(other.statuses, uniquingKeysWith: +)
        responseNanos += other.responseNanos
    }
}

/// Sends pre-built bodies as fast as `senders` keep-alive connections allow (closed loop),
/// until all are sent or `timeLimit` passes. Body `i` goes to `urls[i % urls.count]`
/// (round-robin over several replicas' intakes).
func closedLoop(urls: [String], bodies: [[UInt8]], senders: Int, timeLimit: Duration) async -> LoadResult {
    let next = Locked(0)
    let result = Locked(LoadResult())
    let start = ContinuousClock.now
    let deadline = start + timeLimit
    await onThreads(senders) { _ in
        let client = HTTPClient()
        var own = LoadResult()
        while ContinuousClock.now < deadline {
            let i = next.withLock { n in
                let taken = n
                n += 1
                return taken
            }
            guard i < bodies.count else { break }
            own.post(client, url: urls[i % urls.count], body: bodies[i])
        }
        result.withLock { $0.add(own) }
    }
    var r = result.withLock { $0 }
    r.elapsed = .now - start
    return r
}

/// Sends `count` requests at a fixed `rate` (open loop: each is due at its slot whatever the
/// previous ones took), from `senders` keep-alive connections, request `i` to
/// `urls[i % urls.count]`. `body(i, stampNanos)` builds request `i` at the moment it is sent.
func openLoop(urls: [String], count: Int, rate: Double, senders: Int, body: @escaping @Sendable (Int, Int64) -> [UInt8]) async -> LoadResult {
    let next = Locked(0)
    let result = Locked(LoadResult())
    let start = ContinuousClock.now
    let interval = Duration.seconds(1.0 / rate)
    let deadline = start + interval * count + .seconds(60)  // a bound if the target stalls
    await onThreads(senders) { _ in
        let client = HTTPClient()
        var own = LoadResult()
        while ContinuousClock.now < deadline {
            let i = next.withLock { n in
                let taken = n
                n += 1
                return taken
            }
            guard i < count else { break }
            let due = start + interval * i
            sleepThread(until: due)
            own.post(client, url: urls[i % urls.count], body: body(i, nowNanos()), due: due)
        }
        result.withLock { $0.add(own) }
    }
    var r = result.withLock { $0 }
    r.elapsed = .now - start
    return r
}

/// The sum of the samples of `name` in a Prometheus text exposition whose labels include
/// every one of `labels` (`destination="sink"`); 0 when there is none.
func metricSum(_ metrics: String, _ name: String, _ labels: [String] = []) -> Double {
    metrics.split(separator: "\n").reduce(0) { sum, line in
        guard line.hasPrefix(name + "{") || line.hasPrefix(name + " "),
              labels.allSatisfy({ line.contains($0) }),
              let value = Double(line.split(separator: " ").last ?? "") else { return sum }
        return sum + value
    }
}

/// The marker a latency run puts in each alert's description: `bench-sent-ns=<n>`.
let stampMarker = Array("bench-sent-ns=".utf8)

/// The send stamp in a request body (an Issue's JSON, a Slack message), if any.
func sentStamp(in body: [UInt8]) -> Int64? { number(after: stampMarker, in: body) }

/// The decimal number right after the first occurrence of `marker` in `bytes`.
func number(after marker: [UInt8], in bytes: [UInt8]) -> Int64? { numbers(after: marker, in: bytes, limit: 1).first }

/// The decimal numbers right after each occurrence of `marker` in `bytes`, in order, at
/// most `limit` of them (an occurrence not followed by a digit is skipped).
func numbers(after marker: [UInt8], in bytes: [UInt8], limit: Int = .max) -> [Int64] {
    guard bytes.count > marker.count else { return [] }
    var found: [Int64] = []
    var i = 0
    while i <= bytes.count - marker.count, found.count < limit {
        if bytes[i] == marker[0] && Array(bytes[i..<(i + marker.count)]) == marker {
            var j = i + marker.count
            var value: Int64 = 0
            while j < bytes.count, bytes[j] >= 48, bytes[j] <= 57 {
                value = value * 10 + Int64(bytes[j] - 48)
                j += 1
            }
            if j > i + marker.count { found.append(value) }
            i = j
        } else {
            i += 1
        }
    }
    return found
}

/// RSS and CPU time of a process, from /proc.
enum ProcessStats {
    /// VmRSS, VmHWM, RssAnon (private heap and stacks) and RssFile (mapped binary and
    /// libraries, shared and reclaimable) in KiB.
    static func memory(pid: Int32) -> (rss: Int, peak: Int, anon: Int, file: Int) {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return Int(line.split(separator: " ").dropFirst().first { Int($0) != nil } ?? "0") ?? 0
        }
        return (field("VmRSS"), field("VmHWM"), field("RssAnon"), field("RssFile"))
    }

    /// User + system CPU seconds used so far.
    static func cpuSeconds(pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        // Fields after "(comm)": state is field 3, utime 14, stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

func mib(_ kib: Int) -> Double { (Double(kib) / 1024 * 10).rounded() / 10 }
