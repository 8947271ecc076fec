/// Every retry decision of the delivery engine, in one place: what happens after an
/// attempt, and when the next one is due.
///
/// Backoff is exponential with full jitter (as Fluent Bit's scheduler and the AWS
/// architecture blog describe it): the n-th retry waits a uniform random time in
/// `[0, min(maxBackoff, initialBackoff · 2^(n-1))]`, so a burst of failures does not come
/// back in lock step. A destination's retry-after is a floor: the wait is never shorter,
/// even past `maxBackoff` (the service said so). A delivery whose next attempt would start
/// past `maxAge`, or that used `maxAttempts` (when set), is dead-lettered. A call that
/// crashed its plugin (an isolated plugin's process died or hung) is retried like any other
/// until `quarantineAfterCrashes`: then it is a poison Issue, quarantined as a dead letter.
/// A retry-after also pauses the whole destination: ``destinationPause(after:decision:)``.
public struct RetryPolicy: Sendable {
    /// What to do after one attempt.
    public enum Decision: Sendable, Equatable {
        /// Done: record the reference.
        case delivered
        /// Try again `delay` after now.
        case retry(delay: Duration)
        /// Give up: move to the dead letters with this message.
        case deadLetter(reason: String)
        /// A poison Issue: it crashed its plugin too often. A dead letter that an
        /// Alertmanager resend does not revive (only an operator's `deliveries retry`).
        case quarantine(reason: String)
    }

    /// The destination's limits and backoff settings.
    public let policy: DeliveryPolicy

    /// A policy deciding by `policy`.
    public init(policy: DeliveryPolicy) {
        self.policy = policy
    }

    /// Decides after attempt number `attempt` (1 for the first) of a delivery queued `age`
    /// ago ended with `outcome`. `random` supplies the jitter (inject a seeded generator in
    /// tests).
    /// `crashes` counts the calls on this delivery that crashed its plugin, this one included.
    public func decide(
        after outcome: DeliveryOutcome, attempt: Int, age: Duration, crashes: Int = 0, random: inout some RandomNumberGenerator
    ) -> Decision {
        switch outcome.status {
        case .delivered:
            return .delivered
        case .permanent:
            return .deadLetter(reason: "permanent failure: \(outcome.message)")
        case .retry:
            if outcome.crashed && crashes >= policy.quarantineAfterCrashes {
                return .quarantine(reason: Self.quarantineReason(crashes: crashes, detail: outcome.message))
            }
            if let maxAttempts = policy.maxAttempts, attempt >= maxAttempts {
                return .deadLetter(reason: "gave up after \(attempt) attempts: \(outcome.message)")
            }
            var delay = backoff(retry: attempt, random: &random)
            if let floor = outcome.retryAfter, floor > delay { delay = floor }
            if age + delay > policy.maxAge {
                return .deadLetter(reason: "gave up: next attempt would be past the max age of \(policy.maxAge): \(outcome.message)")
            }
            return .retry(delay: delay)
        }
    }

    /// How long the whole destination pauses after `outcome` (docs/delivery.md,
    /// "Ordering"), nil for no pause. A pause follows a destination's "wait": a retry with a
    /// retry-after (a 429 or 503 with `Retry-After`; not a crash). Other deliveries to it
    /// would only be told the same, and in an ordered destination they must not overtake.
    /// Plain failures without one back off per delivery, as before.
    ///
    /// `decision` is what ``decide(after:attempt:age:crashes:random:)`` returned for the
    /// delivery that got it. A retry pauses for exactly its own delay — at least the
    /// retry-after, more (up to `maxBackoff`) when the same delivery is told to wait again and
    /// again — so that delivery is due when the pause ends and goes first: it keeps its
    /// place in line. A dead letter (max age, max attempts) still pauses for the retry-after:
    /// the destination said so, whatever became of the delivery (at most `maxAge`).
    public func destinationPause(after outcome: DeliveryOutcome, decision: Decision) -> Duration? {
        guard outcome.status == .retry, !outcome.crashed, let retryAfter = outcome.retryAfter, retryAfter > .zero else { return nil }
        switch decision {
        case .retry(let delay): return delay
        case .deadLetter, .quarantine, .delivered: return min(retryAfter, policy.maxAge)
        }
    }

    /// The dead-letter reason of a poison Issue: the same words whether the crash ended the
    /// collector (found at the next start) or only an isolated plugin process.
    public static func quarantineReason(crashes: Int, detail: String? = nil) -> String {
        "quarantined: the plugin crashed the process on this Issue (\(crashes) times)" + (detail.map { ": \($0)" } ?? "")
    }

    /// The jittered wait before retry number `retry` (1 for the first retry).
    public func backoff(retry: Int, random: inout some RandomNumberGenerator) -> Duration {
        let ceiling = backoffCeiling(retry: retry)
        let ceilingNanos = Self.nanoseconds(ceiling)
        guard ceilingNanos > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...ceilingNanos, using: &random))
    }

    /// The upper bound of the jitter for retry number `retry`: `initial · 2^(retry-1)`, capped.
    public func backoffCeiling(retry: Int) -> Duration {
        let exponent = max(0, min(retry - 1, 62))
        let initial = Self.nanoseconds(policy.initialBackoff)
        let cap = Self.nanoseconds(policy.maxBackoff)
        // Doubling overflows long before 62 for any sane initial value; stop at the cap.
        var value = initial
        for _ in 0..<exponent {
            if value >= cap { break }
            value = value > Int64.max / 2 ? Int64.max : value * 2
        }
        return .nanoseconds(min(value, cap))
    }

    private static func nanoseconds(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? 0 : Int64.max }
        return max(0, product + attoseconds / 1_000_000_000)
    }
}
