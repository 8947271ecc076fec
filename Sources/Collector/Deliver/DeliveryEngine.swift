import CanoSDK
import Foundation
import Logging

/// Works the outbox: one queue per destination, each served by `DeliveryPolicy.workers`
/// dedicated OS threads that call `Destination.deliver` (which may block in libcurl, so
/// never on Swift's cooperative pool).
///
/// - Order: per (destination, fingerprint) only the oldest pending delivery is ever
///   eligible, so a resolve is never delivered before its firing message, even while that
///   one is retrying. A dead letter stops blocking its fingerprint. An *ordered* destination
///   (`DeliveryPolicy.ordered`, on by default for chat destinations) gets one delivery at a
///   time, strictly in queue order across fingerprints, a retrying head holding the line
///   (docs/delivery.md, "Ordering"); its queue has one delivery thread.
/// - Pauses: a retry-after (the destination said "wait") pauses the whole destination
///   queue until then (``RetryPolicy/destinationPause(after:decision:)``); the delivery
///   that got it keeps its place in line.
/// - Durability: the database is the queue. The in-memory schedule is rebuilt from it at
///   `start()` and fed from it after each outbox commit (``loadCommitted()``, on the
///   committing thread) and every `pollInterval` (to pick up dead letters re-queued by the
///   CLI). A delivery in flight at a crash is still pending in the database and is tried
///   again after the restart (at-least-once; the idempotency key lets the destination
///   absorb the repeat).
/// - Crash containment: each attempt is recorded durably before the plugin is called. The
///   next start after an unclean exit counts a crash on every delivery still marked in a
///   call and quarantines it (a dead letter) at `quarantine_after_crashes`, so a plugin
///   that segfaults on one Issue cannot crash-loop the collector; `onQuarantine` is told.
/// - Shutdown: `drain` returns by its deadline even when a plugin never returns; such calls
///   are abandoned, and their deliveries stay queued (not counted as crashes).
/// - Replicas (a shared engine, PostgreSQL): the feeder claims work instead of loading it
///   (``DeliveryStore/claim(owner:destinations:ordered:leaseMillis:limit:now:)``), only for destinations this
///   replica has (for an ordered one only behind older deliveries it holds itself), renews its claims every third of the lease and drops
///   what it no longer holds; deliveries of a replica that died are recovered (and counted
///   as crashes if they were in a call) once its lease lapses. New work anywhere wakes
///   every replica through LISTEN/NOTIFY (subscribed at ``start(crashReport:)``). A clean stop
///   releases the claims, so a rollout hands work over at once.
/// - Store health: each feeder round reports whether the store answered (`onStoreHealth`);
///   the app turns that into `/readyz`.
/// - Retry timing and dead-lettering are decided by ``RetryPolicy`` only.
/// - Destinations named in routes but not given here (their plugin could not be created)
///   keep their queue without workers until ``attach(_:)`` gives them the destination;
///   meanwhile `expireWithoutDestination` dead-letters what outlives `max_age`.
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
    /// Set on a shared engine: this replica's identity on its claims and the lease length.
    private let sharing: (owner: String, leaseMillis: Int64)?
    private let onStoreHealth: @Sendable (_ problem: String?) -> Void
    private let destinations: [String: any Destination]
    private let policies: [String: DeliveryPolicy]
    private let metrics: Metrics
    private let logger: Logger
    private let pollInterval: Duration
    private let retention: Duration
    private let onQuarantine: @Sendable (_ destination: String, _ reason: String) -> Void

    private let queuesLock = NSLock()
    private var queues: [String: DestinationQueue] = [:]

    private let feederCondition = NSCondition()
    private var feederWake = false
    private var feederStop = false
    private var feederRunning = false
    private var started = false
    /// The start-up recovery and first load are done (unshared engine): only then may a
    /// committing thread load (``loadCommitted()``), or a commit made during `start()`
    /// could reach a plugin before the last run's crashed calls are counted.
    private var loadedAtStart = false
    /// Serialises ``load()``, which the feeder and the committing threads both run.
    private let loadLock = NSLock()
    /// The highest id loaded into the queues (guarded by `loadLock`).
    private var lastLoadedID: Int64 = 0
    /// Shared engine: the start-up recovery (own previous run) is done.
    private var recoveredAtStart = false
    /// Shared engine: the last renewal and recovery (once per third of the lease).
    private var lastMaintenance = ContinuousClock.now
    private var crashReport: CrashGuard.Report?
    private var lastPrune = ContinuousClock.now

    /// Creates the engine; nothing runs until ``start()``.
    /// - Parameters:
    ///   - destinations: the ready destinations (loaded plugins and built-ins).
    ///   - policies: per destination name; names without one get `DeliveryPolicy()`.
    ///   - retention: delivered rows (the dedup record) are pruned this long after the
    ///     same alert was last seen; keep it longer than Alertmanager's repeat_interval.
    ///   - pollInterval: how often the database is re-read without a `notify()`.
    ///   - onQuarantine: told (on any thread) when a delivery of a destination is quarantined
    ///     for crashing its plugin; the app marks the destination suspect in `/readyz`.
    ///   - replicaID: this process's name on its claims (shared engine only); the default,
    ///     ``ReplicaIdentity/current``, is stable across a container restart in one pod.
    ///   - claimLease: how long a claim lasts without renewal (shared engine only).
    ///   - onStoreHealth: told after each feeder round: nil when the store answered, else a
    ///     secret-free reason.
    public init(
        database: any SQLDatabase, destinations: [any Destination], policies: [String: DeliveryPolicy], metrics: Metrics, logger: Logger,
        retention: Duration = .seconds(7 * 24 * 3600), pollInterval: Duration = .seconds(2),
        replicaID: String = ReplicaIdentity.current, claimLease: Duration = .seconds(30),
        onQuarantine: @escaping @Sendable (_ destination: String, _ reason: String) -> Void = { _, _ in },
        onStoreHealth: @escaping @Sendable (_ problem: String?) -> Void = { _ in }
    ) {
        self.store = DeliveryStore(database: database)
        let leaseMillis = Int64(Self.seconds(claimLease) * 1000)
        self.sharing = database.engine.isShared ? (replicaID, leaseMillis) : nil
        self.onStoreHealth = onStoreHealth
        self.destinations = Dictionary(destinations.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.policies = policies
        self.metrics = metrics
        self.logger = logger
        self.retention = retention
        // Claims are renewed every round: at least three rounds per lease.
        self.pollInterval = database.engine.isShared ? min(pollInterval, claimLease / 3) : pollInterval
        self.onQuarantine = { destination, reason in
            metrics.set("cano_destination_suspect", ["destination": destination], to: 1)
            onQuarantine(destination, reason)
        }
        metrics.describe("cano_deliveries_in_flight", type: "gauge", help: "Deliveries now in a destination call, by destination (a stuck plugin keeps it up).")
        metrics.describe("cano_destination_suspect", type: "gauge", help: "1 when a delivery of the destination was quarantined because its plugin crashed on it.")
        metrics.describe("cano_deliveries_quarantined_total", type: "counter", help: "Deliveries quarantined as dead letters because they crashed their plugin, by destination.")
        metrics.describe("cano_plugin_crashes_total", type: "counter", help: "Plugin calls that crashed the collector or an isolated plugin process, by destination.")
        metrics.describe("cano_deliveries_total", type: "counter", help: "Delivery attempts by destination and result (delivered, retry, permanent).")
        metrics.describe("cano_delivery_retries_total", type: "counter", help: "Retries scheduled, by destination.")
        metrics.describe("cano_dead_letters_total", type: "counter", help: "Deliveries dead-lettered, by destination.")
        metrics.describe("cano_queue_depth", type: "gauge", help: "Pending deliveries held by this process (with a shared store: claimed by this replica), by destination.")
        metrics.describe("cano_store_pending_deliveries", type: "gauge", help: "Shared store only: pending deliveries of every replica, by destination.")
        metrics.describe("cano_queue_oldest_age_seconds", type: "gauge", help: "Age of the oldest pending delivery, by destination.")
        metrics.describe("cano_delivery_duration_seconds", type: "histogram", help: "Duration of one destination call, by destination.")
        metrics.describe("cano_delivery_latency_seconds", type: "histogram", help: "Time from intake to successful delivery, by destination.")
        metrics.describe("cano_destination_paused_seconds", type: "gauge",
                         help: "Seconds left of the destination's pause (it asked to wait: Retry-After), 0 when not paused, by destination.")
        metrics.describe("cano_destination_pauses_total", type: "counter", help: "Pauses of the whole destination queue after a Retry-After, by destination.")
    }

    /// Loads the pending deliveries and starts the delivery threads. Call once.
    /// - Parameter crashReport: what ``CrashGuard`` recorded of the last run's crash, if
    ///   anything: which deliveries to blame for it (see ``DeliveryStore``'s recovery).
    public func start(crashReport: CrashGuard.Report? = nil) throws(DatabaseError) {
        feederCondition.lock()
        guard !started else { feederCondition.unlock(); return }
        started = true
        feederRunning = true
        feederCondition.unlock()
        for (name, _) in destinations { _ = queue(for: name) }
        if sharing == nil {
            try recoverInterrupted(crashReport, scope: .all)
            try load()
            feederCondition.withLock { loadedAtStart = true }
        } else {
            // A shared store may be unreachable now: the feeder recovers and claims once it
            // answers, and reports its health meanwhile (the collector still starts).
            self.crashReport = crashReport
            // Work other replicas queue (PostgreSQL NOTIFY) is claimed at once, not at the poll.
            (store.database as? PostgreSQLDatabase)?.listen(channel: DeliveryStore.newWorkChannel) { [weak self] in self?.notify() }
        }
        queuesLock.lock()
        let all = Array(queues.values)
        queuesLock.unlock()
        for queue in all { startWorkers(queue) }
        for name in destinations.keys.sorted() {
            logger.info("delivery queue started", metadata: ["destination": .string(name), "pending": .stringConvertible(all.first { $0.name == name }?.depth ?? 0)])
        }
        BlockingThread.start(name: "cano-feeder") { [self] in feederLoop() }
    }

    /// Counts a crash on every delivery the last run left in a plugin call, and quarantines
    /// those that reached their limit. Before `load()`, so a poison Issue is never called again.
    private func recoverInterrupted(_ crashReport: CrashGuard.Report?, scope: DeliveryStore.RecoveryScope) throws(DatabaseError) {
        if let crashReport {
            logger.error("the last run ended with a fatal signal", metadata: [
                "signals": .string(crashReport.signals.map(String.init).joined(separator: ",")),
                "in_plugin_call_for_deliveries": .string(crashReport.deliveryIDs.sorted().map(String.init).joined(separator: ",")),
            ])
        }
        let found: [InterruptedDelivery]
        do {
            found = try store.recoverInterrupted(scope: scope, blamed: crashReport?.deliveryIDs, quarantineAfter: { [policies] in (policies[$0] ?? DeliveryPolicy()).quarantineAfterCrashes },
                                                 now: unixMillis())
        } catch {
            throw DatabaseError.wrapping(error, operation: "recover interrupted deliveries")
        }
        for d in found {
            let meta: Logger.Metadata = [
                "destination": .string(d.destination), "delivery_id": .stringConvertible(d.id), "fingerprint": .string(d.fingerprint),
                "crashes": .stringConvertible(d.crashes),
            ]
            guard d.blamed else {
                logger.info("a delivery in flight when another call crashed the collector is retried; no crash is counted on it", metadata: meta)
                continue
            }
            metrics.increment("cano_plugin_crashes_total", ["destination": d.destination])
            if d.quarantined {
                metrics.increment("cano_dead_letters_total", ["destination": d.destination])
                metrics.increment("cano_deliveries_quarantined_total", ["destination": d.destination])
                logger.error("delivery quarantined: the collector stopped uncleanly during its plugin call too often; its destination is suspect",
                             metadata: meta)
                onQuarantine(d.destination, RetryPolicy.quarantineReason(crashes: d.crashes))
            } else if d.onAnotherReplica {
                logger.warning("a replica's claim lapsed while this delivery was in its plugin call (it died, or lost the database); counted as a crash, retrying",
                               metadata: meta)
            } else {
                logger.warning("the collector stopped uncleanly while this delivery was in a plugin call; counted as a crash, retrying",
                               metadata: meta)
            }
        }
    }

    /// The caller's transaction just committed new work: loads it into the queues on the
    /// calling thread, so the delivery threads are woken without a hop through the feeder
    /// (a wake and a context switch per commit; docs/benchmarks.md, "Where the CPU goes at
    /// 100 alerts/s"). Blocking (a SQLite read): call it from a dedicated thread, as the
    /// outbox writer does. A shared engine only wakes the feeder (it claims rather than
    /// loads), and so does an engine whose `start()` has not finished its recovery and first
    /// load, or that is stopping. A failed read also leaves it to the feeder, which retries
    /// and reports the store's health.
    public func loadCommitted() {
        feederCondition.lock()
        let running = loadedAtStart && !feederStop
        feederCondition.unlock()
        guard running, sharing == nil else { return notify() }
        // The queues keep their depth gauge themselves; the feeder's poll publishes the rest.
        do { try load() } catch { notify() }
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
            BlockingThread.start(name: "cano-drain") { [self] in
                var completed = true
                for queue in all where !queue.waitForWorkers(until: wallDeadline) { completed = false }
                feederCondition.lock()
                while feederRunning {
                    if !feederCondition.wait(until: wallDeadline) { completed = false; break }
                }
                feederCondition.unlock()
                let inFlight = all.reduce(0) { $0 + $1.inFlightCount }
                for queue in all {
                    let stuck = queue.inFlightIDs
                    guard !stuck.isEmpty else { continue }
                    // Abandoned, not crashed: the calls stay pending for the next start.
                    do { try store.clearInFlight(ids: stuck) } catch {
                        logger.error("could not clear in-flight marks", metadata: ["error": .string("\(error)")])
                    }
                    logger.error("destination still in a plugin call at the drain deadline; abandoning the call, the delivery stays queued",
                                 metadata: ["destination": .string(queue.name), "in_flight": .stringConvertible(stuck.count)])
                }
                if let sharing {
                    // Hand the claimed work over now rather than after the lease (a rollout);
                    // after the abandoned calls' marks are cleared, so those go too.
                    do { try store.releaseClaims(owner: sharing.owner) } catch {
                        logger.warning("could not release claims; other replicas take them over when the lease lapses",
                                       metadata: ["error": .string("\(error)")])
                    }
                }
                continuation.resume(returning: DrainResult(completed: completed && inFlight == 0, inFlight: inFlight))
            }
        }
    }

    /// Hands the engine a destination it did not have at ``start()`` (its plugin could not
    /// be created then, and `DestinationSupervisor` created it later): the destination's
    /// queue — created if no delivery arrived yet — gets it, and its workers start, so the
    /// deliveries that waited are attempted at once, in order. Returns false (and changes
    /// nothing) when the queue already has a destination. Any thread; cheap.
    @discardableResult
    public func attach(_ destination: any Destination) -> Bool {
        let q = queue(for: destination.name)
        guard q.attach(destination) else { return false }
        feederCondition.lock()
        let running = started
        feederCondition.unlock()
        if running { startWorkers(q) }
        // A shared engine claims only for destinations it has: claim this one's work now.
        if sharing != nil { notify() }
        return true
    }

    /// For a destination that has no instance (never created): dead-letters its deliveries
    /// queued longer than its `max_age` ago, with `reason` as the message, and returns how
    /// many. The age bound ``RetryPolicy`` applies at each attempt, for a queue no worker
    /// attempts. Blocking (SQLite): call it from a dedicated thread.
    func expireWithoutDestination(_ name: String, reason: String) -> Int {
        let q = queue(for: name)
        let maxAgeMillis = Int64(Self.seconds(q.policy.maxAge) * 1000)
        let now = unixMillis()
        if sharing != nil {
            // A shared engine never claims for a destination it lacks, so nothing is in
            // memory: expire in the store what no replica holds.
            do {
                let n = try store.expireUnclaimed(destination: name, queuedBefore: now - maxAgeMillis, reason: reason, now: now)
                if n > 0 {
                    metrics.increment("cano_dead_letters_total", ["destination": name], by: Double(n))
                    logger.error("deliveries dead-lettered", metadata: ["destination": .string(name), "count": .stringConvertible(n), "reason": .string(reason)])
                }
                return n
            } catch {
                logger.error("could not expire deliveries", metadata: ["destination": .string(name), "error": .string("\(error)")])
                return 0
            }
        }
        let expired = q.removeExpired(queuedBefore: now - maxAgeMillis)
        for d in expired {
            do {
                try store.recordDead(id: d.id, attempts: d.attempts, crashes: d.crashes, cause: .failed, message: reason, now: now)
                metrics.increment("cano_dead_letters_total", ["destination": name])
                logger.error("delivery dead-lettered", metadata: [
                    "destination": .string(name), "delivery_id": .stringConvertible(d.id), "fingerprint": .string(d.fingerprint),
                    "reason": .string(reason),
                ])
            } catch {
                logger.error("could not record a dead letter", metadata: ["delivery_id": .stringConvertible(d.id), "error": .string("\(error)")])
            }
        }
        return expired.count
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

    /// Reads pending rows newer than the last load into the queues. Unshared engine only;
    /// any dedicated thread (the feeder, `start`, a committing writer through
    /// ``loadCommitted()``).
    private func load() throws(DatabaseError) {
        loadLock.lock()
        defer { loadLock.unlock() }
        let rows = try store.pending(afterID: lastLoadedID)
        guard let last = rows.last else { return }
        lastLoadedID = last.id
        enqueue(rows)
    }

    /// Hands loaded or claimed rows (in id order) to their destinations' queues, starting
    /// a queue's workers the first time it gets work.
    private func enqueue(_ rows: [PendingDelivery]) {
        var byDestination: [String: [PendingDelivery]] = [:]
        for row in rows { byDestination[row.destination, default: []].append(row) }
        for (name, rows) in byDestination {
            let q = queue(for: name)
            if started && !q.workersStarted { startWorkers(q) }
            q.add(rows)
        }
    }

    /// One feeder round on a shared engine. Every round (each NOTIFY, each poll) claims new
    /// work for the destinations this replica has. Once per third of the lease it first
    /// renews this replica's claims and drops what it lost, recovers the calls of replicas
    /// whose claims lapsed (at the first round, this replica's own previous run), releases
    /// their other claims, and queues claimed rows it does not hold in memory (a claim whose
    /// commit was never acknowledged). Renewal comes first: a round that comes late (a slow
    /// database) must not find this replica's own claims lapsed.
    private func claimRound(owner: String, leaseMillis: Int64) throws {
        let first = !recoveredAtStart
        if first || ContinuousClock.now - lastMaintenance >= .milliseconds(leaseMillis / 3) {
            let held = first ? [] : try store.renewClaims(owner: owner, leaseMillis: leaseMillis, now: unixMillis())
            try recoverInterrupted(first ? crashReport : nil, scope: .shared(owner: owner, atStart: first))
            try store.releaseLapsedClaims(owner: owner, now: unixMillis())
            if first {
                try store.releaseClaims(owner: owner)
                recoveredAtStart = true
                crashReport = nil
            }
            let queues = allQueues()
            for queue in queues { queue.retain(held) }
            let known = queues.reduce(into: Set<Int64>()) { $0.formUnion($1.knownIDs) }
            enqueue(try store.claimed(owner: owner, ids: held.subtracting(known).sorted()))
            lastMaintenance = .now
        }
        let ready = allQueues().filter { $0.destination != nil }
        guard !ready.isEmpty else { return }
        let rows = try store.claim(owner: owner, destinations: ready.map(\.name), ordered: Set(ready.filter(\.ordered).map(\.name)),
                                   leaseMillis: leaseMillis, limit: Self.claimBatch, now: unixMillis())
        enqueue(rows)
        // A full batch: more may wait; go round again without waiting for the poll.
        if rows.count == Self.claimBatch { notify() }
    }

    /// Rows claimed per round at most.
    static let claimBatch = 1000

    /// The `/readyz` line for a failed feeder round (secret-free: database errors carry no
    /// row data or credentials).
    static func healthReason(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.description }
        return SecretScrubber.shared.scrub("\(error)")
    }

    private func startWorkers(_ queue: DestinationQueue) {
        guard let destination = queue.destination, queue.markWorkersStarted() else { return }
        let log = logger.with(destination: queue.name)
        // Ordered: one delivery at a time, so one thread; more would only wait.
        for _ in 0..<(queue.ordered ? 1 : max(1, queue.policy.workers)) {
            let worker = DeliveryWorker(queue: queue, destination: destination, store: store, owner: sharing?.owner, metrics: metrics,
                                        logger: log, onQuarantine: onQuarantine)
            queue.workerStarted()
            BlockingThread.start(name: "cano-deliver-\(queue.name)") { worker.run() }
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
                if let sharing { try claimRound(owner: sharing.owner, leaseMillis: sharing.leaseMillis) } else { try load() }
                onStoreHealth(nil)
            } catch {
                logger.error("could not load pending deliveries", metadata: ["error": .string("\(error)")])
                onStoreHealth(Self.healthReason(error))
            }
            queuesLock.lock()
            let all = Array(queues.values)
            queuesLock.unlock()
            for queue in all { queue.publishGauges() }
            if sharing != nil {
                // cano_queue_depth is what this replica holds; the shared backlog is this.
                if let counts = try? store.pendingCounts() {
                    for queue in all { metrics.set("cano_store_pending_deliveries", ["destination": queue.name], to: Double(counts[queue.name] ?? 0)) }
                }
            }
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
