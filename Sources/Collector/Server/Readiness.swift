import Synchronization

/// Whether the collector should receive traffic: `/readyz` answers 200 only while ready.
/// Ready once config is loaded and plugins are created; not ready again from the moment a
/// shutdown starts, so load balancers stop sending before intake closes.
public final class Readiness: Sendable {
    private let state = Atomic<Bool>(false)
    public init() {}
    public var isReady: Bool { state.load(ordering: .acquiring) }
    public func markReady() { state.store(true, ordering: .releasing) }
    public func markNotReady() { state.store(false, ordering: .releasing) }
}
