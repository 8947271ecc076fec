import Foundation

/// One destination's in-memory schedule over its pending rows: per-fingerprint FIFO
/// lists whose heads sit in a min-heap by due time. Workers sleep on the condition until
/// new work arrives or the earliest head is due (no polling).
final class DestinationQueue: @unchecked Sendable {
    // @unchecked: every var below is guarded by `condition`.

    private struct Due: Comparable {
        var at: Int64
        var id: Int64
        var fingerprint: String
        static func < (a: Due, b: Due) -> Bool { a.at != b.at ? a.at < b.at : a.id < b.id }
    }

    let name: String
    let policy: DeliveryPolicy
    /// Set at creation, or once later by ``attach(_:)`` (guarded by `condition`).
    private var attached: (any Destination)?
    var destination: (any Destination)? { condition.withLock { attached } }
    private let metrics: Metrics
    private let condition = NSCondition()
    private var byFingerprint: [String: [PendingDelivery]] = [:]
    private var heap = MinHeap<Due>()
    private var inFlight: Set<Int64> = []
    private var known: Set<Int64> = []
    private var stopping = false
    private var workers = 0
    private var workersLaunched = false

    init(name: String, policy: DeliveryPolicy, destination: (any Destination)?, metrics: Metrics) {
        self.name = name
        self.policy = policy
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
            if let head = keep.first { heap.push(Due(at: head.nextAttemptMillis, id: head.id, fingerprint: head.fingerprint)) }
        }
        guard !removed.isEmpty else { return [] }
        for d in removed { known.remove(d.id) }
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

    /// Appends rows (in id order). A row becomes eligible when it heads its fingerprint.
    func add(_ rows: [PendingDelivery]) {
        condition.lock()
        var woke = 0
        for row in rows where known.insert(row.id).inserted {
            var list = byFingerprint[row.fingerprint] ?? []
            list.append(row)
            byFingerprint[row.fingerprint] = list
            if list.count == 1 {
                heap.push(Due(at: row.nextAttemptMillis, id: row.id, fingerprint: row.fingerprint))
                woke += 1
            }
        }
        if woke > 0 { condition.broadcast() }
        let depth = known.count
        condition.unlock()
        metrics.set("cano_queue_depth", ["destination": name], to: Double(depth))
    }

    /// Blocks until a delivery is due and returns it (marked in flight), or nil when stopping.
    func next() -> PendingDelivery? {
        condition.lock()
        defer { condition.unlock() }
        while !stopping {
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

    /// The attempt ended with the delivery delivered or dead-lettered: its fingerprint's
    /// next delivery (if any) becomes eligible.
    func finish(_ delivery: PendingDelivery) {
        condition.lock()
        inFlight.remove(delivery.id)
        metrics.set("cano_deliveries_in_flight", ["destination": name], to: Double(inFlight.count))
        known.remove(delivery.id)
        if var list = byFingerprint[delivery.fingerprint] {
            list.removeAll { $0.id == delivery.id }
            if let head = list.first {
                byFingerprint[delivery.fingerprint] = list
                heap.push(Due(at: head.nextAttemptMillis, id: head.id, fingerprint: head.fingerprint))
                condition.signal()
            } else {
                byFingerprint[delivery.fingerprint] = nil
            }
        }
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
            heap.push(Due(at: delivery.nextAttemptMillis, id: delivery.id, fingerprint: delivery.fingerprint))
            condition.signal()
        }
        condition.unlock()
    }

    /// The attempt was abandoned because the engine is stopping: leave the row as it is
    /// in the database (pending) and forget it in memory.
    func abandon(_ delivery: PendingDelivery) {
        condition.withLock { _ = inFlight.remove(delivery.id) }
    }

    /// Updates the depth and oldest-age gauges.
    func publishGauges() {
        let (depth, oldest) = condition.withLock { () -> (Int, Int64?) in
            var oldest: Int64?
            for list in byFingerprint.values {
                for d in list where oldest == nil || d.queuedMillis < oldest! { oldest = d.queuedMillis }
            }
            return (known.count, oldest)
        }
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
