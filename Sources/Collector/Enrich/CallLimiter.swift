import Synchronization

/// Bounds how many threads one enricher may occupy, including calls the stage abandoned
/// that are still blocked (a hung API, a stuck plugin). Without it, every new Issue would
/// start another thread that hangs the same way, and a long outage would pile up threads
/// without end. A call waits for a slot until its deadline, then gives up.
final class CallLimiter: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }
    private struct State {
        var inFlight = 0
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
    }
    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) { self.limit = max(1, limit) }

    /// Calls holding a slot now (running or abandoned but not yet returned).
    var inFlight: Int { state.withLock { $0.inFlight } }

    /// Takes a slot, waiting until `deadline` at most; false when none freed up in time.
    func acquire(until deadline: ContinuousClock.Instant) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let id: UInt64? = state.withLock { s in
                if s.inFlight < limit {
                    s.inFlight += 1
                    return nil
                }
                s.nextID += 1
                s.waiters.append(Waiter(id: s.nextID, continuation: continuation))
                return s.nextID
            }
            guard let id else {
                continuation.resume(returning: true)
                return
            }
            Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                self.expire(id)
            }
        }
    }

    /// Frees a slot, handing it straight to the oldest waiter if there is one.
    func release() {
        let next: Waiter? = state.withLock { s in
            if !s.waiters.isEmpty { return s.waiters.removeFirst() }
            s.inFlight -= 1
            return nil
        }
        next?.continuation.resume(returning: true)
    }

    private func expire(_ id: UInt64) {
        let waiter: Waiter? = state.withLock { s in
            guard let index = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return s.waiters.remove(at: index)
        }
        waiter?.continuation.resume(returning: false)
    }
}
