#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Wall-clock time and blocking waits, injectable so tests check pacing without sleeping.
public protocol SlackClock: Sendable {
    /// The current time (deadlines are wall-clock, as the ABI carries them).
    func now() -> Date
    /// Blocks the calling (host delivery) thread until `date`.
    func sleep(until date: Date)
}

/// The real clock.
public struct SystemSlackClock: SlackClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(until date: Date) {
        // usleep may return early when a signal arrives, so check the time again.
        while case let seconds = date.timeIntervalSinceNow, seconds > 0 {
            usleep(useconds_t(min(seconds, 60) * 1_000_000) + 1)
        }
    }
}

/// Per-channel message pacing: Slack allows about one `chat.postMessage` per second per
/// channel and answers bursts with 429s.
///
/// Why block instead of always returning `.retry(after:)`: a retry costs one of the
/// destination's limited attempts and sends the Issue back through the host's backoff, so
/// a burst of 20 alerts to one channel would be spread over minutes and could be
/// dead-lettered. Waiting a second on the host's delivery thread keeps order and loses
/// nothing. We only wait while the slot is near (``maxBlockingWait``) and the wait leaves
/// time for the call before the deadline; otherwise (after a 429 with a long Retry-After,
/// say) we return `.retry(after:)` with the exact time the slot opens.
final class Pacer: Sendable {
    /// Longest wait done by blocking; longer waits become `.retry(after:)`.
    static let maxBlockingWait: TimeInterval = 5
    /// Time kept free after a wait for the HTTP call itself.
    static let callReserve: TimeInterval = 2

    let interval: TimeInterval?
    private let nextSlot = Mutex<[String: Date]>([:])

    init(interval: Duration?) {
        self.interval = interval.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
    }

    /// What to do before posting to `channel`.
    enum Decision: Equatable {
        /// Post now (after the wait, if any, has been done by the caller).
        case go(waitUntil: Date?)
        /// Give the Issue back: the channel's next slot is too far away.
        case retry(after: TimeInterval)
    }

    func decide(channel: String, now: Date, deadline: Date) -> Decision {
        guard let slot = nextSlot.withLock({ $0[channel] }), slot > now else { return .go(waitUntil: nil) }
        let wait = slot.timeIntervalSince(now)
        if wait <= Self.maxBlockingWait, slot.addingTimeInterval(Self.callReserve) <= deadline { return .go(waitUntil: slot) }
        return .retry(after: wait)
    }

    /// Records a post to `channel` at `time`: the next one may go one interval later.
    func sent(channel: String, at time: Date) {
        guard let interval else { return }
        nextSlot.withLock { slots in
            let next = time.addingTimeInterval(interval)
            if (slots[channel] ?? .distantPast) < next { slots[channel] = next }
        }
    }

    /// Slack rate-limited `channel`: nothing goes there before `until`, paced or not.
    func blocked(channel: String, until: Date) {
        nextSlot.withLock { slots in
            if (slots[channel] ?? .distantPast) < until { slots[channel] = until }
        }
    }
}
