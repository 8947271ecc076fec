import CanoSDK

/// Where sources hand Issues: the durable pipeline. `submit` returns only once the Issues
/// are recorded durably (so an HTTP intake may acknowledge), or throws.
public protocol IssueSink: Sendable {
    func submit(_ issues: [Issue]) async throws(SubmitError) -> SubmitReceipt
}

/// What `submit` did with a batch.
public struct SubmitReceipt: Sendable, Equatable {
    /// Deliveries queued (one per Issue and destination).
    public var queued: Int
    /// Issues already delivered or queued with the same fingerprint, status and start, at
    /// every destination they are routed to (each Issue counted once, whatever the number
    /// of destinations).
    public var duplicates: Int
    /// Issues kept in a notify group (grouped, silenced, held back) for at least one of their
    /// destinations: recorded durably, notified when their group's timing or hold allows
    /// (docs/noise-control.md).
    public var held: Int
    public init(queued: Int, duplicates: Int, held: Int = 0) {
        self.queued = queued
        self.duplicates = duplicates
        self.held = held
    }
}

/// Why `submit` refused a batch. Nothing of a refused batch is recorded.
public struct SubmitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Only conditions that pass are worth a sender's retry (HTTP 503); one destination's
    /// state is never among them (a full queue dead-letters its own overflow instead).
    public enum Code: String, Sendable {
        /// The store could not record the batch: the database failed, is locked, or the
        /// disk is full. It passes: the sender should retry later (HTTP 503).
        case unavailable
        /// The collector is shutting down (HTTP 503: another replica or the restart takes it).
        case shuttingDown
        /// An Issue could not be encoded: a bug no retry fixes (HTTP 500).
        case `internal`
    }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(code.rawValue): \(message)" }
}
