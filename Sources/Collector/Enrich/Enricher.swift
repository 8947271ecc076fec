import CanoSDK

/// Adds context to an Issue: pod logs, a status table, the alert's labels...
///
/// `enrich` blocks (Kubernetes GETs over libcurl, plugin calls), so the ``EnrichmentStage``
/// calls it only on a dedicated thread, never on Swift's cooperative pool. It should give
/// up by `deadline`; if it does not, the stage abandons the call at the deadline and the
/// thread finishes on its own later, its result discarded.
public protocol Enricher: Sendable {
    /// The name workflows refer to (`pod_logs`), also the `enricher` metric label.
    var name: String { get }
    /// Human words for notes: "pod logs: timed out after 2s".
    var displayName: String { get }
    /// The enrichments for `issue`; an empty array when there is nothing to add (no pod
    /// to read logs from, for instance). Throws when it tried and failed.
    func enrich(_ issue: Issue, parameters: EnricherParameters, deadline: ContinuousClock.Instant) throws(EnricherFailure) -> [Enrichment]
    /// Checks a step's parameters when the stage is built, so a typo in the config stops
    /// startup with its line instead of leaving a note on every Issue.
    func validate(_ parameters: EnricherParameters) throws(EnricherFailure)
}

extension Enricher {
    /// Accepts any parameters.
    public func validate(_ parameters: EnricherParameters) throws(EnricherFailure) {}

    /// The name with spaces: "pod_logs" reads "pod logs".
    public var displayName: String { name.replacing("_", with: " ") }
}

/// Why an enricher produced nothing. The message ends up in a note block on the Issue and
/// in the log, so it must not contain secrets (never echo a token or a response body).
public struct EnricherFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure, for the log and the `code` field.
    public enum Code: String, Sendable {
        /// The parameters are wrong (a bad regex, a negative tail).
        case invalidParameters
        /// The object it needs does not exist (HTTP 404).
        case notFound
        /// The collector may not read it (HTTP 401/403).
        case forbidden
        /// The collector runs without cluster access: the stage adds nothing, not even a
        /// note (it warned once at startup), so alert-only installs stay quiet.
        case noClusterAccess
        /// The API or plugin failed or answered something unreadable.
        case unavailable
        /// It ran out of time.
        case timedOut
    }
    /// The kind of failure.
    public var code: Code
    /// Short, secret-free text for the note block.
    public var message: String
    /// A failure of kind `code`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    /// The message.
    public var description: String { message }
}

/// One workflow step's parameters (a JSON object from the config), with typed readers
/// that name the parameter in their errors.
public struct EnricherParameters: Sendable, Equatable {
    /// The raw parameters, by name.
    public var values: [String: JSONValue]
    /// Wraps a step's parameter object.
    public init(_ values: [String: JSONValue] = [:]) { self.values = values }

    /// A string parameter, or nil when absent.
    public func string(_ key: String) throws(EnricherFailure) -> String? {
        guard let value = values[key], value != .null else { return nil }
        guard let s = value.stringValue else { throw EnricherFailure(.invalidParameters, "parameter \(key) must be a string") }
        return s
    }

    /// A whole-number parameter within `range`, or nil when absent.
    public func int(_ key: String, in range: ClosedRange<Int>) throws(EnricherFailure) -> Int? {
        guard let value = values[key], value != .null else { return nil }
        let number: Double? = value.numberValue ?? value.stringValue.flatMap { Double($0) }
        guard let number, number.rounded() == number, let int = Int(exactly: number), range.contains(int) else {
            throw EnricherFailure(.invalidParameters, "parameter \(key) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return int
    }

    /// A boolean parameter, or nil when absent.
    public func bool(_ key: String) throws(EnricherFailure) -> Bool? {
        guard let value = values[key], value != .null else { return nil }
        if let b = value.boolValue { return b }
        switch value.stringValue?.lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default: throw EnricherFailure(.invalidParameters, "parameter \(key) must be true or false")
        }
    }

    /// A duration parameter ("10m", "1h"), or nil when absent.
    public func duration(_ key: String) throws(EnricherFailure) -> Duration? {
        guard let text = try string(key) else { return nil }
        guard let d = YAMLReader.parseDuration(text) else {
            throw EnricherFailure(.invalidParameters, "parameter \(key) must be a duration like 10m or 1h")
        }
        return d
    }
}
