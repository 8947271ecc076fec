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

    private struct Request {
        var deliveries: [[NewDelivery]]  // per Issue, one per destination
        var continuation: CheckedContinuation<Result<SubmitReceipt, SubmitError>, Never>
    }

    private let database: any SQLDatabase
    private let router: IssueRouter
    private let policies: [String: DeliveryPolicy]
    private let metrics: Metrics
    private let logger: Logger
    private let onQueued: @Sendable () -> Void

    private let condition = NSCondition()
    private var waiting: [Request] = []
    private var closed = false
    private var writerDone = false
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []

    /// Starts the writer thread. `policies` are per destination (default policy for names
    /// not in it); `onQueued` runs on the writer thread after a commit that queued work
    /// (pass the engine's `notify`).
    public init(
        database: any SQLDatabase, router: IssueRouter, policies: [String: DeliveryPolicy], metrics: Metrics, logger: Logger,
        onQueued: @escaping @Sendable () -> Void = {}
    ) {
        self.database = database
        self.router = router
        self.policies = policies
        self.metrics = metrics
        self.logger = logger
        self.onQueued = onQueued
        metrics.describe("cano_deliveries_queued_total", type: "counter", help: "Deliveries recorded in the outbox, by destination.")
        metrics.describe("cano_deliveries_duplicate_total", type: "counter", help: "Deliveries not queued because the same alert was already queued or delivered.")
        metrics.describe("cano_queue_overflow_total", type: "counter", help: "Deliveries dead-lettered on arrival because their destination's queue was full, by destination.")
        metrics.describe("cano_dead_letters_revived_total", type: "counter", help: "Dead letters queued again because the same alert was sent again, by destination.")
        metrics.describe("cano_issues_unrouted_total", type: "counter", help: "Issues that matched no route and no default destination.")
        BlockingThread.start(name: "cano-outbox") { [self] in writerLoop() }
    }

    /// Records `issues` durably, or throws and records nothing of them.
    public func submit(_ issues: [Issue]) async throws(SubmitError) -> SubmitReceipt {
        var perIssue: [[NewDelivery]] = []
        perIssue.reserveCapacity(issues.count)
        var unrouted = 0
        for issue in issues {
            let destinations = router.destinations(for: issue)
            if destinations.isEmpty {
                unrouted += 1
                logger.warning("Issue matched no route and there are no default destinations; it is not delivered anywhere",
                               metadata: ["fingerprint": .string(issue.fingerprint), "title": .string(issue.title)])
                continue
            }
            let payload: [UInt8]
            do {
                payload = try IssueCoding.encode(issue)
            } catch {
                throw SubmitError(.internal, "could not encode Issue \(issue.fingerprint) as JSON: \(error)")
            }
            let startsAt = unixMillis(issue.startsAt)
            perIssue.append(destinations.map { destination in
                NewDelivery(
                    destination: destination, fingerprint: issue.fingerprint, status: issue.status.rawValue, startsAtMillis: startsAt,
                    idempotencyKey: IdempotencyKey.make(destination: destination, fingerprint: issue.fingerprint, status: issue.status.rawValue, startsAtMillis: startsAt),
                    payload: payload)
            })
        }
        if unrouted > 0 { metrics.increment("cano_issues_unrouted_total", by: Double(unrouted)) }
        if perIssue.isEmpty { return SubmitReceipt(queued: 0, duplicates: 0) }

        let result: Result<SubmitReceipt, SubmitError> = await withCheckedContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            if closed {
                continuation.resume(returning: .failure(SubmitError(.shuttingDown, "the collector is shutting down")))
                return
            }
            waiting.append(Request(deliveries: perIssue, continuation: continuation))
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
        var queuedBy: [String: Int] = [:]
        var duplicatesBy: [String: Int] = [:]
        var overflowBy: [String: Int] = [:]
        var revivedBy: [String: Int] = [:]
        do {
            let engine = database.engine
            try database.write("record submitted Issues") { c in
                // The body may run again on a new connection (SQLDatabase.write): start clean.
                results = []; queuedBy = [:]; duplicatesBy = [:]; overflowBy = [:]; revivedBy = [:]
                try DeliveryStore.lockIntake(c, engine: engine)
                let now = unixMillis()
                var depth: [String: Int] = [:]
                for request in batch {
                    var receipt = SubmitReceipt(queued: 0, duplicates: 0)
                    for deliveries in request.deliveries {
                        for d in deliveries {
                            let current = try depth[d.destination] ?? DeliveryStore.pendingCount(c, destination: d.destination)
                            let limit = (policies[d.destination] ?? DeliveryPolicy()).queueLimit
                            if let existing = try DeliveryStore.existing(c, d) {
                                // The revive rule (docs/delivery.md): a resend brings a dead letter back,
                                // unless it is a quarantined poison Issue or its queue is full.
                                if existing.state == .dead, existing.cause != .quarantined, current < limit,
                                   try DeliveryStore.revive(c, deadID: existing.id, with: d, now: now) {
                                    depth[d.destination] = current + 1
                                    revivedBy[d.destination, default: 0] += 1
                                    queuedBy[d.destination, default: 0] += 1
                                    receipt.queued += 1
                                    continue
                                }
                                duplicatesBy[d.destination, default: 0] += 1
                                receipt.duplicates += 1
                                if existing.state == .delivered { try DeliveryStore.touch(c, id: existing.id, now: now) }
                                continue
                            }
                            if current >= limit {
                                // One destination's backlog must not refuse alerts bound for the
                                // others (a 503 would), nor lose this one: it is kept as a dead
                                // letter, which a resend or `deliveries retry` brings back.
                                let message = "queue full: destination \(d.destination) had \(current) queued deliveries (queue_limit \(limit))"
                                try DeliveryStore.insert(c, d, now: now, deadLetter: (.overflow, message))
                                overflowBy[d.destination, default: 0] += 1
                                continue
                            }
                            try DeliveryStore.insert(c, d, now: now)
                            depth[d.destination] = current + 1
                            queuedBy[d.destination, default: 0] += 1
                            receipt.queued += 1
                        }
                    }
                    results.append(receipt)
                }
                if !queuedBy.isEmpty { try DeliveryStore.announceNewWork(c, engine: engine) }
            }
        } catch {
            // The whole group failed to commit: nothing of it is recorded.
            logger.error("could not record submitted Issues", metadata: ["error": .string("\(error)")])
            for request in batch {
                request.continuation.resume(returning: .failure(SubmitError(.unavailable, "could not record the Issues: \(error)")))
            }
            return
        }
        for (destination, n) in queuedBy { metrics.increment("cano_deliveries_queued_total", ["destination": destination], by: Double(n)) }
        for (destination, n) in duplicatesBy { metrics.increment("cano_deliveries_duplicate_total", ["destination": destination], by: Double(n)) }
        for (destination, n) in revivedBy { metrics.increment("cano_dead_letters_revived_total", ["destination": destination], by: Double(n)) }
        for (destination, n) in overflowBy {
            metrics.increment("cano_queue_overflow_total", ["destination": destination], by: Double(n))
            metrics.increment("cano_dead_letters_total", ["destination": destination], by: Double(n))
            logger.error("queue full: dead-lettered new deliveries for this destination only; `cano-collector deliveries retry --all-failed` re-queues them",
                         metadata: ["destination": .string(destination), "dead_lettered": .stringConvertible(n),
                                    "queue_limit": .stringConvertible((policies[destination] ?? DeliveryPolicy()).queueLimit)])
        }
        if !queuedBy.isEmpty { onQueued() }
        for (request, receipt) in zip(batch, results) {
            request.continuation.resume(returning: .success(receipt))
        }
    }
}
