import Foundation
import Logging

/// Works the outbox: one queue per destination, each served by `DeliveryPolicy.workers`
/// dedicated OS threads that call `Destination.deliver` (which may block in libcurl, so
/// never on Swift's cooperative pool).
///
/// - Order: per (destination, fingerprint) only the oldest pending delivery is ever
///   eligible, so a resolve is never delivered before its firing message, even while that
///   one is retrying. A dead letter stops blocking its fingerprint.
/// - Durability: the database is the queue. The in-memory schedule is rebuilt from it at
///   `start()` and fed from it after each outbox commit (`notify()`) and every
///   `pollInterval` (to pick up dead letters re-queued by the CLI). A delivery in flight at
///   a crash is still pending in the database and is tried again after the restart
///   (at-least-once; the idempotency key lets the destination absorb the repeat).
/// - Retry timing and dead-lettering are decided by ``RetryPolicy`` only.
/// - Destinations named in routes but not given here (their plugin failed to load) keep
///   their queue; its deliveries wait for a start with the destination ready.
public final class DeliveryEngine: @unchecked Sendable {
    // @unchecked: mutable state lives in `DestinationQueue`s (guarded by their conditions)
    // and in the feeder fields guarded by `feederCondition`.

    /// What `drain` achieved.
    public struct DrainResult: Sendable, Equatable {
        /// Every delivery thread stopped before the deadline.
        public var completed: Bool
        /// Deliveries still in a destination call at the deadline.
        public var inFlight: Int
    }

    private let store: DeliveryStore
    private let destinations: [String: any Destination]
    private let policies: [String: DeliveryPolicy]
    private let metrics: Metrics
    private let logger: Logger
    private let pollInterval: Duration
    private let retention: Duration

    private let queuesLock = NSLock()
    private var queues: [String: DestinationQueue] = [:]

    private let feederCondition = NSCondition()
    private var feederWake = false
    private var feederStop = false
    private var feederRunning = false
    private var started = false
    private var lastLoadedID: Int64 = 0
    private var lastPrune = ContinuousClock.now

    /// Creates the engine; nothing runs until ``start()``.
    /// - Parameters:
    ///   - destinations: the ready destinations (loaded plugins and built-ins).
    ///   - policies: per destination name; names without one get `DeliveryPolicy()`.
    ///   - retention: delivered rows (the dedup record) are pruned this long after the
    ///     same alert was last seen; keep it longer than Alertmanager's repeat_interval.
    ///   - pollInterval: how often the database is re-read without a `notify()`.
    public init(
        database: Database, destinations: [any Destination], policies: [String: DeliveryPolicy], metrics: Metrics, logger: Logger,
        retention: Duration = .seconds(7 * 24 * 3600), pollInterval: Duration = .seconds(2)
    ) {
        self.store = DeliveryStore(database: database)
        self.destinations = Dictionary(destinations.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.policies = policies
        self.metrics = metrics
        self.logger = logger
        self.retention = retention
        self.pollInterval = pollInterval
        metrics.describe("cano_deliveries_total", type: "counter", help: "Delivery attempts by destination and result (delivered, retry, permanent).")
        metrics.describe("cano_delivery_retries_total", type: "counter", help: "Retries scheduled, by destination.")
        metrics.describe("cano_dead_letters_total", type: "counter", help: "Deliveries dead-lettered, by destination.")
        metrics.describe("cano_queue_depth", type: "gauge", help: "Pending deliveries, by destination.")
        metrics.describe("cano_queue_oldest_age_seconds", type: "gauge", help: "Age of the oldest pending delivery, by destination.")
        metrics.describe("cano_delivery_duration_seconds", type: "histogram", help: "Duration of one destination call, by destination.")
        metrics.describe("cano_delivery_latency_seconds", type: "histogram", help: "Time from intake to successful delivery, by destination.")
    }

    /// Loads the pending deliveries and starts the delivery threads. Call once.
    public func start() throws(DatabaseError) {
        feederCondition.lock()
        guard !started else { feederCondition.unlock(); return }
        started = true
        feederRunning = true
        feederCondition.unlock()
        for (name, _) in destinations { _ = queue(for: name) }
        try load()
        queuesLock.lock()
        let all = Array(queues.values)
        queuesLock.unlock()
        for queue in all { startWorkers(queue) }
        for name in destinations.keys.sorted() {
            logger.info("delivery queue started", metadata: ["destination": .string(name), "pending": .stringConvertible(all.first { $0.name == name }?.depth ?? 0)])
        }
        let feeder = Thread { [self] in feederLoop() }
        feeder.name = "cano-delivery-feeder"
        feeder.start()
    }

    /// New work was committed: load it now rather than at the next poll. Cheap; call it
    /// from anywhere (it only signals the feeder thread).
    public func notify() {
        feederCondition.lock()
        feederWake = true
        feederCondition.signal()
        feederCondition.unlock()
    }

    /// Stops taking new work and waits until the calls in flight return, or `deadline`.
    /// Everything not delivered stays queued in the database for the next start. The wait
    /// runs on a helper thread; the caller only suspends.
    public func drain(deadline: ContinuousClock.Instant) async -> DrainResult {
        let all = stopTakingWork()
        let wallDeadline = Date().addingTimeInterval(Self.seconds(deadline - ContinuousClock.now))
        return await withCheckedContinuation { continuation in
            let waiter = Thread { [self] in
                var completed = true
                for queue in all where !queue.waitForWorkers(until: wallDeadline) { completed = false }
                feederCondition.lock()
                while feederRunning {
                    if !feederCondition.wait(until: wallDeadline) { completed = false; break }
                }
                feederCondition.unlock()
                let inFlight = all.reduce(0) { $0 + $1.inFlightCount }
                if inFlight > 0 {
                    logger.warning("drain deadline reached with deliveries in flight; they will be retried after restart",
                                   metadata: ["in_flight": .stringConvertible(inFlight)])
                }
                continuation.resume(returning: DrainResult(completed: completed && inFlight == 0, inFlight: inFlight))
            }
            waiter.name = "cano-delivery-drain"
            waiter.start()
        }
    }

    /// Dead letters, newest first (optionally for one destination).
    public func deadLetters(destination: String? = nil) throws(DatabaseError) -> [DeliveryRecord] {
        try store.records(state: .dead, destination: destination)
    }

    /// Queues dead letters again (`ids == nil`: all of them) and wakes the engine.
    /// Returns the ids that were re-queued.
    @discardableResult
    public func retryDeadLetters(ids: [Int64]?) throws -> [Int64] {
        let requeued = try store.retryDeadLetters(ids: ids)
        if !requeued.isEmpty { notify() }
        return requeued
    }

    /// Stops the feeder and every queue; returns the queues.
    private func stopTakingWork() -> [DestinationQueue] {
        feederCondition.lock()
        feederStop = true
        feederCondition.signal()
        feederCondition.unlock()
        let all = allQueues()
        for queue in all { queue.stop() }
        return all
    }

    private func allQueues() -> [DestinationQueue] {
        queuesLock.lock()
        defer { queuesLock.unlock() }
        return Array(queues.values)
    }

    // MARK: Feeding

    private func queue(for name: String) -> DestinationQueue {
        queuesLock.lock()
        defer { queuesLock.unlock() }
        if let q = queues[name] { return q }
        let q = DestinationQueue(name: name, policy: policies[name] ?? DeliveryPolicy(), destination: destinations[name], metrics: metrics)
        queues[name] = q
        return q
    }

    /// Reads pending rows newer than the last load into the queues. Feeder thread (or
    /// `start`) only.
    private func load() throws(DatabaseError) {
        let rows = try store.pending(afterID: lastLoadedID)
        guard let last = rows.last else { return }
        lastLoadedID = last.id
        var byDestination: [String: [PendingDelivery]] = [:]
        for row in rows { byDestination[row.destination, default: []].append(row) }
        for (name, rows) in byDestination {
            let q = queue(for: name)
            if started && !q.workersStarted { startWorkers(q) }
            q.add(rows)
        }
    }

    private func startWorkers(_ queue: DestinationQueue) {
        guard let destination = queue.destination, queue.markWorkersStarted() else { return }
        let log = logger.with(destination: queue.name)
        for index in 0..<max(1, queue.policy.workers) {
            let worker = DeliveryWorker(queue: queue, destination: destination, store: store, metrics: metrics, logger: log)
            let thread = Thread { worker.run() }
            thread.name = "cano-deliver-\(queue.name)-\(index)"
            queue.workerStarted()
            thread.start()
        }
    }

    private func feederLoop() {
        while true {
            feederCondition.lock()
            if !feederWake && !feederStop {
                _ = feederCondition.wait(until: Date().addingTimeInterval(Self.seconds(pollInterval)))
            }
            let stop = feederStop
            feederWake = false
            feederCondition.unlock()
            if stop { break }
            do {
                try load()
            } catch {
                logger.error("could not load pending deliveries", metadata: ["error": .string("\(error)")])
            }
            queuesLock.lock()
            let all = Array(queues.values)
            queuesLock.unlock()
            for queue in all { queue.publishGauges() }
            if ContinuousClock.now - lastPrune > .seconds(60) {
                lastPrune = .now
                do {
                    let pruned = try store.pruneDelivered(before: unixMillis() - Int64(Self.seconds(retention) * 1000))
                    if pruned > 0 { logger.debug("pruned delivered rows", metadata: ["rows": .stringConvertible(pruned)]) }
                } catch {
                    logger.error("could not prune delivered rows", metadata: ["error": .string("\(error)")])
                }
            }
        }
        feederCondition.lock()
        feederRunning = false
        feederCondition.broadcast()
        feederCondition.unlock()
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

extension Logger {
    /// This logger with the destination name in its metadata (never the destination's
    /// config: that may hold secrets).
    func with(destination: String) -> Logger {
        var copy = self
        copy[metadataKey: "destination"] = .string(destination)
        return copy
    }
}
