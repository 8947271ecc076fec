import Foundation

/// A stop flag that blocking loops poll and that wakes their back-off waits at once.
/// Lives outside Swift concurrency on purpose: watch loops run on dedicated threads.
public final class StopSignal: @unchecked Sendable {
    // NSCondition guards `stopped`; every access holds it.
    private let condition = NSCondition()
    private var stopped = false

    public init() {}

    /// Stops every loop and wait using this signal.
    public func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Whether ``stop()`` was called.
    public var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    /// Blocks up to `duration` or until stopped. Returns false when stopped.
    @discardableResult
    public func wait(_ duration: Duration) -> Bool {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        while !stopped {
            if !condition.wait(until: deadline) { break }
        }
        return !stopped
    }
}
