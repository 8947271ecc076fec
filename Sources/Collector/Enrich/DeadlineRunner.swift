import CanoSDK
import Synchronization


/// Runs blocking work on a dedicated OS thread and stops waiting for it at a deadline.
///
/// A hung Kubernetes GET or plugin call cannot be interrupted, only abandoned: the caller
/// gets `nil` at the deadline and goes on; the thread runs to completion on its own later
/// and its result is dropped. This is what keeps a slow enricher from delaying delivery.
enum DeadlineRunner {
    /// The value of `body`, or nil when it did not finish by `deadline`.
    static func run<T: Sendable>(until deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () -> T) async -> T? {
        let once = ResumeOnce<T?>()
        return await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            once.install(continuation)
            let timer = Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                once.resume(nil)
            }
            once.setTimer(timer)
            BlockingThread.start(name: "cano-enricher") { once.resume(body()) }
        }
    }
}

/// Resumes a continuation exactly once, from whichever side (the work or the timer) comes
/// first, and cancels the timer so it does not linger once the work is done.
private final class ResumeOnce<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, Never>?
        var timer: Task<Void, Never>?
        var resumed = false
    }
    private let state = Mutex(State())

    func install(_ continuation: CheckedContinuation<T, Never>) {
        state.withLock { $0.continuation = continuation }
    }

    func setTimer(_ timer: Task<Void, Never>) {
        let alreadyResumed = state.withLock { s in
            if !s.resumed { s.timer = timer }
            return s.resumed
        }
        if alreadyResumed { timer.cancel() }
    }

    func resume(_ value: T) {
        let taken = state.withLock { s -> (CheckedContinuation<T, Never>?, Task<Void, Never>?) in
            guard !s.resumed else { return (nil, nil) }
            s.resumed = true
            defer { s.continuation = nil; s.timer = nil }
            return (s.continuation, s.timer)
        }
        taken.1?.cancel()
        taken.0?.resume(returning: value)
    }
}
