import CanoSDK

/// Something the delivery engine can hand an Issue to: a plugin instance or a built-in.
///
/// `deliver` blocks, so the engine calls it only from its own delivery threads, never from
/// Swift's cooperative pool. It must honour `context.deadline`.
public protocol Destination: AnyObject, Sendable {
    /// The configured destination name (unique in the config).
    var name: String { get }
    /// Delivers one Issue, given as the JSON bytes of the public contract.
    func deliver(issueJSON: [UInt8], context: DeliveryContext) -> DeliveryOutcome
}

/// The per-call facts the engine passes with a delivery.
public struct DeliveryContext: Sendable, Equatable {
    /// 1 for the first try.
    public var attempt: Int
    /// Wall-clock deadline for this call.
    public var deadline: ContinuousClock.Instant
    /// Absolute wall-clock deadline in Unix milliseconds, as the C ABI carries it.
    public var deadlineUnixMillis: Int64
    /// Stable for one (destination, fingerprint, status, startsAt) across retries and restarts.
    public var idempotencyKey: String
    /// What the destination returned for the first delivery of this fingerprint.
    public var reference: [UInt8]?

    public init(attempt: Int, deadlineUnixMillis: Int64, deadline: ContinuousClock.Instant, idempotencyKey: String, reference: [UInt8]?) {
        self.attempt = attempt
        self.deadlineUnixMillis = deadlineUnixMillis
        self.deadline = deadline
        self.idempotencyKey = idempotencyKey
        self.reference = reference
    }
}

/// What a destination reports for one call. The engine alone decides what happens next
/// (retry with backoff, dead-letter), in one place: see `RetryPolicy`.
public struct DeliveryOutcome: Sendable, Equatable {
    public enum Status: String, Sendable {
        case delivered, retry, permanent
    }
    public var status: Status
    /// With `.retry`: the destination asked to wait at least this long.
    public var retryAfter: Duration?
    /// Human-readable, secret-free.
    public var message: String
    /// With `.delivered`: stored for the fingerprint and given back on later deliveries.
    public var reference: [UInt8]?
    /// The destination's code crashed (or hung and was killed) during this call. Only a
    /// process-isolated plugin can report it (an in-process crash ends the collector); the
    /// engine counts it like a crash of the process, towards quarantining the delivery.
    public var crashed: Bool

    public init(_ status: Status, message: String, retryAfter: Duration? = nil, reference: [UInt8]? = nil, crashed: Bool = false) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
        self.reference = reference
        self.crashed = crashed
    }
}
