#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import CanoSDK
import Foundation
import Logging

/// Keeps trying to create the destinations whose plugin could not be created, so that none
/// leaves its deliveries waiting silently.
///
/// - At start, ``createAll()`` creates every configured destination through
///   ``DestinationFactory``. Each one that fails (unknown type, refused plugin, create()
///   error, a `*_file` Secret not mounted yet) is *failed*: `cano_destination_ready` is 0,
///   `/readyz`'s body names it with the reason (``Readiness/markFailed(destination:reason:)``),
///   and its deliveries are accepted and queued durably like any other.
/// - ``start(engine:)`` then retries each failed create on its own thread (create blocks)
///   with exponential backoff, 1 s doubling to 5 min. Every failure is logged at error
///   level with the reason, so the log repeats it at the backoff pace, not every second.
/// - Once a create succeeds, the destination is handed to the engine
///   (``DeliveryEngine/attach(_:)``): its queued deliveries flow at once, in order;
///   the gauge turns 1 and `/readyz` stops naming it.
/// - A destination that never comes up does not keep its alerts forever: at every retry
///   (and at least every ``expiryCheckInterval``) deliveries queued longer than its
///   `delivery.max_age` are dead-lettered with the reason
///   "destination X could not be created: <reason>".
///
/// `/readyz` stays 200 meanwhile: the collector can take alerts, and the broken
/// destination's alerts are durably queued and retried (docs/delivery.md).
public final class DestinationSupervisor: @unchecked Sendable {
    // @unchecked: every var below is guarded by `condition`.

    /// The wait between create attempts: `initial · 2^(n-1)` after the n-th failure, capped.
    public struct Backoff: Sendable, Equatable {
        public var initial: Duration
        public var maximum: Duration

        public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(300)) {
            self.initial = initial
            self.maximum = maximum
        }

        /// The wait after `failures` consecutive failures of the retries (1 for the first).
        public func delay(afterFailures failures: Int) -> Duration {
            var value = initial
            for _ in 1..<max(1, failures) where value < maximum { value = value * 2 }
            return min(value, maximum)
        }
    }

    /// How often a failed destination's queue is checked for deliveries past `max_age`,
    /// at most (create attempts check too).
    public static let expiryCheckInterval: Duration = .seconds(30)

    private let factory: DestinationFactory
    private let configs: [DestinationConfig]
    private let readiness: Readiness
    private let metrics: Metrics
    private let logger: Logger
    private let backoff: Backoff

    private let condition = NSCondition()
    private var ready: [String: any Destination] = [:]
    private var failures: [String: String] = [:]
    private var stopping = false
    private var threads = 0

    /// - Parameters:
    ///   - backoff: the wait between create attempts (tests shorten it).
    public init(
        factory: DestinationFactory, configs: [DestinationConfig], readiness: Readiness, metrics: Metrics, logger: Logger,
        backoff: Backoff = Backoff()
    ) {
        self.factory = factory
        self.configs = configs
        self.readiness = readiness
        self.metrics = metrics
        self.logger = logger
        self.backoff = backoff
        metrics.describe("cano_destination_ready", type: "gauge",
                         help: "1 when the destination was created, 0 while it cannot be (its deliveries are queued; create is retried with backoff).")
        metrics.describe("cano_destination_setup_failures_total", type: "counter",
                         help: "Failed attempts to create a destination, by destination and code.")
    }

    /// The destinations created so far, by name.
    public var readyDestinations: [String: any Destination] { condition.withLock { ready } }
    /// The destinations not created (yet) and why, by name.
    public var failedDestinations: [String: String] { condition.withLock { failures } }

    /// Creates every destination once, each on a dedicated thread (plugin create blocks),
    /// all at the same time: a create may spend a few seconds on a credential check (Slack's
    /// auth.test), and the start must not wait for them one after another. Returns the
    /// ready ones; the others are marked failed.
    @discardableResult
    public func createAll() async -> [String: any Destination] {
        await withTaskGroup(of: Void.self) { group in
            for config in configs {
                group.addTask { [self] in
                    await BlockingThread.run(name: "cano-create") { [self] () -> Void in
                        switch attempt(config) {
                        case .success(let destination):
                            condition.withLock { ready[config.name] = destination }
                            metrics.set("cano_destination_ready", ["destination": config.name], to: 1)
                        case .failure(let error):
                            logger.error("destination not created; its deliveries are queued and creating it is retried",
                                         metadata: metadata(error, retryIn: backoff.initial))
                            markFailed(error)
                        }
                    }
                }
            }
        }
        return readyDestinations
    }

    /// Starts one retry thread per failed destination; each attaches its destination to
    /// `engine` once created, and dead-letters the deliveries that outlive `max_age`.
    public func start(engine: DeliveryEngine) {
        let failed = condition.withLock { () -> [DestinationConfig] in
            let names = failures.keys
            threads += names.count
            return configs.filter { names.contains($0.name) }
        }
        for config in failed {
            BlockingThread.start(name: "cano-create-\(config.name)") { [self] in
                retryLoop(config, engine: engine)
                condition.withLock {
                    threads -= 1
                    condition.broadcast()
                }
            }
        }
    }

    /// Stops retrying; returns once no create is running, or at `deadline`. A destination
    /// created after this is shut down, not attached. Blocking (until `deadline`, when given).
    @discardableResult
    public func stop(deadline: Date? = nil) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        condition.broadcast()
        while threads > 0 {
            // (NSCondition.wait(until: .distantFuture) traps on Linux: no deadline, plain wait.)
            guard let deadline else { condition.wait(); continue }
            if !condition.wait(until: deadline) { return threads == 0 }
        }
        return true
    }

    // MARK: - Internals

    private func retryLoop(_ config: DestinationConfig, engine: DeliveryEngine) {
        var failuresSoFar = 1
        var nextCreate = ContinuousClock.now + backoff.delay(afterFailures: failuresSoFar)
        while true {
            let now = ContinuousClock.now
            let wakeAt = min(nextCreate, now + Self.expiryCheckInterval)
            condition.lock()
            while !stopping, ContinuousClock.now < wakeAt {
                _ = condition.wait(until: Date().addingTimeInterval(Self.seconds(wakeAt - ContinuousClock.now)))
            }
            let stop = stopping
            condition.unlock()
            if stop { return }
            if ContinuousClock.now >= nextCreate {
                switch attempt(config) {
                case .success(let destination):
                    let attached = condition.withLock { () -> Bool in
                        guard !stopping else { return false }
                        ready[config.name] = destination
                        failures[config.name] = nil
                        return true
                    }
                    guard attached else {
                        (destination as? any ShutdownableDestination)?.shutdown()
                        return
                    }
                    engine.attach(destination)
                    readiness.markRecovered(destination: config.name)
                    metrics.set("cano_destination_ready", ["destination": config.name], to: 1)
                    logger.info("destination created after earlier failures; its queued deliveries flow",
                                metadata: ["destination": .string(config.name), "type": .string(config.type),
                                           "attempts": .stringConvertible(failuresSoFar + 1)])
                    return
                case .failure(let error):
                    failuresSoFar += 1
                    let wait = backoff.delay(afterFailures: failuresSoFar)
                    nextCreate = ContinuousClock.now + wait
                    logger.error("destination still not created; its deliveries are queued and creating it is retried", metadata: metadata(error, retryIn: wait))
                    markFailed(error)
                }
            }
            let reason = condition.withLock { failures[config.name] } ?? "unknown"
            _ = engine.expireWithoutDestination(config.name, reason: Self.deadLetterReason(destination: config.name, reason: reason))
        }
    }

    /// The dead-letter message of a delivery whose destination never came up.
    public static func deadLetterReason(destination: String, reason: String) -> String {
        "destination \(destination) could not be created: \(reason)"
    }

    /// One create through the factory (which reads the `*_file` Secrets, so a Secret
    /// mounted late is picked up by the next try). Also `validate`'s dry run (which
    /// destroys what it created at once).
    public func create(_ config: DestinationConfig) -> Result<any Destination, DestinationSetupError> { attempt(config) }

    private func attempt(_ config: DestinationConfig) -> Result<any Destination, DestinationSetupError> {
        do {
            return .success(try factory.make(config))
        } catch {
            return .failure(error)
        }
    }

    private func markFailed(_ error: DestinationSetupError) {
        let reason = SecretScrubber.shared.scrub(error.reason)
        condition.withLock { failures[error.destination] = reason }
        readiness.markFailed(destination: error.destination, reason: reason)
        metrics.set("cano_destination_ready", ["destination": error.destination], to: 0)
        metrics.increment("cano_destination_setup_failures_total", ["destination": error.destination, "code": error.code.description])
    }

    private func metadata(_ error: DestinationSetupError, retryIn: Duration) -> Logger.Metadata {
        ["destination": .string(error.destination), "type": .string(error.type), "code": .string(error.code.description),
         "reason": .string(SecretScrubber.shared.scrub(error.reason)), "retry_in_s": .stringConvertible(Self.seconds(retryIn))]
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
