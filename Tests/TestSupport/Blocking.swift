#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation

/// Runs blocking work (libcurl calls, plugin deliveries) on a new OS thread and awaits its
/// result, so it never occupies Swift's cooperative pool: the host does the same with its
/// delivery threads.
public func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread {
            continuation.resume(returning: body())
        }
        thread.stackSize = 4 << 20
        thread.start()
    }
}
