#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Collector
import Synchronization
import TestSupport
@testable import SlackDestination

/// The bot token the double accepts; tests check it never leaks.
let testToken = "xoxb-1111-2222-SECRETsecretSECRET"

/// An in-memory ``SlackStateStore``: what the host's SQLite store is to the real plugin.
final class InMemoryState: SlackStateStore {
    private let values = Mutex<[String: [UInt8]]>([:])
    private let failWrites = Mutex(false)
    func get(_ key: String) -> [UInt8]? { values.withLock { $0[key] } }
    func put(_ key: String, _ value: [UInt8]) -> Bool {
        if failWrites.withLock({ $0 }) { return false }
        values.withLock { $0[key] = value }
        return true
    }
    func delete(_ key: String) { values.withLock { $0[key] = nil } }
    var keys: [String] { values.withLock { Array($0.keys).sorted() } }
    func setFailWrites(_ fail: Bool) { failWrites.withLock { $0 = fail } }
}

/// A clock tests move by hand; `sleep(until:)` jumps instead of waiting and is recorded.
final class ManualClock: SlackClock {
    private let state: Mutex<(now: Date, sleeps: [TimeInterval])>
    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { state = Mutex((start, [])) }
    func now() -> Date { state.withLock { $0.now } }
    func sleep(until date: Date) {
        state.withLock { s in
            let wait = date.timeIntervalSince(s.now)
            if wait > 0 {
                s.sleeps.append(wait)
                s.now = date
            }
        }
    }
    func advance(_ seconds: TimeInterval) { state.withLock { $0.now = $0.now.addingTimeInterval(seconds) } }
    var sleeps: [TimeInterval] { state.withLock { $0.sleeps } }
}

/// Every log line the core writes, flattened to text for leak checks.
final class LogSink: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func record(_ level: HostServices.LogLevel, _ message: String, _ fields: [String: String]) {
        let text = "\(level) \(message) " + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.withLock { $0.append(text) }
    }
}

/// One test's wiring: the double, a state store, a clock, a log sink.
struct Harness {
    let slack: SlackDouble
    let state: InMemoryState
    let clock: ManualClock
    let logs: LogSink

    static func start(channels: [SlackDoubleChannel] = SlackDouble.defaultChannels) async throws -> Harness {
        Harness(slack: try await SlackDouble.start(token: testToken, channels: channels), state: InMemoryState(), clock: ManualClock(), logs: LogSink())
    }

    /// The snake_case config the user would write, pointed at the double.
    func configJSON(_ extra: [String: JSONValue] = [:]) -> JSONValue {
        var config: [String: JSONValue] = ["token": .string(testToken), "channel": "#alerts", "api_url": .string(slack.apiURL)]
        for (k, v) in extra { config[k] = v }
        return .object(config)
    }

    /// A fresh core over the same state store: what a host restart looks like to the plugin.
    func notifier(_ extra: [String: JSONValue] = [:], clock: (any SlackClock)? = nil) throws -> SlackNotifier {
        let config = try SlackConfig.parse(configJSON(extra))
        let logs = self.logs
        return SlackNotifier(config: config, environment: SlackEnvironment(
            state: state, clock: clock ?? self.clock, log: { logs.record($0, $1, $2) }))
    }

    /// Delivers on a dedicated thread, as the host does.
    func deliver(_ notifier: SlackNotifier, _ issue: Issue, reference: String? = nil, key: String? = nil, deadline: TimeInterval = 30, clock: (any SlackClock)? = nil) async -> DeliveryResult {
        let now = (clock ?? self.clock).now()
        let request = DeliveryRequest(
            issue: issue, issueJSON: (try? IssueCoding.encode(issue)) ?? [], attempt: 1,
            deadline: now.addingTimeInterval(deadline),
            idempotencyKey: key ?? "\(issue.fingerprint)|\(issue.status.rawValue)|\(RFC3339.format(issue.startsAt))",
            reference: reference)
        return await BlockingThread.run { notifier.deliver(request) }
    }

    func stop() { slack.stop() }
}

/// A typical Issue: an OOMKilled pod in `payments`.
func makeIssue(
    severity: Severity = .high, status: IssueStatus = .firing, title: String = "Pod payments/worker-7f9 OOMKilled",
    description: String? = "Container **worker** was killed: memory limit `512Mi` exceeded.",
    fingerprint: String = "fp-oom-1", labels: [String: String] = [:], annotations: [String: String] = [:],
    links: [Link] = [Link(title: "Runbook", url: "https://runbooks.example.com/oom?team=a&env=prod")],
    enrichments: [Enrichment] = [], endsAt: Date? = nil
) -> Issue {
    Issue(
        type: .alert, source: .prometheus, severity: severity, status: status, title: title, description: description,
        aggregationKey: "KubePodOOMKilled", fingerprint: fingerprint,
        subject: Subject(kind: "Pod", name: "worker-7f9", namespace: "payments", node: "node-a", container: "worker", labels: labels, annotations: annotations),
        cluster: "prod-eu", startsAt: Date(timeIntervalSince1970: 1_799_999_000), endsAt: endsAt,
        links: links, enrichments: enrichments)
}

extension DeliveryResult {
    var reference: String? {
        if case .delivered(let reference, _) = self { return reference }
        return nil
    }
    var isDelivered: Bool { if case .delivered = self { true } else { false } }
    var retryAfter: Duration?? {
        if case .retry(let after, _) = self { return .some(after) }
        return nil
    }
    var text: String {
        switch self {
        case .delivered(_, let m), .retry(_, let m), .permanent(let m): m
        }
    }
    var isPermanent: Bool { if case .permanent = self { true } else { false } }
}

extension SlackDoubleMessage {
    /// The blocks inside the colour-bar attachment.
    var attachmentBlocks: [JSONValue] { attachments?.first?["blocks"]?.arrayValue ?? [] }
    var color: String? { attachments?.first?["color"]?.stringValue }
    /// Every text in the message's blocks, joined: for "is it there" checks.
    var allText: String {
        func texts(_ v: JSONValue) -> [String] {
            switch v {
            case .object(let o): return o.sorted { $0.key < $1.key }.flatMap { k, v in k == "text" && v.stringValue != nil ? [v.stringValue!] : texts(v) }
            case .array(let a): return a.flatMap(texts)
            default: return []
            }
        }
        return texts(.array(attachmentBlocks)).joined(separator: "\n")
    }
}

extension JSONValue {
    var type: String? { self["type"]?.stringValue }
}
