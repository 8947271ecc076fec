import Synchronization

/// Whether the collector should receive traffic, and what is wrong with it while it does.
///
/// `/readyz` answers 200 while the process can take alerts: from the end of start-up (config
/// loaded, database open, every destination that can be created created) until a shutdown
/// starts, so load balancers stop sending before intake closes. A broken destination does
/// not make the collector unready — its alerts are durably queued and retried, and pulling
/// the pod out of service would stop the healthy destinations too without fixing anything —
/// but `/readyz`'s body names it, with the reason, for the operator:
/// - *failed*: its plugin could not be created (``markFailed(destination:reason:)``); the
///   create is retried with backoff, and ``markRecovered(destination:)`` clears it;
/// - *suspect*: its plugin crashed the collector (``markSuspect(_:reason:)``), for the life
///   of the process.
///
/// The store is different: without it nothing can be acknowledged durably, so while it is
/// unreachable (PostgreSQL down, ``markStorageUnavailable(_:)``) `/readyz` answers 503
/// and names the reason; the intake answers 503 with Retry-After meanwhile.
public final class Readiness: Sendable {
    private let state = Atomic<Bool>(false)
    private let storageProblem = Mutex<String?>(nil)
    private let suspects = Mutex<[String: String]>([:])
    private let failures = Mutex<[String: String]>([:])

    public init() {}

    /// True between ``markReady()`` and ``markNotReady()``, while the store is reachable.
    public var isReady: Bool { state.load(ordering: .acquiring) && storageProblem.withLock { $0 == nil } }
    /// Start taking traffic.
    public func markReady() { state.store(true, ordering: .releasing) }
    /// Stop taking traffic (shutdown has started).
    public func markNotReady() { state.store(false, ordering: .releasing) }

    /// The store cannot be reached; `reason` (secret-free) is shown until
    /// ``markStorageAvailable()``.
    public func markStorageUnavailable(_ reason: String) {
        storageProblem.withLock { $0 = reason }
    }

    /// The store answers again.
    public func markStorageAvailable() {
        storageProblem.withLock { $0 = nil }
    }

    /// Why the store is unavailable, or nil.
    public var storageUnavailableReason: String? { storageProblem.withLock { $0 } }

    /// Records that `destination`'s plugin crashed the process (or its isolated process);
    /// the latest reason wins. It stays suspect for the life of this process.
    public func markSuspect(_ destination: String, reason: String) {
        suspects.withLock { $0[destination] = reason }
    }

    /// Suspect destinations and why, by name.
    public var suspectDestinations: [String: String] { suspects.withLock { $0 } }

    /// Records that `destination` could not be created, and why (the latest reason wins).
    public func markFailed(destination: String, reason: String) {
        failures.withLock { $0[destination] = reason }
    }

    /// `destination` was created after all: it no longer shows as failed.
    public func markRecovered(destination: String) {
        failures.withLock { _ = $0.removeValue(forKey: destination) }
    }

    /// Destinations that could not be created (yet), and why, by name.
    public var failedDestinations: [String: String] { failures.withLock { $0 } }

    /// The `/readyz` body: `ready` or `not ready`, then one line per failed destination and
    /// one per suspect destination.
    public var report: String {
        var lines = [isReady ? "ready" : "not ready"]
        if let reason = storageUnavailableReason {
            lines.append("storage unavailable: \(reason) (alerts are refused with 503 and Retry-After; queued deliveries wait)")
        }
        for (name, reason) in failedDestinations.sorted(by: { $0.key < $1.key }) {
            lines.append("failed destination \(name): \(reason) (its deliveries are queued; creating it is retried)")
        }
        for (name, reason) in suspectDestinations.sorted(by: { $0.key < $1.key }) {
            lines.append("suspect destination \(name): \(reason)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
