import CanoSDK
import Collector
import Foundation
import Logging
import Synchronization
import TestSupport

/// A destination that talks to a ``ScriptedHTTPServer`` through CanoSDK's `HTTPClient`,
/// mapping answers as the Webhook plugin does: 2xx delivered (body = reference), 429 and
/// 5xx and transport errors retry (honouring Retry-After), other 4xx permanent.
final class HTTPTestDestination: Destination, @unchecked Sendable {
    let name: String
    let url: String
    /// Every context this destination was called with, in call order.
    let contexts = Mutex<[DeliveryContext]>([])

    init(name: String, url: String) {
        self.name = name
        self.url = url
        _ = curlInitialized
    }

    func deliver(issueJSON: [UInt8], context: DeliveryContext) -> DeliveryOutcome {
        contexts.withLock { $0.append(context) }
        var headers = [HTTPHeader(name: "Content-Type", value: "application/json"),
                       HTTPHeader(name: "Idempotency-Key", value: context.idempotencyKey),
                       HTTPHeader(name: "X-Attempt", value: String(context.attempt))]
        if let reference = context.reference {
            headers.append(HTTPHeader(name: "X-Reference", value: String(decoding: reference, as: UTF8.self)))
        }
        let remaining = context.deadline - ContinuousClock.now
        let request = HTTPRequest(method: "POST", url: url, headers: headers, body: issueJSON,
                                  timeout: max(remaining, .milliseconds(1)), connectTimeout: .seconds(2))
        // One client per call: HTTPClient serialises calls, and workers run in parallel.
        let client = HTTPClient()
        do {
            let response = try client.send(request)
            switch response.status {
            case 200..<300:
                return DeliveryOutcome(.delivered, message: "HTTP \(response.status)", reference: response.body)
            case 429, 500...:
                return DeliveryOutcome(.retry, message: "HTTP \(response.status)", retryAfter: response.retryAfter)
            default:
                return DeliveryOutcome(.permanent, message: "HTTP \(response.status): \(response.text)")
            }
        } catch {
            return DeliveryOutcome(.retry, message: "\(error)")
        }
    }
}

private let curlInitialized: Void = HTTPClient.initializeProcess()

/// A destination the test drives by hand: it blocks each call until released, and
/// returns scripted outcomes. For drain and crash tests.
final class GateDestination: Destination, @unchecked Sendable {
    let name: String
    private let condition = NSCondition()
    private var open = false
    private var calls: [DeliveryContext] = []
    private var inCall = 0

    init(name: String) { self.name = name }

    func deliver(issueJSON: [UInt8], context: DeliveryContext) -> DeliveryOutcome {
        condition.lock()
        calls.append(context)
        inCall += 1
        condition.broadcast()
        while !open { condition.wait() }
        inCall -= 1
        condition.unlock()
        return DeliveryOutcome(.delivered, message: "ok", reference: Array("gate".utf8))
    }

    func release() {
        condition.lock()
        open = true
        condition.broadcast()
        condition.unlock()
    }

    var callCount: Int { condition.withLock { calls.count } }
    var blockedCalls: Int { condition.withLock { inCall } }
}

/// Values appended from any thread, read by the test.
final class Recorded<Value: Sendable>: Sendable {
    private let storage = Mutex<[Value]>([])
    func append(_ value: Value) { storage.withLock { $0.append(value) } }
    var values: [Value] { storage.withLock { $0 } }
}

/// A fresh data directory under the system temp dir (TestSupport's mkdtemp helper).
func makeTemporaryDirectory() throws -> String {
    try TemporaryDirectory(prefix: "cano-delivery").path
}

/// A firing or resolved alert Issue.
func alert(_ fingerprint: String, _ status: IssueStatus = .firing, startsAt: Date = Date(timeIntervalSince1970: 1_790_000_000)) -> Issue {
    Issue(type: .alert, source: .prometheus, severity: .high, status: status, title: "Alert \(fingerprint)",
          aggregationKey: "TestAlert", fingerprint: fingerprint, startsAt: startsAt,
          endsAt: status == .resolved ? startsAt.addingTimeInterval(60) : nil)
}

/// A short policy: tests wait on conditions, so retries must come quickly.
func fastPolicy(maxAttempts: Int = 20, workers: Int = 2, queueLimit: Int = 10_000, timeout: Duration = .seconds(5)) -> DeliveryPolicy {
    var p = DeliveryPolicy()
    p.maxAttempts = maxAttempts
    p.initialBackoff = .milliseconds(5)
    p.maxBackoff = .milliseconds(20)
    p.workers = workers
    p.queueLimit = queueLimit
    p.timeout = timeout
    return p
}

/// One database + outbox + engine, routed to every destination given (default route).
final class Pipeline: @unchecked Sendable {
    let directory: String
    let metrics = Metrics()
    let logs = LogCapture()
    let logger: Logger
    private(set) var database: any SQLDatabase
    private(set) var outbox: Outbox
    private(set) var engine: DeliveryEngine
    let routeTo: [String]
    let policies: [String: DeliveryPolicy]
    /// (destination, reason) of every quarantine the engine reported.
    let quarantined = Recorded<(String, String)>()

    /// `overrides` replace `policy` for the destinations they name.
    /// `database`: a shared store (PostgreSQL) instead of a SQLite file in `directory`;
    /// `replicaID` and `claimLease` then name this pipeline's claims. `handOff: false`
    /// leaves the outbox's commits to the engine's poll every `pollInterval`.
    init(directory: String? = nil, destinations: [any Destination], routeTo: [String]? = nil, policy: DeliveryPolicy,
         overrides: [String: DeliveryPolicy] = [:], start: Bool = true, database: (any SQLDatabase)? = nil,
         replicaID: String = ReplicaIdentity.current, claimLease: Duration = .seconds(30),
         pollInterval: Duration = .milliseconds(200), handOff: Bool = true) throws {
        self.directory = try directory ?? makeTemporaryDirectory()
        let capture = logs
        logger = Logger(label: "delivery-test") { label in JSONLogHandler(label: label, level: .debug, output: .capture(capture)) }
        self.routeTo = routeTo ?? destinations.map(\.name)
        policies = Dictionary(uniqueKeysWithValues: self.routeTo.map { ($0, overrides[$0] ?? policy) })
        self.database = try database ?? CollectorSchema.open(path: CollectorSchema.path(inDataDirectory: self.directory))
        let quarantined = self.quarantined
        let engine = DeliveryEngine(database: self.database, destinations: destinations, policies: policies, metrics: metrics, logger: logger,
                                    pollInterval: pollInterval, replicaID: replicaID, claimLease: claimLease,
                                    onQuarantine: { name, reason in quarantined.append((name, reason)) })
        self.engine = engine
        outbox = Outbox(database: self.database, router: IssueRouter(routes: [], defaultDestinations: self.routeTo), policies: policies,
                        metrics: metrics, logger: logger, onQueued: { if handOff { engine.loadCommitted() } })
        if start { try engine.start() }
    }

    var store: DeliveryStore { DeliveryStore(database: database) }

    func records(_ state: DeliveryState? = nil) throws -> [DeliveryRecord] {
        try store.records(state: state)
    }

    /// Waits until no delivery is pending.
    func waitUntilSettled(timeout: Duration = .seconds(20)) async throws {
        // The query blocks (a PostgreSQL round trip for a shared store): off the pool.
        try await waitUntil("every delivery settled", timeout: timeout, poll: .milliseconds(20)) {
            try await BlockingThread.run(name: "test-settled") { try self.records(.pending).isEmpty }
        }
    }

    /// Stops everything and closes the database (as a shutdown would), then removes the
    /// data directory.
    func shutdown() async {
        _ = await engine.drain(deadline: .now + .seconds(5))
        await outbox.close()
        database.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
