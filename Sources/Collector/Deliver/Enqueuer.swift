import Logging

/// Queues new deliveries inside an intake or dispatch transaction, with the rules every
/// writer of the `deliveries` table shares: dedup against the same alert occurrence, the
/// revive rule for dead letters, and `queue_limit` (overflow becomes a dead letter of that
/// destination only). It tallies what it did per destination for ``publish(metrics:logger:)``,
/// called once the transaction committed.
struct Enqueuer {
    /// What happened to one delivery.
    enum Outcome: Equatable {
        case queued, duplicate, overflow
    }

    private let policies: [String: DeliveryPolicy]
    private var depth: [String: Int] = [:]
    private(set) var queuedBy: [String: Int] = [:]
    private(set) var duplicatesBy: [String: Int] = [:]
    private(set) var overflowBy: [String: Int] = [:]
    private(set) var revivedBy: [String: Int] = [:]

    init(policies: [String: DeliveryPolicy]) {
        self.policies = policies
    }

    /// True when something was queued (engines must be woken after the commit).
    var queuedAny: Bool { !queuedBy.isEmpty }

    /// Queues `d`. With `dedup`, an existing row for the same occurrence (destination,
    /// fingerprint, status, start) makes it a duplicate, or is revived when it is a dead
    /// letter (docs/delivery.md). Without, it is always a new notification (group updates,
    /// repeats: the dispatcher decided it must be sent).
    /// `known`: the dedup lookup when the caller already made it.
    mutating func enqueue(_ c: any SQLConnection, _ d: NewDelivery, now: Int64, dedup: Bool = true,
                          known: DeliveryStore.ExistingRow?? = nil) throws(DatabaseError) -> Outcome {
        let current: Int
        if let cached = depth[d.destination] { current = cached } else { current = try DeliveryStore.pendingCount(c, destination: d.destination) }
        let limit = (policies[d.destination] ?? DeliveryPolicy()).queueLimit
        let found: DeliveryStore.ExistingRow?
        if let known {
            found = known
        } else if dedup {
            found = try DeliveryStore.existing(c, d)
        } else {
            found = nil
        }
        if let existing = found {
            // The revive rule (docs/delivery.md): a resend brings a dead letter back,
            // unless it is a quarantined poison Issue or its queue is full.
            if existing.state == .dead, existing.cause != .quarantined, current < limit,
               try DeliveryStore.revive(c, deadID: existing.id, with: d, now: now) {
                depth[d.destination] = current + 1
                revivedBy[d.destination, default: 0] += 1
                queuedBy[d.destination, default: 0] += 1
                return .queued
            }
            duplicatesBy[d.destination, default: 0] += 1
            if existing.state == .delivered { try DeliveryStore.touch(c, id: existing.id, now: now) }
            return .duplicate
        }
        if current >= limit {
            // One destination's backlog must not refuse alerts bound for the others (a
            // 503 would), nor lose this one: it is kept as a dead letter, which a resend
            // or `deliveries retry` brings back.
            let message = "queue full: destination \(d.destination) had \(current) queued deliveries (queue_limit \(limit))"
            try DeliveryStore.insert(c, d, now: now, deadLetter: (.overflow, message))
            overflowBy[d.destination, default: 0] += 1
            return .overflow
        }
        try DeliveryStore.insert(c, d, now: now)
        depth[d.destination] = current + 1
        queuedBy[d.destination, default: 0] += 1
        return .queued
    }

    /// Describes the counters it updates (once per process).
    static func describe(_ metrics: Metrics) {
        metrics.describe("cano_deliveries_queued_total", type: "counter", help: "Deliveries recorded in the outbox, by destination.")
        metrics.describe("cano_deliveries_duplicate_total", type: "counter", help: "Deliveries not queued because the same alert was already queued or delivered.")
        metrics.describe("cano_queue_overflow_total", type: "counter", help: "Deliveries dead-lettered on arrival because their destination's queue was full, by destination.")
        metrics.describe("cano_dead_letters_revived_total", type: "counter", help: "Dead letters queued again because the same alert was sent again, by destination.")
    }

    /// Counts and logs what was committed.
    func publish(metrics: Metrics, logger: Logger) {
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
    }
}
