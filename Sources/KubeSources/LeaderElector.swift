import Collector
import Foundation
import KubeClient
import Logging
import Synchronization

/// A coordination.k8s.io/v1 Lease, as read and written.
struct Lease: Codable, Sendable {
    var apiVersion = "coordination.k8s.io/v1"
    var kind = "Lease"
    var metadata: Meta
    var spec: Spec

    struct Meta: Codable, Sendable {
        var name: String
        var namespace: String?
        var resourceVersion: String?
    }
    struct Spec: Codable, Sendable, Equatable {
        var holderIdentity: String?
        var leaseDurationSeconds: Int?
        var acquireTime: String?
        var renewTime: String?
        var leaseTransitions: Int?
    }
}

/// Leader election on a Lease, the way client-go does it: the holder renews `renewTime`
/// every retry period with optimistic concurrency (resourceVersion; a 409 means someone
/// else wrote first). A follower takes over once the lease record has not changed for the
/// lease duration, measured on its own monotonic clock (so clock skew between nodes does
/// not matter). The leader steps down when it cannot renew within the renew deadline, before
/// anyone else may take over, so two replicas never lead at once.
final class LeaderElector: Sendable {
    let client: KubeClient
    let namespace: String
    let name: String
    let identity: String
    let leaseDuration: Duration
    let renewDeadline: Duration
    let retryPeriod: Duration
    let logger: Logger
    let stop: StopSignal
    let onStartedLeading: @Sendable () -> Void
    let onStoppedLeading: @Sendable () -> Void
    /// Called with the time of each successful acquire or renewal: proof the API server was
    /// reachable then (it bounds the detectors' watermark).
    let onRenewed: @Sendable (Date) -> Void
    /// Release the lease on a clean stop (false only to simulate a crash in tests).
    let releaseOnStop: Bool

    private struct Observed {
        var spec: Lease.Spec?
        var at: ContinuousClock.Instant
    }
    private let observed = Mutex<Observed?>(nil)
    private let leading = Mutex(false)

    init(
        client: KubeClient, namespace: String, name: String, identity: String, config: LeaderElectionConfig,
        stop: StopSignal, logger: Logger, releaseOnStop: Bool = true,
        onStartedLeading: @escaping @Sendable () -> Void, onStoppedLeading: @escaping @Sendable () -> Void,
        onRenewed: @escaping @Sendable (Date) -> Void = { _ in }
    ) {
        self.onRenewed = onRenewed
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        leaseDuration = .milliseconds(Int64(config.leaseDurationSeconds * 1000))
        renewDeadline = .milliseconds(Int64(config.renewDeadlineSeconds * 1000))
        retryPeriod = .milliseconds(Int64(config.retryPeriodSeconds * 1000))
        self.stop = stop
        self.logger = logger
        self.onStartedLeading = onStartedLeading
        self.onStoppedLeading = onStoppedLeading
        self.releaseOnStop = releaseOnStop
    }

    /// Whether this replica holds the lease now.
    var isLeader: Bool { leading.withLock { $0 } }

    /// Runs until `stop`; blocking (a dedicated thread). On stop a leader releases the
    /// lease so a follower takes over at once.
    func run() {
        let clock = ContinuousClock()
        var lastRenew = clock.now
        while !stop.isStopped {
            let attempt = Date()
            let ok = tryAcquireOrRenew()
            if ok {
                lastRenew = clock.now
                onRenewed(attempt)
            }
            let wasLeading = isLeader
            if ok, !wasLeading {
                leading.withLock { $0 = true }
                logger.info("became the leader", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
                onStartedLeading()
            } else if !ok, wasLeading, clock.now - lastRenew >= renewDeadline {
                stepDown()
            }
            stop.wait(retryPeriod)
        }
        if isLeader {
            stepDown()
            if releaseOnStop { release() }
        }
    }

    private func stepDown() {
        leading.withLock { $0 = false }
        logger.warning("lost the leadership", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
        onStoppedLeading()
    }

    private var path: String { KubeResource.leases.path(namespace: namespace, name: name) }

    /// One round; true when we hold the lease afterwards.
    func tryAcquireOrRenew() -> Bool {
        let now = LeaseTime.format(Date())
        let durationSeconds = Int((Double(leaseDuration.components.seconds) + Double(leaseDuration.components.attoseconds) / 1e18).rounded(.up))
        let current: Lease
        do {
            current = try client.get(Lease.self, path: path, timeout: retryPeriod, retrying: false)
        } catch {
            guard error.code == .notFound else {
                logger.warning("cannot read the leader lease", metadata: ["error": "\(error)"])
                return false
            }
            let lease = Lease(
                metadata: .init(name: name, namespace: namespace),
                spec: .init(holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0))
            do {
                let created = try client.create(lease, path: KubeResource.leases.path(namespace: namespace), timeout: retryPeriod)
                observe(created.spec)
                return true
            } catch {
                if error.code != .conflict { logger.warning("cannot create the leader lease", metadata: ["error": "\(error)"]) }
                return false
            }
        }
        observe(current.spec)
        let holder = current.spec.holderIdentity ?? ""
        if holder != identity, !holder.isEmpty, !expired() { return false }
        var next = current
        next.spec.renewTime = now
        next.spec.leaseDurationSeconds = durationSeconds
        if holder != identity {
            next.spec.holderIdentity = identity
            next.spec.acquireTime = now
            next.spec.leaseTransitions = (current.spec.leaseTransitions ?? 0) + 1
        }
        do {
            let updated = try client.replace(next, path: path, timeout: retryPeriod)
            observe(updated.spec)
            return true
        } catch {
            // 409: another replica renewed or took over first; we read again next round.
            if error.code != .conflict { logger.warning("cannot update the leader lease", metadata: ["error": "\(error)"]) }
            return false
        }
    }

    /// Gives the lease up (holder cleared), so a follower need not wait for expiry.
    private func release() {
        guard var lease = try? client.get(Lease.self, path: path, timeout: retryPeriod, retrying: false), lease.spec.holderIdentity == identity else { return }
        lease.spec.holderIdentity = nil
        lease.spec.leaseDurationSeconds = 1
        lease.spec.renewTime = LeaseTime.format(Date())
        _ = try? client.replace(lease, path: path, timeout: retryPeriod)
    }

    private func observe(_ spec: Lease.Spec) {
        observed.withLock { o in
            if o?.spec != spec { o = Observed(spec: spec, at: ContinuousClock.now) }
        }
    }

    private func expired() -> Bool {
        observed.withLock { o in
            guard let o else { return true }
            let duration = o.spec?.leaseDurationSeconds.map { Duration.seconds($0) } ?? leaseDuration
            return ContinuousClock.now - o.at >= duration
        }
    }
}

/// metav1.MicroTime: RFC 3339 with exactly six fractional digits, UTC.
enum LeaseTime {
    static func format(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        let seconds = floor(t)
        let micros = Int((t - seconds) * 1_000_000)
        var tm = tm()
        var s = time_t(seconds)
        gmtime_r(&s, &tm)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                      Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday), Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec), micros)
    }
}
