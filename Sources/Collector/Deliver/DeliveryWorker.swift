import Foundation
import Logging

/// One delivery thread's loop: take the next due delivery of its destination, record the
/// attempt durably, call the destination, record what `RetryPolicy` decides.
struct DeliveryWorker: Sendable {
    let queue: DestinationQueue
    let destination: any Destination
    let store: DeliveryStore
    /// On a shared engine, this replica's name on its claims: a delivery another replica
    /// took over (this one's lease lapsed) is dropped, not attempted.
    let owner: String?
    let metrics: Metrics
    let logger: Logger
    /// Called when a delivery is quarantined because it crashed its (isolated) plugin.
    let onQuarantine: @Sendable (_ destination: String, _ reason: String) -> Void

    func run() {
        defer { queue.workerExited() }
        let retry = RetryPolicy(policy: queue.policy)
        while let delivery = queue.next() {
            attempt(delivery, retry: retry)
        }
    }

    private func attempt(_ delivery: PendingDelivery, retry: RetryPolicy) {
        let labels = ["destination": queue.name]
        let loaded: (payload: [UInt8], reference: [UInt8]?)?
        do {
            loaded = try store.payloadAndReference(delivery, owner: owner)
        } catch {
            logger.error("could not read a queued delivery", metadata: ["delivery_id": .stringConvertible(delivery.id), "error": .string("\(error)")])
            backOffAfterStoreError(delivery)
            return
        }
        guard let loaded else {
            // No longer pending in the database (an operator or another process settled it),
            // or, on a shared engine, no longer this replica's.
            queue.finish(delivery)
            return
        }
        let attempt = delivery.attempts + 1
        do {
            while true {
                // A pause may have begun on another worker since `next()` (its 429 came back
                // meanwhile): nothing starts until it ends.
                guard queue.waitWhilePaused() else {
                    queue.abandon(delivery)
                    return
                }
                // Durable before the call: if the plugin takes the process down, the next start
                // counts this crash against this delivery (and quarantines a poison Issue).
                guard try store.recordAttemptStart(id: delivery.id, attempts: attempt, owner: owner, now: unixMillis()) else {
                    // Settled meanwhile (an operator), or another replica took it over.
                    logger.info("delivery no longer this process's to attempt; dropped", metadata: ["delivery_id": .stringConvertible(delivery.id)])
                    queue.finish(delivery)
                    return
                }
                // The last check before the call, with no I/O between the two: a pause that
                // began during the write is waited out without the in-flight mark (a kill
                // during the wait must not count a crash against this delivery).
                guard queue.isPaused else { break }
                try store.clearInFlight(ids: [delivery.id])
            }
        } catch {
            logger.error("could not record a delivery attempt", metadata: ["delivery_id": .stringConvertible(delivery.id), "error": .string("\(error)")])
            backOffAfterStoreError(delivery)
            return
        }
        let context = DeliveryContext(
            attempt: attempt,
            deadlineUnixMillis: unixMillis() + Int64(DeliveryEngine.seconds(queue.policy.timeout) * 1000),
            deadline: ContinuousClock.now + queue.policy.timeout,
            idempotencyKey: delivery.idempotencyKey,
            reference: loaded.reference)
        let started = ContinuousClock.now
        let outcome = CrashGuard.calling(deliveryID: delivery.id) { destination.deliver(issueJSON: loaded.payload, context: context) }
        metrics.observe("cano_delivery_duration_seconds", labels, DeliveryEngine.seconds(ContinuousClock.now - started))
        metrics.increment("cano_deliveries_total", ["destination": queue.name, "result": outcome.status.rawValue])

        let now = unixMillis()
        var random = SystemRandomNumberGenerator()
        let crashes = delivery.crashes + (outcome.crashed ? 1 : 0)
        let decision = retry.decide(after: outcome, attempt: attempt, age: .milliseconds(now - delivery.queuedMillis), crashes: crashes, random: &random)
        let meta: Logger.Metadata = [
            "delivery_id": .stringConvertible(delivery.id), "fingerprint": .string(delivery.fingerprint),
            "attempt": .stringConvertible(attempt),
        ]
        if outcome.crashed {
            metrics.increment("cano_plugin_crashes_total", labels)
        }
        // The destination said "wait": pause all of it now, before the outcome's database
        // write, so that the other workers start nothing meanwhile.
        var nextAttemptMillis: Int64?
        if case .retry(let delay) = decision {
            // Rounded up, so a retry-after is never undercut by rounding.
            nextAttemptMillis = Int64(((Date().timeIntervalSince1970 + DeliveryEngine.seconds(delay)) * 1000).rounded(.up))
        }
        if let pause = retry.destinationPause(after: outcome, decision: decision) {
            let until = nextAttemptMillis ?? Int64(((Date().timeIntervalSince1970 + DeliveryEngine.seconds(pause)) * 1000).rounded(.up))
            if queue.pause(until: until) {
                var m = meta
                m["pause_ms"] = .stringConvertible(until - now)
                m["reason"] = .string(outcome.message)
                logger.warning("destination paused: it asked to wait; no delivery to it starts until then", metadata: m)
            }
        }
        do {
            switch decision {
            case .delivered:
                // Only the first delivery of an occurrence defines its reference; later
                // ones (the resolve) keep what the destination returned for the first.
                let reference = loaded.reference == nil ? outcome.reference : nil
                guard try store.recordDelivered(id: delivery.id, attempts: attempt, reference: reference, message: outcome.message, owner: owner, now: now)
                else { return lostClaim(delivery, outcome: "delivered") }
                metrics.observe("cano_delivery_latency_seconds", labels, max(0, Double(now - delivery.queuedMillis) / 1000))
                logger.debug("delivered", metadata: meta)
                queue.finish(delivery)
            case .retry(let delay):
                var next = delivery
                next.attempts = attempt
                next.crashes = crashes
                next.nextAttemptMillis = nextAttemptMillis ?? now + Int64(DeliveryEngine.seconds(delay) * 1000)
                guard try store.recordRetry(id: delivery.id, attempts: attempt, crashes: crashes, nextAttemptMillis: next.nextAttemptMillis,
                                            message: outcome.message, owner: owner, now: now)
                else { return lostClaim(delivery, outcome: "retry") }
                metrics.increment("cano_delivery_retries_total", labels)
                var m = meta
                m["retry_in_ms"] = .stringConvertible(next.nextAttemptMillis - now)
                m["reason"] = .string(outcome.message)
                logger.warning("delivery failed; will retry", metadata: m)
                queue.reschedule(next)
            case .deadLetter(let reason):
                guard try store.recordDead(id: delivery.id, attempts: attempt, crashes: crashes, cause: .failed, message: reason, owner: owner, now: now)
                else { return lostClaim(delivery, outcome: "dead letter") }
                metrics.increment("cano_dead_letters_total", labels)
                var m = meta
                m["reason"] = .string(reason)
                logger.error("delivery dead-lettered", metadata: m)
                queue.finish(delivery)
            case .quarantine(let reason):
                guard try store.recordDead(id: delivery.id, attempts: attempt, crashes: crashes, cause: .quarantined, message: reason, owner: owner, now: now)
                else { return lostClaim(delivery, outcome: "quarantine") }
                metrics.increment("cano_dead_letters_total", labels)
                metrics.increment("cano_deliveries_quarantined_total", labels)
                var m = meta
                m["reason"] = .string(reason)
                logger.error("delivery quarantined: it crashed its plugin repeatedly", metadata: m)
                onQuarantine(queue.name, reason)
                queue.finish(delivery)
            }
        } catch {
            logger.error("could not record a delivery outcome", metadata: ["delivery_id": .stringConvertible(delivery.id), "error": .string("\(error)")])
            backOffAfterStoreError(delivery)
        }
    }

    /// The outcome was not recorded because the delivery was no longer this process's: on a
    /// shared engine another replica took it over after this one's lease lapsed (a database
    /// outage longer than `claim_lease`). That replica owns the row now; its own attempt may
    /// repeat this one (at-least-once), but this stale outcome must not overwrite its state.
    private func lostClaim(_ delivery: PendingDelivery, outcome: String) {
        logger.warning("another replica took this delivery over during the call; its outcome is not recorded", metadata: [
            "delivery_id": .stringConvertible(delivery.id), "fingerprint": .string(delivery.fingerprint), "outcome": .string(outcome),
        ])
        queue.finish(delivery)
    }

    /// The database failed or was closed. The row is still pending there, so it is safe
    /// to try again later (at-least-once); when stopping, leave it for the next start.
    private func backOffAfterStoreError(_ delivery: PendingDelivery) {
        if queue.isStopping {
            queue.abandon(delivery)
            return
        }
        var later = delivery
        later.nextAttemptMillis = unixMillis() + 1000
        queue.reschedule(later)
    }
}
