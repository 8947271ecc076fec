import Synchronization

/// Per-destination storm detection: counts new Issues that would each be a message of
/// their own (arrivals) in a sliding window; past the destination's threshold, a storm
/// is on and the dispatcher folds further Issues into storm summaries. The storm is over
/// once a whole window passes at or under the threshold.
///
/// Held in memory per replica: replicas sharing PostgreSQL each count the arrivals their
/// own intake sees (docs/noise-control.md says so). A restart forgets a storm; the next
/// arrivals start a new one.
final class StormGuard: Sendable {
    private struct Window {
        /// Arrival times (Unix ms), oldest first, trimmed to the window.
        var arrivals: [Int64] = []
        /// When the current storm began; nil when there is none.
        var epoch: Int64?
    }

    private let policies: [String: StormPolicy]
    private let state = Mutex<[String: Window]>([:])

    /// `policies`: the storm policy per destination name (missing: no guard).
    init(policies: [String: StormPolicy]) {
        self.policies = policies
    }

    /// Records one arrival for `destination` at `now` and returns the epoch of the storm in
    /// force after it, or nil when there is none (then the Issue is notified alone).
    func arrive(_ destination: String, now: Int64) -> Int64? {
        guard let policy = policies[destination], let threshold = policy.threshold else { return nil }
        let window = Self.millis(policy.window)
        return state.withLock { all in
            var w = all[destination] ?? Window()
            w.arrivals.removeFirst(w.arrivals.prefix { $0 <= now - window }.count)
            // The arrival that crosses the threshold is already the first one folded.
            if w.epoch == nil && w.arrivals.count >= threshold { w.epoch = now }
            w.arrivals.append(now)
            all[destination] = w
            return w.epoch
        }
    }

    /// The epoch of the storm in force at `destination`, ending it when a whole window
    /// passed at or under the threshold (the dispatcher then posts the closing summary).
    func current(_ destination: String, now: Int64) -> Int64? {
        guard let policy = policies[destination], let threshold = policy.threshold else { return nil }
        let window = Self.millis(policy.window)
        return state.withLock { all in
            guard var w = all[destination], w.epoch != nil else { return nil }
            w.arrivals.removeFirst(w.arrivals.prefix { $0 <= now - window }.count)
            if w.arrivals.count <= threshold, now - (w.epoch ?? now) >= window { w.epoch = nil }
            all[destination] = w
            return w.epoch
        }
    }

    /// The destination's storm policy, when its guard is on.
    func policy(_ destination: String) -> StormPolicy? {
        guard let p = policies[destination], p.threshold != nil else { return nil }
        return p
    }

    /// True when the destination has a storm guard (its new Issues are counted).
    func isGuarding(_ destination: String) -> Bool { policy(destination) != nil }

    /// Destinations in a storm now (for the `cano_storm_active` gauge).
    func active(now: Int64) -> Set<String> {
        Set(policies.keys.filter { current($0, now: now) != nil })
    }

    static func millis(_ d: Duration) -> Int64 {
        d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }
}
