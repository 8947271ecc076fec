#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A destination written in Swift: one instance per configured destination.
///
/// Export it from your dynamic library with one line (see ``PluginExport``):
/// ```swift
/// @_cdecl("cano_plugin_entry")
/// public func canoPluginEntry() -> UnsafeRawPointer { PluginExport.destination(MyDestination.self) }
/// ```
/// `deliver` runs on a host delivery thread and may block (for example in ``HTTPClient``)
/// until `request.deadline`. It must not trap: report failures as results.
public protocol DestinationPlugin: AnyObject {
    /// The plugin type name users write in config (`type: webhook`).
    static var name: String { get }
    /// The plugin's own version.
    static var version: String { get }
    /// Validates `config` and prepares; no slow I/O but, unless
    /// ``HostServices/isValidateOnly``, one credential check bounded to a few seconds.
    /// Throw ``PluginError`` to refuse.
    init(config: PluginConfig, host: HostServices) throws(PluginError)
    /// Delivers one Issue.
    func deliver(_ request: DeliveryRequest) -> DeliveryResult
    /// Config keys ending in `_file` that are paths this plugin opens itself (`ca_file`),
    /// exported as the descriptor's `path_keys` (ABI v1.1). The host passes them through;
    /// every other `X_file` is read as a secret file into `X`. Default: none.
    static var pathKeys: [String] { get }
    /// What this plugin renders beyond single Issues, exported as the descriptor's
    /// `capabilities` (ABI v1.2). Declare ``PluginCapabilities/groups`` only when
    /// `deliver` handles an Issue of type `group` (its ``Issue/group`` and updates of the
    /// same fingerprint); otherwise the host sends the group's members one by one.
    /// Default: none.
    static var capabilities: PluginCapabilities { get }
}

extension DestinationPlugin {
    /// No path keys: every `X_file` in the config is a secret file the host reads.
    public static var pathKeys: [String] { [] }
    /// No capabilities: the host sends single Issues only, as to a plugin written before
    /// grouping existed.
    public static var capabilities: PluginCapabilities { [] }
}

/// A destination that can show what it would send (ABI v1.3 `render`), for the console's
/// message preview. `render` must not send anything, change any state or include a secret:
/// it runs on an instance created with ``HostServices/isValidateOnly`` set.
public protocol PreviewableDestination: DestinationPlugin {
    /// The request (or requests) `deliver` would send for a new delivery of `issue`.
    func render(_ issue: Issue) throws(PluginError) -> RenderedRequest
}

/// What a destination would send for one Issue (``PreviewableDestination/render(_:)``).
public struct RenderedRequest: Sendable, Equatable {
    /// Where it would go, in one line ("chat.postMessage to #alerts").
    public var summary: String
    /// The request body (JSON for JSON APIs; a JSON array of the bodies, in order, when one
    /// delivery sends several).
    public var body: [UInt8]
    public init(summary: String, body: [UInt8]) {
        self.summary = summary
        self.body = body
    }
}

/// An enricher written in Swift: adds context blocks to Issues.
public protocol EnricherPlugin: AnyObject {
    static var name: String { get }
    static var version: String { get }
    init(config: PluginConfig, host: HostServices) throws(PluginError)
    /// Returns enrichments for one Issue, or a failure result.
    func enrich(_ request: DeliveryRequest) -> Result<[Enrichment], PluginError>
}

/// One call's input: the Issue, decoded, plus the call as the host made it.
public struct DeliveryRequest: Sendable {
    public var issue: Issue
    /// The Issue's bytes and the call context; the fields below read and write it.
    public var raw: RawDeliveryRequest

    /// The Issue exactly as the host sent it, for plugins that forward it untouched (those
    /// that never read ``issue`` can skip its decoding: ``ForwardingDestination``).
    public var issueJSON: [UInt8] { get { raw.issueJSON } set { raw.issueJSON = newValue } }
    /// ``RawDeliveryRequest/attempt``.
    public var attempt: Int { get { raw.attempt } set { raw.attempt = newValue } }
    /// ``RawDeliveryRequest/deadline``.
    public var deadline: Date { get { raw.deadline } set { raw.deadline = newValue } }
    /// ``RawDeliveryRequest/idempotencyKey``.
    public var idempotencyKey: String { get { raw.idempotencyKey } set { raw.idempotencyKey = newValue } }
    /// ``RawDeliveryRequest/reference``.
    public var reference: String? { get { raw.reference } set { raw.reference = newValue } }
    /// ``RawDeliveryRequest/remaining``.
    public var remaining: Duration { raw.remaining }

    public init(issue: Issue, issueJSON: [UInt8], attempt: Int, deadline: Date, idempotencyKey: String, reference: String?) {
        self.init(issue: issue, raw: RawDeliveryRequest(issueJSON: issueJSON, attempt: attempt, deadline: deadline,
                                                        idempotencyKey: idempotencyKey, reference: reference))
    }

    /// The Issue decoded from `raw.issueJSON`, with `raw`'s call context.
    public init(issue: Issue, raw: RawDeliveryRequest) {
        self.issue = issue
        self.raw = raw
    }
}

/// A destination that sends the Issue exactly as the host encoded it and never reads it
/// decoded, like the `webhook` plugin. It implements `deliver(_: RawDeliveryRequest)`; the
/// SDK then passes the host's bytes through without decoding them, which saves a pass
/// through `JSONDecoder` per call (4.8 % of the collector's CPU samples at 100 alerts/s
/// through the Webhook plugin, docs/benchmarks.md). Nor does it check them against the
/// Issue schema: what the host sent is what the destination gets. The host calls only this
/// `deliver`; the `DeliveryRequest` one, provided below, is for callers that hold a
/// decoded request.
public protocol ForwardingDestination: DestinationPlugin {
    /// Delivers one Issue, given as JSON only.
    func deliver(_ request: RawDeliveryRequest) -> DeliveryResult
}

extension ForwardingDestination {
    /// Delivers `request.raw`, for callers that hold a decoded request (tests, a host that
    /// decoded anyway); the decoded Issue is not read.
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult { deliver(request.raw) }
}

/// One call's input to a ``ForwardingDestination``, and ``DeliveryRequest/raw``: the
/// Issue's JSON, undecoded, plus the call context.
public struct RawDeliveryRequest: Sendable {
    /// The Issue exactly as the host sent it (schema: docs/issue.schema.json).
    public var issueJSON: [UInt8]
    /// 1 for the first try.
    public var attempt: Int
    /// Finish (or give up with `.retry`) by then.
    public var deadline: Date
    /// Stable for one (destination, fingerprint, status, startsAt) across retries and restarts.
    public var idempotencyKey: String
    /// What this destination returned for the first delivery of this fingerprint, if any.
    public var reference: String?

    public init(issueJSON: [UInt8], attempt: Int, deadline: Date, idempotencyKey: String, reference: String?) {
        self.issueJSON = issueJSON
        self.attempt = attempt
        self.deadline = deadline
        self.idempotencyKey = idempotencyKey
        self.reference = reference
    }

    /// Time left until the deadline (at least 1 ms: an HTTP timeout of 0 would mean none),
    /// for HTTP timeouts.
    public var remaining: Duration {
        .milliseconds(max(1, Int64(deadline.timeIntervalSinceNow * 1000)))
    }
}

/// The outcome of a delivery, as the host's retry logic needs it.
public enum DeliveryResult: Sendable, Equatable {
    /// Done. `reference` is stored and given back for later Issues with the same fingerprint.
    case delivered(reference: String? = nil, message: String = "delivered")
    /// Try again later; not before `after` when given.
    case retry(after: Duration? = nil, message: String)
    /// Will never succeed as is; the host dead-letters it.
    case permanent(message: String)
}

/// Why a plugin refused a config or failed a call. The message must not contain secrets.
public struct PluginError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// True when retrying may help.
    public var retryable: Bool
    public init(_ message: String, retryable: Bool = false) {
        self.message = message
        self.retryable = retryable
    }
    public var description: String { message }
}

/// A plugin instance's configuration: the destination's `config` block, as JSON.
public struct PluginConfig: Sendable {
    /// The raw JSON object.
    public let json: JSONValue

    public init(json: JSONValue) { self.json = json }

    /// Decodes the whole config into `T`. Errors name the offending key.
    public func decode<T: Decodable>(_ type: T.Type) throws(PluginError) -> T {
        do {
            return try IssueCoding.decode(type, from: IssueCoding.encode(json))
        } catch let error as DecodingError {
            throw PluginError("invalid config: \(error.readableDescription)")
        } catch {
            throw PluginError("invalid config: \(error)")
        }
    }
}

extension DecodingError {
    /// "key \"url\": expected a string" rather than Swift's debug dump.
    public var readableDescription: String {
        func path(_ context: Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "top level" : "key \"" + keys.joined(separator: ".").replacing(".[", with: "[") + "\""
        }
        switch self {
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in \(path(context))"
            return "missing required key \"\(key.stringValue)\"\(parent)"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return "\(path(context)): expected \(Self.describe(type))"
        case .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(self)"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Double.Type, is Int64.Type, is UInt.Type: "a number"
        default: "\(type)"
        }
    }
}
