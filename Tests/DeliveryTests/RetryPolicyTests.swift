import Collector
import Testing

/// A deterministic generator (SplitMix64) so jitter is reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct RetryPolicyTests {
    func policy(maxAttempts: Int = 5, maxAge: Duration = .seconds(3600), initial: Duration = .seconds(1), cap: Duration = .seconds(60)) -> RetryPolicy {
        var p = DeliveryPolicy()
        p.maxAttempts = maxAttempts
        p.maxAge = maxAge
        p.initialBackoff = initial
        p.maxBackoff = cap
        return RetryPolicy(policy: p)
    }

    let retry = DeliveryOutcome(.retry, message: "HTTP 503")

    @Test func ceilingDoublesAndCaps() {
        let p = policy(initial: .seconds(1), cap: .seconds(10))
        #expect((1...6).map { p.backoffCeiling(retry: $0) } == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(10), .seconds(10)])
        #expect(p.backoffCeiling(retry: 10_000) == .seconds(10))
    }

    @Test func fullJitterStaysWithinZeroAndCeiling() {
        let p = policy(initial: .milliseconds(100), cap: .seconds(5))
        var random = SeededGenerator(state: 42)
        var seen: [Duration] = []
        for retry in 1...8 {
            for _ in 0..<200 {
                let d = p.backoff(retry: retry, random: &random)
                #expect(d >= .zero && d <= p.backoffCeiling(retry: retry))
                seen.append(d)
            }
        }
        // Jitter really spreads: not all equal, and some below half the ceiling.
        #expect(Set(seen).count > 1000)
        #expect(seen.contains { $0 < p.backoffCeiling(retry: 8) / 2 })
    }

    @Test func sameSeedSameDecisions() {
        let p = policy()
        var a = SeededGenerator(state: 7)
        var b = SeededGenerator(state: 7)
        let first = (1...4).map { p.decide(after: retry, attempt: $0, age: .zero, random: &a) }
        let second = (1...4).map { p.decide(after: retry, attempt: $0, age: .zero, random: &b) }
        #expect(first == second)
    }

    @Test func retryAfterIsAFloorEvenPastTheCap() {
        let p = policy(initial: .milliseconds(10), cap: .milliseconds(50))
        var random = SeededGenerator(state: 1)
        for attempt in 1...4 {
            let outcome = DeliveryOutcome(.retry, message: "HTTP 429", retryAfter: .seconds(30))
            #expect(p.decide(after: outcome, attempt: attempt, age: .zero, random: &random) == .retry(delay: .seconds(30)))
        }
        // A retry-after shorter than the drawn backoff does not shorten it.
        let short = DeliveryOutcome(.retry, message: "HTTP 429", retryAfter: .milliseconds(1))
        for _ in 0..<100 {
            var copy = random
            let drawn = p.backoff(retry: 3, random: &copy)
            guard case .retry(let delay) = p.decide(after: short, attempt: 3, age: .zero, random: &random) else {
                Issue.record("expected a retry")
                return
            }
            #expect(delay == max(drawn, .milliseconds(1)))
        }
    }

    @Test func maxAttemptsDeadLetters() {
        let p = policy(maxAttempts: 3)
        var random = SeededGenerator(state: 3)
        guard case .retry = p.decide(after: retry, attempt: 2, age: .zero, random: &random) else {
            Issue.record("attempt 2 of 3 should retry")
            return
        }
        #expect(p.decide(after: retry, attempt: 3, age: .zero, random: &random) == .deadLetter(reason: "gave up after 3 attempts: HTTP 503"))
    }

    @Test func maxAgeDeadLettersWhenTheNextAttemptWouldBeTooLate() {
        let p = policy(maxAge: .seconds(60), initial: .seconds(1), cap: .seconds(1))
        var random = SeededGenerator(state: 5)
        guard case .retry = p.decide(after: retry, attempt: 1, age: .seconds(10), random: &random) else {
            Issue.record("young delivery should retry")
            return
        }
        let late = DeliveryOutcome(.retry, message: "HTTP 429", retryAfter: .seconds(120))
        guard case .deadLetter(let reason) = p.decide(after: late, attempt: 1, age: .seconds(10), random: &random) else {
            Issue.record("a retry-after past max age should dead-letter")
            return
        }
        #expect(reason.contains("max age"))
        guard case .deadLetter = p.decide(after: retry, attempt: 1, age: .seconds(61), random: &random) else {
            Issue.record("an old delivery should dead-letter")
            return
        }
    }

    @Test func permanentAndDelivered() {
        let p = policy()
        var random = SeededGenerator(state: 9)
        #expect(p.decide(after: DeliveryOutcome(.permanent, message: "HTTP 400: bad"), attempt: 1, age: .zero, random: &random)
            == .deadLetter(reason: "permanent failure: HTTP 400: bad"))
        #expect(p.decide(after: DeliveryOutcome(.delivered, message: "ok"), attempt: 7, age: .seconds(1_000_000), random: &random) == .delivered)
    }

    /// Issue #19: with the default settings, 2,000 deliveries through an outage of 3 and of
    /// 30 minutes (a simulated clock: the policy is pure) are never dead-lettered, and each
    /// is tried again within a minute of the destination coming back.
    @Test(arguments: [180, 1800])
    func defaultsSurviveAnOutageAndNoticeTheRecoveryWithinAMinute(outageSeconds: Int) {
        let policy = RetryPolicy(policy: DeliveryPolicy())
        let outageEnd = Duration.seconds(outageSeconds)
        var random = SeededGenerator(state: UInt64(outageSeconds))
        var deadLetters = 0
        var slowestRecovery = Duration.zero
        for queuedAt in 0..<2000 {
            // Queued spread over the outage's first minute, so every delivery lives through it.
            var age = Duration.zero
            let start = Duration.milliseconds(queuedAt * 30)
            var attempt = 1
            while start + age < outageEnd {
                switch policy.decide(after: retry, attempt: attempt, age: age, random: &random) {
                case .retry(let delay):
                    age += delay
                    attempt += 1
                case .deadLetter, .quarantine, .delivered:
                    deadLetters += 1
                    age = outageEnd  // stop this one
                }
            }
            slowestRecovery = max(slowestRecovery, start + age - outageEnd)
        }
        #expect(deadLetters == 0)
        #expect(slowestRecovery <= .seconds(60))
    }

    @Test func aCrashedCallIsRetriedUntilTheQuarantineLimit() {
        var p = DeliveryPolicy()
        p.quarantineAfterCrashes = 2
        let policy = RetryPolicy(policy: p)
        var random = SeededGenerator(state: 7)
        let crashed = DeliveryOutcome(.retry, message: "signal 11", crashed: true)
        guard case .retry = policy.decide(after: crashed, attempt: 1, age: .zero, crashes: 1, random: &random) else {
            Issue.record("one crash must be retried")
            return
        }
        #expect(policy.decide(after: crashed, attempt: 2, age: .zero, crashes: 2, random: &random)
            == .quarantine(reason: "quarantined: the plugin crashed the process on this Issue (2 times): signal 11"))
        // A plain retry is never quarantined, whatever the count.
        guard case .retry = policy.decide(after: retry, attempt: 3, age: .zero, crashes: 2, random: &random) else {
            Issue.record("a retry without a crash is not a quarantine")
            return
        }
    }
}
