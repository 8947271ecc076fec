import CanoSDK
import Foundation
import Logging

/// The durable intake: routes Issues, drops duplicates, enforces queue limits and records
/// the resulting deliveries in SQLite before `submit` returns.
///
/// Group commit: every `submit` hands its batch to one writer thread, which takes all
/// batches waiting at that moment and records them in ONE transaction (one fsync). Callers
/// are resumed only after the commit. SQLite I/O never runs on Swift's cooperative pool:
/// callers suspend on a continuation.
///
/// Blast radius: a destination over its `queue_limit` never refuses a batch (that would
/// stop every other destination too); its new deliveries are recorded as dead letters
/// (cause `overflow`). `submit` fails only when the database does, which passes.
public final class Outbox: IssueSink, @unchecked Sendable {
    // @unchecked: mutable state is guarded by `condition`; the rest is immutable.

    /// One routed Issue, encoded once for every destination it goes to.
    private struct Routed {
        var issue: Issue
        var payload: [UInt8]
        var matches: [IssueRouter.Match]
    }

    private struct Request {
        var issues: [Routed]
        var continuation: CheckedContinuation<Result<SubmitReceipt, SubmitError>, Never>
    }

    private let database: any SQLDatabase
    private let router: IssueRouter
    private let policies: [String: DeliveryPolicy]
    private let metrics: Metrics
    private let logger: Logger
    private let onQueued: @Sendable () -> Void
    private let dispatcher: Dispatcher?
    private let journal: IssueJournal?
    private let clock: @Sendable () -> Int64

    private let condition = NSCondition()
    private var waiting: [Request] = []
    private var closed = false
    private var writerDone = false
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []

    /// Starts the writer thread. `policies` are per destination (default policy for names
    /// not in it); `onQueued` runs on the writer thread after a commit that queued work,
    /// once its submitters are answered (pass the engine's `loadCommitted`). `dispatcher`
    /// applies noise control (grouping, silences, holds, storms); without one every routed
    /// Issue is queued at once. `clock` gives the
    /// intake time in Unix milliseconds (default: the system clock); tests pass the fake clock they also flush with.
    /// `journal` (the console's history) records every Issue, routed or not, with what
    /// routing did with it, in the same transaction.
    public init(
        database: any SQLDatabase, router: IssueRouter, policies: [String: DeliveryPolicy], metrics: Metrics, logger: Logger,
        dispatcher: Dispatcher? = nil, journal: IssueJournal? = nil, clock: (@Sendable () -> Int64)? = nil,
        onQueued: @escaping @Sendable () -> Void = {}
    ) {
        self.clock = clock ?? { unixMillis() }
        self.database = database
        self.router = router
        self.policies = policies
        self.metrics = metrics
        self.logger = logger
        self.onQueued = onQueued
        self.dispatcher = dispatcher
        self.journal = journal
        Enqueuer.describe(metrics)
        metrics.describe("cano_issues_unrouted_total", type: "counter", help: "Issues that matched no route and no default destination.")
        BlockingThread.start(name: "cano-outbox") { [self] in writerLoop() }
    }

    /// Records `issues` durably, or throws and records nothing of them.
    public func submit(_ issues: [Issue]) async throws(SubmitError) -> SubmitReceipt {
        var routed: [Routed] = []
        routed.reserveCapacity(issues.count)
        var unrouted = 0
        for issue in issues {
            let matches = router.matches(for: issue)
            if matches.isEmpty {
                unrouted += 1
                logger.warning("Issue matched no route and there are no default destinations; it is not delivered anywhere",
                               metadata: ["fingerprint": .string(issue.fingerprint), "title": .string(issue.title)])
                // The console still shows it, as "matched no route".
                if journal == nil { continue }
            }
            do {
                routed.append(Routed(issue: issue, payload: try IssueCoding.encode(issue), matches: matches))
            } catch {
                throw SubmitError(.internal, "could not encode Issue \(issue.fingerprint) as JSON: \(error)")
            }
        }
        if unrouted > 0 { metrics.increment("cano_issues_unrouted_total", by: Double(unrouted)) }
        if routed.isEmpty { return SubmitReceipt(queued: 0, duplicates: 0) }

        let result: Result<SubmitReceipt, SubmitError> = await withCheckedContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            if closed {
                continuation.resume(returning: .failure(SubmitError(.shuttingDown, "the collector is shutting down")))
                return
            }
            waiting.append(Request(issues: routed, continuation: continuation))
            condition.signal()
        }
        return try result.get()
    }

    /// Stops taking batches (later submits fail with `.shuttingDown`) and returns once the
    /// batches already handed over are committed and the writer thread has ended. Close
    /// the database only after this.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            defer { condition.unlock() }
            closed = true
            if writerDone {
                continuation.resume()
            } else {
                closeWaiters.append(continuation)
                condition.broadcast()
            }
        }
    }

    private func writerLoop() {
        while true {
            condition.lock()
            while waiting.isEmpty && !closed { condition.wait() }
            if waiting.isEmpty && closed {
                writerDone = true
                let waiters = closeWaiters
                closeWaiters.removeAll()
                condition.unlock()
                for waiter in waiters { waiter.resume() }
                return
            }
            let batch = waiting
            waiting.removeAll(keepingCapacity: true)
            condition.unlock()
            commit(batch)
        }
    }

    private func commit(_ batch: [Request]) {
        var results: [SubmitReceipt] = []
        var enqueuer = Enqueuer(policies: policies)
        var held = 0
        do {
            let engine = database.engine
            try database.write("record submitted Issues") { c in
                // The body may run again on a new connection (SQLDatabase.write): start clean.
                results = []; enqueuer = Enqueuer(policies: policies); held = 0
                try DeliveryStore.lockIntake(c, engine: engine)
                let now = clock()
                let context = try dispatcher?.beginIntake(c, now: now)
                for request in batch {
                    var receipt = SubmitReceipt(queued: 0, duplicates: 0)
                    for item in request.issues {
                        var routing: [JournalRouting] = []
                        for match in item.matches {
                            let outcome: Enqueuer.Outcome
                            if let dispatcher, let context {
                                switch try dispatcher.place(c, item.issue, match: match, payload: item.payload, now: now, context: context, enqueuer: &enqueuer) {
                                case .held(let why, let silence, let notification):
                                    held += 1
                                    routing.append(JournalRouting(destination: match.destination, route: match.routeID, outcome: why,
                                                                  silence: silence, notification: notification))
                                    continue
                                case .delivery(let o): outcome = o
                                }
                            } else {
                                let startsAt = unixMillis(item.issue.startsAt)
                                let status = item.issue.status.rawValue
                                outcome = try enqueuer.enqueue(c, NewDelivery(
                                    destination: match.destination, fingerprint: item.issue.fingerprint, status: status, startsAtMillis: startsAt,
                                    idempotencyKey: IdempotencyKey.make(destination: match.destination, fingerprint: item.issue.fingerprint, status: status, startsAtMillis: startsAt),
                                    payload: item.payload), now: now)
                            }
                            if outcome == .queued { receipt.queued += 1 }
                            routing.append(JournalRouting(destination: match.destination, route: match.routeID, outcome: outcome.journalOutcome))
                        }
                        // Per Issue, as the sender counts: a duplicate everywhere it goes, or held somewhere.
                        if !routing.isEmpty && routing.allSatisfy({ $0.outcome == .duplicate }) { receipt.duplicates += 1 }
                        if routing.contains(where: \.outcome.isHeld) { receipt.held += 1 }
                        if journal != nil { try IssueJournal.record(c, item.issue, payload: item.payload, routing: routing, now: now) }
                    }
                    results.append(receipt)
                }
                try journal?.prune(c)
                if enqueuer.queuedAny { try DeliveryStore.announceNewWork(c, engine: engine) }
            }
        } catch {
            // The whole group failed to commit: nothing of it is recorded.
            logger.error("could not record submitted Issues", metadata: ["error": .string("\(error)")])
            for request in batch {
                request.continuation.resume(returning: .failure(SubmitError(.unavailable, "could not record the Issues: \(error)")))
            }
            return
        }
        enqueuer.publish(metrics: metrics, logger: logger)
        for (request, receipt) in zip(batch, results) {
            request.continuation.resume(returning: .success(receipt))
        }
        if enqueuer.queuedAny { onQueued() }
        if held > 0 { dispatcher?.wake() }
    }
}

extension Enqueuer.Outcome {
    /// The same outcome in the console's terms.
    var journalOutcome: JournalRouting.Outcome {
        switch self {
        case .queued: .queued
        case .duplicate: .duplicate
        case .overflow: .overflow
        }
    }
}
