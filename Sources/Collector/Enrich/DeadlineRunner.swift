import CanoSDK
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
            BlockingThread.detach { once.resume(body()) }
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

extension BlockingThread {
    /// Starts `body` on a new detached OS thread and returns at once. For work that may
    /// outlive its caller's interest (see ``DeadlineRunner``).
    static func detach(_ body: @escaping @Sendable () -> Void) {
        let job = Unmanaged.passRetained(DetachedJob(body))
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackBytes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attributes, { raw in
            Unmanaged<DetachedJob>.fromOpaque(raw!).takeRetainedValue().work()
            return nil
        }, job.toOpaque())
        if rc != 0 {
            // No thread to be had: run here rather than never finishing.
            job.takeRetainedValue().work()
        }
    }
}

private final class DetachedJob: Sendable {
    let work: @Sendable () -> Void
    init(_ work: @escaping @Sendable () -> Void) { self.work = work }
}
