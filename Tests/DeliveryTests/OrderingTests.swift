import CanoSDK
import Collector
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

/// Issue 12, part 6: "Messages to one channel keep their Issue order even when 429s
/// interleave." Engine-level, with an in-process chat destination whose answers are
/// scripted per call: an ordered destination delivers 00…19 in order through 429s, a
/// Retry-After pauses the whole destination (every worker), and a dead-lettered head
/// leaves the line.
@Suite(.serialized) struct OrderingTests {
    static let issues = (0..<20).map { alert(OrderingFixtures.fingerprint($0)) }
    static let expected = (0..<20).map(OrderingFixtures.fingerprint)

    @Test(.timeLimit(.minutes(1))) func anOrderedDestinationDeliversInIssueOrderThrough429s() async throws {
        let log = ChatCallLog()
        // Calls 1, 4, 5 (a second 429 in a row, to the same head) and 11 are throttled.
        let chat = ChatDestination(name: "chat", log: log) { index, _ in
            [1, 4, 5, 11].contains(index) ? .throttled(after: .milliseconds(200)) : .ok
        }
        var policy = fastPolicy()
        policy.ordered = true
        let pipeline = try Pipeline(destinations: [chat], policy: policy)
        _ = try await pipeline.outbox.submit(Self.issues)
        try await pipeline.waitUntilSettled()

        let calls = log.calls
        #expect(calls.filter { $0.status == .delivered }.map(\.fingerprint) == Self.expected,
                "arrival order: \(calls.filter { $0.status == .delivered }.map { String($0.fingerprint.suffix(2)) }.joined(separator: " "))")
        #expect(calls.filter { $0.status == .retry }.count == 4)
        // One at a time: no call started before the previous one returned.
        #expect(log.maxInFlight == 1, "\(log.maxInFlight) calls in flight at once")
        // After each 429 the next call is the same delivery, no earlier than its Retry-After.
        for (index, call) in calls.enumerated() where call.status == .retry {
            let next = try #require(calls.dropFirst(index + 1).first)
            #expect(next.fingerprint == call.fingerprint, "\(next.fingerprint) overtook the throttled \(call.fingerprint)")
            #expect(next.started >= call.ended + .milliseconds(200) - OrderingFixtures.clockSlack)
        }
        #expect(pipeline.metrics.counter("cano_destination_pauses_total", ["destination": "chat"]) == 4)
        await pipeline.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func aRetryAfterPausesEveryWorkerOfAnUnorderedDestination() async throws {
        let log = ChatCallLog()
        let retryAfter = Duration.milliseconds(400)
        let chat = ChatDestination(name: "hook", log: log) { index, _ in
            [2, 9].contains(index) ? .throttled(after: retryAfter) : .ok
        }
        var policy = fastPolicy(workers: 2)
        policy.ordered = false
        let pipeline = try Pipeline(destinations: [chat], policy: policy)
        _ = try await pipeline.outbox.submit(Self.issues)
        try await pipeline.waitUntilSettled()

        let calls = log.calls
        #expect(Set(calls.filter { $0.status == .delivered }.map(\.fingerprint)) == Set(Self.expected))
        #expect(calls.filter { $0.status == .delivered }.count == 20, "each delivered once")
        let throttled = calls.filter { $0.status == .retry }
        #expect(throttled.count == 2)
        // While the destination said "wait", no worker started a call. A call that had
        // already passed the pause check when the 429 came back may start just after it:
        // `OrderingFixtures.gateGrace` allows for that, and nothing else.
        for pause in throttled {
            let window = (pause.ended + OrderingFixtures.gateGrace)..<(pause.ended + retryAfter - OrderingFixtures.clockSlack)
            let during = calls.filter { window.contains($0.started) }
            #expect(during.isEmpty, """
                calls started during the \(retryAfter) pause after \(pause.fingerprint)'s 429: \
                \(during.map { "\($0.fingerprint) at +\($0.started - pause.ended)" })
                """)
        }
        #expect(pipeline.metrics.counter("cano_destination_pauses_total", ["destination": "hook"]) == 2)
        #expect(pipeline.logs.lines.filter { $0.contains("destination paused") }.count == 2, "one log line per pause")
        #expect(pipeline.metrics.gauge("cano_destination_paused_seconds", ["destination": "hook"]) == 0, "the gauge returns to 0 after the pause")
        await pipeline.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func aDeadLetteredHeadLeavesTheLineAndTheNextGoes() async throws {
        let log = ChatCallLog()
        // 03 is refused for good; 07 fails (no Retry-After) until its max age passes.
        let chat = ChatDestination(name: "chat", log: log) { _, fingerprint in
            switch fingerprint {
            case OrderingFixtures.fingerprint(3): return .refused
            case OrderingFixtures.fingerprint(7): return .failing
            default: return .ok
            }
        }
        var policy = fastPolicy(maxAttempts: 10_000)
        policy.ordered = true
        policy.maxAge = .milliseconds(600)
        let pipeline = try Pipeline(destinations: [chat], policy: policy)
        _ = try await pipeline.outbox.submit(Self.issues)
        try await pipeline.waitUntilSettled()

        let calls = log.calls
        let delivered = calls.filter { $0.status == .delivered }.map(\.fingerprint)
        #expect(delivered == Self.expected.filter { $0 != OrderingFixtures.fingerprint(3) && $0 != OrderingFixtures.fingerprint(7) },
                "arrival order: \(delivered.map { String($0.suffix(2)) }.joined(separator: " "))")
        let dead = try pipeline.records(.dead).map(\.fingerprint).sorted()
        #expect(dead == [OrderingFixtures.fingerprint(3), OrderingFixtures.fingerprint(7)])
        // The failing head held the line until it was dead-lettered: 08 started only after
        // 07's last call.
        let lastOf07 = try #require(calls.last { $0.fingerprint == OrderingFixtures.fingerprint(7) })
        let firstOf08 = try #require(calls.first { $0.fingerprint == OrderingFixtures.fingerprint(8) })
        #expect(firstOf08.started >= lastOf07.ended, "08 overtook the retrying 07")
        #expect(calls.filter { $0.fingerprint == OrderingFixtures.fingerprint(7) }.count > 1, "07 was retried before it was dead-lettered")
        await pipeline.shutdown()
    }
}

/// The shared store (PostgreSQL): two replicas claim for one ordered destination. Order
/// holds across them: a replica claims a delivery of an ordered destination only when every
/// older pending one is its own. (scripts/test.sh runs this with the shared_state suites.)
@Suite(.serialized) struct OrderingSharedStoreTests {
    @Test(.timeLimit(.minutes(1))) func twoReplicasDeliverAnOrderedDestinationInOrder() async throws {
        let url = try await PostgresServer.shared.makeDatabase(prefix: "ordering")
        let log = ChatCallLog()
        // One channel behind both replicas: the call log is shared, so are the 429s.
        let answer: @Sendable (Int, String) -> ChatDestination.Answer = { index, _ in
            [2, 7, 13].contains(index) ? .throttled(after: .milliseconds(200)) : .ok
        }
        var policy = fastPolicy()
        policy.ordered = true
        func replica(_ name: String) async throws -> Pipeline {
            let database = try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret(url)), logger: Logger(label: "test"))
            try await BlockingThread.run(name: "test-check-db") { try database.checkAvailable() }
            return try Pipeline(destinations: [ChatDestination(name: "chat", log: log, answer: answer)], policy: policy, database: database,
                                replicaID: name, claimLease: .seconds(5))
        }
        let a = try await replica("a")
        let b = try await replica("b")
        // Each Issue through alternating replicas, one commit at a time: ids (the queue
        // order) follow the submission order across replicas.
        for (index, issue) in OrderingTests.issues.enumerated() {
            _ = try await (index % 2 == 0 ? a : b).outbox.submit([issue])
        }
        try await a.waitUntilSettled(timeout: .seconds(40))

        let calls = log.calls
        let delivered = calls.filter { $0.status == .delivered }.map(\.fingerprint)
        #expect(delivered == OrderingTests.expected, "arrival order: \(delivered.map { String($0.suffix(2)) }.joined(separator: " "))")
        #expect(log.maxInFlight == 1, "\(log.maxInFlight) calls in flight at once across the replicas")
        await a.shutdown()
        await b.shutdown()
    }
}

enum OrderingFixtures {
    /// The i-th Issue's fingerprint: 16 hex digits ending in the two-digit index.
    static func fingerprint(_ i: Int) -> String {
        "0de7000000000" + String(format: "%03d", i)
    }

    /// The engine schedules on the wall clock in whole ms (rounded up), the fake records
    /// on the monotonic clock: this covers clock slew, never a missed Retry-After.
    static let clockSlack: Duration = .milliseconds(5)
    /// How long after a 429 came back a call that had already passed the destination's
    /// pause check may still start (the two threads race by microseconds; a busy 2-core
    /// machine can stretch that).
    static let gateGrace: Duration = .milliseconds(50)
}

/// Every call of one or more ``ChatDestination``s (one channel, possibly behind several
/// replicas), in the order they returned.
final class ChatCallLog: Sendable {
    struct Call: Sendable {
        var fingerprint: String
        var replica: ObjectIdentifier
        var started: ContinuousClock.Instant
        var ended: ContinuousClock.Instant
        var status: DeliveryOutcome.Status
    }
    private struct State {
        var calls: [Call] = []
        var started = 0
        var inFlight = 0
        var maxInFlight = 0
    }
    private let state = Mutex(State())

    /// Starts a call: its index among all calls, in start order.
    func begin() -> Int {
        state.withLock { s in
            s.inFlight += 1
            s.maxInFlight = max(s.maxInFlight, s.inFlight)
            defer { s.started += 1 }
            return s.started
        }
    }

    func end(_ call: Call) {
        state.withLock { s in
            s.inFlight -= 1
            s.calls.append(call)
        }
    }

    var calls: [Call] { state.withLock { $0.calls } }
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }
}

/// A chat channel in process: answers each call as `answer` says (by the call's index
/// among all calls of its log and the Issue's fingerprint), taking a couple of
/// milliseconds as a real post would, and records it in its log.
final class ChatDestination: Destination, @unchecked Sendable {
    enum Answer: Sendable {
        case ok
        /// 429 with Retry-After.
        case throttled(after: Duration)
        /// A failure without Retry-After (backoff applies).
        case failing
        /// Refused for good.
        case refused
    }

    let name: String
    let log: ChatCallLog
    let answer: @Sendable (_ index: Int, _ fingerprint: String) -> Answer

    init(name: String, log: ChatCallLog, answer: @escaping @Sendable (_ index: Int, _ fingerprint: String) -> Answer) {
        self.name = name
        self.log = log
        self.answer = answer
    }

    func deliver(issueJSON: [UInt8], context: DeliveryContext) -> DeliveryOutcome {
        let fingerprint = (try? IssueCoding.decode(Issue.self, from: issueJSON))?.fingerprint ?? "?"
        let started = ContinuousClock.now
        let index = log.begin()
        // A post's latency, so that overlapping calls would show in the log.
        Thread.sleep(forTimeInterval: 0.002)
        let outcome: DeliveryOutcome
        switch answer(index, fingerprint) {
        case .ok: outcome = DeliveryOutcome(.delivered, message: "ok", reference: Array("ts-\(fingerprint)".utf8))
        case .throttled(let after): outcome = DeliveryOutcome(.retry, message: "HTTP 429", retryAfter: after)
        case .failing: outcome = DeliveryOutcome(.retry, message: "HTTP 503")
        case .refused: outcome = DeliveryOutcome(.permanent, message: "HTTP 400: channel_not_found")
        }
        log.end(ChatCallLog.Call(fingerprint: fingerprint, replica: ObjectIdentifier(self), started: started, ended: .now, status: outcome.status))
        return outcome
    }
}
