import Foundation

/// One destination's in-memory schedule over its pending rows: per-fingerprint FIFO
/// lists whose heads sit in a min-heap by due time. Workers sleep on the condition until
/// new work arrives or the earliest head is due (no polling).
///
/// Two rules on top (docs/delivery.md, "Ordering"):
/// - **Pause**: when the destination says "wait" (a retry-after), ``pause(until:)`` holds
///   every worker until then, and the waiting heads are due at the pause's end, in id
///   order, so the delivery that was told to wait keeps its place in line.
/// - **Ordered** (`DeliveryPolicy.ordered`): one delivery at a time, strictly in id order
///   across fingerprints; a head that waits for its retry holds the line (head-of-line),
///   until it is delivered or dead-lettered.
final class DestinationQueue: @unchecked Sendable {
    // @unchecked: every var below is guarded by `condition`.

    private struct Due: Comparable {
        var at: Int64
        var id: Int64
        var fingerprint: String
        static func < (a: Due, b: Due) -> Bool { a.at != b.at ? a.at < b.at : a.id < b.id }
    }

    /// Ordered mode's line: every held delivery by id. Entries of deliveries that left
    /// (delivered, dead, dropped) are skipped when they reach the top.
    private struct Queued: Comparable {
        var id: Int64
        var fingerprint: String
        static func < (a: Queued, b: Queued) -> Bool { a.id < b.id }
    }

    let name: String
    let policy: DeliveryPolicy
    /// `policy.ordered`, nil read as false: the engine is given effective policies
    /// (`DestinationConfig.effectiveDelivery`), and a caller that built its own gets today's
    /// concurrent delivery.
    let ordered: Bool
    /// Set at creation, or once later by ``attach(_:)`` (guarded by `condition`).
    private var attached: (any Destination)?
    var destination: (any Destination)? { condition.withLock { attached } }
    private let metrics: Metrics
    private let condition = NSCondition()
    private var byFingerprint: [String: [PendingDelivery]] = [:]
    private var heap = MinHeap<Due>()
    private var line = MinHeap<Queued>()
    /// Unix ms before which no delivery starts (0: not paused).
    private var pausedUntil: Int64 = 0
    private var inFlight: Set<Int64> = []
    private var known: Set<Int64> = []
    private var stopping = false
    private var workers = 0
    private var workersLaunched = false

    init(name: String, policy: DeliveryPolicy, destination: (any Destination)?, metrics: Metrics) {
        self.name = name
        self.policy = policy
        self.ordered = policy.ordered ?? false
        self.attached = destination
        self.metrics = metrics
    }

    /// Gives the queue its destination when it had none (created after the start). False
    /// when it already had one.
    func attach(_ destination: any Destination) -> Bool {
        condition.withLock {
            guard attached == nil else { return false }
            attached = destination
            return true
        }
    }

    /// For a queue without a destination only: removes (in memory) and returns every
    /// delivery queued at or before `queuedBefore` (Unix ms), so the caller dead-letters it.
    /// The next delivery of each fingerprint becomes its head. Nothing while a destination
    /// is attached: then ``RetryPolicy`` bounds the age at each attempt.
    func removeExpired(queuedBefore: Int64) -> [PendingDelivery] {
        condition.lock()
        guard attached == nil else { condition.unlock(); return [] }
        let removed = removeIdle { $0.queuedMillis <= queuedBefore }
        condition.unlock()
        return removed
    }

    /// Shared engine: forgets every delivery not in `held` (this replica's claims) and not
    /// in flight; another replica took it over after this one's lease lapsed.
    func retain(_ held: Set<Int64>) {
        condition.withLock { _ = removeIdle { !held.contains($0.id) } }
    }

    /// Removes the deliveries not in flight that match `drop`; the next delivery of each
    /// fingerprint becomes its head. Caller holds `condition`.
    private func removeIdle(where drop: (PendingDelivery) -> Bool) -> [PendingDelivery] {
        var removed: [PendingDelivery] = []
        for (fingerprint, list) in byFingerprint {
            let gone = list.filter { drop($0) && !inFlight.contains($0.id) }
            guard !gone.isEmpty else { continue }
            removed += gone
            let keep = list.filter { !(drop($0) && !inFlight.contains($0.id)) }
            byFingerprint[fingerprint] = keep.isEmpty ? nil : keep
            if let head = keep.first { schedule(head) }
        }
        guard !removed.isEmpty else { return [] }
        for d in removed { known.remove(d.id) }
        // Ordered: the next in line may be due now (its entry in `line` is already there).
        if ordered { condition.broadcast() }
        metrics.set("cano_queue_depth", ["destination": name], to: Double(known.count))
        return removed
    }

    /// The ids of the pending deliveries held (including those in flight).
    var knownIDs: Set<Int64> { condition.withLock { known } }

    /// Pending deliveries held (including those in flight).
    var depth: Int { condition.withLock { known.count } }
    var inFlightCount: Int { condition.withLock { inFlight.count } }
    /// The deliveries now in a destination call.
    var inFlightIDs: [Int64] { condition.withLock { Array(inFlight) } }
    var workersStarted: Bool { condition.withLock { workersLaunched } }

    /// True the first time: the caller starts the threads.
    func markWorkersStarted() -> Bool {
        condition.withLock {
            defer { workersLaunched = true }
            return !workersLaunched
        }
    }

    func workerStarted() { condition.withLock { workers += 1 } }

    /// Adds rows (normally in id order; an older one, a claim handed back, takes its place
    /// by id). A row becomes eligible when it heads its fingerprint (ordered: the line).
    func add(_ rows: [PendingDelivery]) {
        condition.lock()
        var woke = 0
        for row in rows where known.insert(row.id).inserted {
            var list = byFingerprint[row.fingerprint] ?? []
            let index = list.lastIndex { $0.id < row.id }.map { $0 + 1 } ?? 0
            list.insert(row, at: index)
            byFingerprint[row.fingerprint] = list
            if ordered {
                line.push(Queued(id: row.id, fingerprint: row.fingerprint))
                woke += 1
            } else if index == 0 {
                // A new head (a stale entry of the old head, if any, is skipped in `next()`).
                schedule(row)
                woke += 1
            }
        }
        if woke > 0 { condition.broadcast() }
        let depth = known.count
        condition.unlock()
        metrics.set("cano_queue_depth", ["destination": name], to: Double(depth))
    }

    /// Puts a fingerprint head in the due heap (unordered mode; ordered mode reads `line`).
    /// While paused, due no earlier than the pause's end: then the heads waiting for it
    /// start in id order. Caller holds `condition`.
    private func schedule(_ head: PendingDelivery) {
        guard !ordered else { return }
        heap.push(Due(at: max(head.nextAttemptMillis, pausedUntil), id: head.id, fingerprint: head.fingerprint))
    }

    /// Blocks until a delivery is due and returns it (marked in flight), or nil when stopping.
    func next() -> PendingDelivery? {
        condition.lock()
        defer { condition.unlock() }
        while !stopping {
            if waitForPause() { continue }
            if ordered {
                guard let head = nextInLine() else { continue }
                inFlight.insert(head.id)
                metrics.set("cano_deliveries_in_flight", ["destination": name], to: Double(inFlight.count))
                return head
            }
            guard let top = heap.min else {
                condition.wait()
                continue
            }
            // A heap entry is stale if its row is no longer the head of its fingerprint.
            guard let head = byFingerprint[top.fingerprint]?.first, head.id == top.id, !inFlight.contains(head.id) else {
                heap.popMin()
                continue
            }
            let now = unixMillis()
            if top.at > now {
                _ = condition.wait(until: Date(timeIntervalSince1970: Double(top.at) / 1000))
                continue
            }
            heap.popMin()
            inFlight.insert(head.id)
            metrics.set("cano_deliveries_in_flight", ["destination": name], to: Double(inFlight.count))
            return head
        }
        return nil
    }

    /// Ordered mode, within `next()`: the oldest delivery held, once nothing is in flight
    /// and it is due; nil after a wait (the caller looks again). Its entry stays in `line`
    /// until it leaves the queue, so a retry keeps its place. Caller holds `condition`.
    private func nextInLine() -> PendingDelivery? {
        // One at a time: the next delivery starts after the previous one's outcome.
        guard inFlight.isEmpty else {
            condition.wait()
            return nil
        }
        guard let top = line.min else {
            condition.wait()
            return nil
        }
        guard known.contains(top.id), let head = byFingerprint[top.fingerprint]?.first(where: { $0.id == top.id }) else {
            line.popMin()
            return nil
        }
        // Head-of-line: nothing behind it goes while it waits for its retry.
        if head.nextAttemptMillis > unixMillis() {
            _ = condition.wait(until: Date(timeIntervalSince1970: Double(head.nextAttemptMillis) / 1000))
            return nil
        }
        return head
    }

    /// Within `next()`: while paused, waits (until the pause ends, or a wake-up) and returns
    /// true; once a pause is over, clears it. Caller holds `condition`.
    private func waitForPause() -> Bool {
        guard pausedUntil != 0 else { return false }
        if pausedUntil > unixMillis() {
            _ = condition.wait(until: Date(timeIntervalSince1970: Double(pausedUntil) / 1000))
            return true
        }
        pausedUntil = 0
        metrics.set("cano_destination_paused_seconds", ["destination": name], to: 0)
        return false
    }

    /// The destination said "wait" (a retry-after): no delivery starts before `until`
    /// (Unix ms); a later `until` extends a running pause, an earlier one changes nothing.
    /// The heads already waiting become due at the pause's end (ordered by id there), so
    /// the delivery that was told to wait — due then too — goes first. Calls already under
    /// way finish. Returns true when this began a pause (none was running): the caller logs
    /// one line per pause.
    @discardableResult
    func pause(until: Int64) -> Bool {
        condition.lock()
        let began = pausedUntil <= unixMillis()
        if until > pausedUntil {
            pausedUntil = until
            if !ordered {
                var clamped = MinHeap<Due>()
                while var due = heap.popMin() {
                    due.at = max(due.at, until)
                    clamped.push(due)
                }
                heap = clamped
            }
        }
        let remaining = max(0, Double(pausedUntil - unixMillis()) / 1000)
        condition.unlock()
        metrics.set("cano_destination_paused_seconds", ["destination": name], to: remaining)
        if began { metrics.increment("cano_destination_pauses_total", ["destination": name]) }
        return began
    }

    /// Blocks while the destination is paused; false when the queue is stopping. A worker
    /// calls it right before its destination call: a pause can begin on another thread
    /// between `next()` and the call (that thread's 429 came back meanwhile).
    func waitWhilePaused() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !stopping && pausedUntil > unixMillis() {
            _ = condition.wait(until: Date(timeIntervalSince1970: Double(pausedUntil) / 1000))
        }
        return !stopping
    }

    /// True while the destination is paused.
    var isPaused: Bool { condition.withLock { pausedUntil > unixMillis() } }

    /// The attempt ended with the delivery delivered or dead-lettered: its fingerprint's
    /// next delivery (if any) becomes eligible (ordered: the next in line).
    func finish(_ delivery: PendingDelivery) {
        condition.lock()
        inFlight.remove(delivery.id)
        metrics.set("cano_deliveries_in_flight", ["destination": name], to: Double(inFlight.count))
        known.remove(delivery.id)
        if var list = byFingerprint[delivery.fingerprint] {
            list.removeAll { $0.id == delivery.id }
            if let head = list.first {
                byFingerprint[delivery.fingerprint] = list
                schedule(head)
                condition.signal()
            } else {
                byFingerprint[delivery.fingerprint] = nil
            }
        }
        // Ordered: whatever is next in line (any fingerprint) may go now.
        if ordered { condition.broadcast() }
        let depth = known.count
        condition.unlock()
        metrics.set("cano_queue_depth", ["destination": name], to: Double(depth))
    }

    /// The attempt will be retried: it stays at the head of its fingerprint, due later.
    func reschedule(_ delivery: PendingDelivery) {
        condition.lock()
        inFlight.remove(delivery.id)
        metrics.set("cano_deliveries_in_flight", ["destination": name], to: Double(inFlight.count))
        if var list = byFingerprint[delivery.fingerprint], let index = list.firstIndex(where: { $0.id == delivery.id }) {
            list[index] = delivery
            byFingerprint[delivery.fingerprint] = list
            schedule(delivery)
            condition.signal()
        }
        if ordered { condition.broadcast() }
        condition.unlock()
    }

    /// The attempt was abandoned because the engine is stopping: leave the row as it is
    /// in the database (pending) and forget it in memory.
    func abandon(_ delivery: PendingDelivery) {
        condition.withLock {
            _ = inFlight.remove(delivery.id)
            condition.broadcast()
        }
    }

    /// Updates the depth and oldest-age gauges.
    func publishGauges() {
        let (depth, oldest, paused) = condition.withLock { () -> (Int, Int64?, Int64) in
            var oldest: Int64?
            for list in byFingerprint.values {
                for d in list where oldest == nil || d.queuedMillis < oldest! { oldest = d.queuedMillis }
            }
            return (known.count, oldest, pausedUntil)
        }
        metrics.set("cano_destination_paused_seconds", ["destination": name], to: max(0, Double(paused - unixMillis()) / 1000))
        metrics.set("cano_queue_depth", ["destination": name], to: Double(depth))
        let age = oldest.map { max(0, Double(unixMillis() - $0) / 1000) } ?? 0
        metrics.set("cano_queue_oldest_age_seconds", ["destination": name], to: age)
    }

    /// Wakes every worker and makes `next()` return nil.
    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
    }

    var isStopping: Bool { condition.withLock { stopping } }

    func workerExited() {
        condition.withLock {
            workers -= 1
            condition.broadcast()
        }
    }

    /// Waits until every worker thread has exited; false if `deadline` came first.
    func waitForWorkers(until deadline: Date) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while workers > 0 {
            if !condition.wait(until: deadline) { return workers == 0 }
        }
        return true
    }
}
