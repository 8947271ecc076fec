import Foundation
import CanoSDK
import Synchronization
import Testing
import TestSupport
@testable import TeamsDestination

/// Every log line the notifier writes, flattened to text for leak checks.
final class LogSink: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func record(_ level: HostServices.LogLevel, _ message: String, _ fields: [String: String]) {
        let text = "\(level) \(message) " + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.withLock { $0.append(text) }
    }
}

/// The host's process-wide libcurl setup, once per test process.
let curlSetup: Void = HTTPClient.initializeProcess()

/// One test's wiring: the double and a log sink.
struct Harness {
    let teams: TeamsDouble
    let logs = LogSink()

    static func start(mode: TeamsDouble.Mode = .workflow) async throws -> Harness {
        _ = curlSetup
        return Harness(teams: try await TeamsDouble.start(mode: mode))
    }

    /// The snake_case config a user would write, pointed at the double.
    func config(_ extra: [String: JSONValue] = [:]) -> JSONValue {
        // A generous timeout: the machine is shared with other tests, and a slow answer
        // must not pass for a Teams outage.
        var config: [String: JSONValue] = ["url": .string(teams.url), "timeout": .string("30s")]
        for (k, v) in extra { config[k] = v }
        return .object(config.filter { $0.value != .null })
    }

    func notifier(_ extra: [String: JSONValue] = [:]) throws -> TeamsNotifier {
        let logs = self.logs
        return TeamsNotifier(config: try TeamsConfig(config(extra))) { logs.record($0, $1, $2) }
    }

    func stop() async { await teams.stop() }
}

enum Sample {
    static let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    /// A Prometheus alert Issue, as the collector maps one from Alertmanager.
    static func issue(_ status: IssueStatus = .firing, severity: Severity = .high, title: String = "KubePodCrashLooping") -> CanoSDK.Issue {
        let subject = Subject(kind: "Pod", name: "cart-7d9f-x2", namespace: "shop", container: "cart",
                              labels: ["alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "cart-7d9f-x2", "severity": "critical"],
                              annotations: ["runbook_url": "https://runbooks.example/crashloop"])
        let logs = Block.File(name: "cart.log", mimeType: "text/plain", bytes: Array("panic: assignment to entry in nil map\ngoroutine 1 [running]:\nmain.main()".utf8))
        let table = Block.Table(headers: ["Resource", "Request", "Limit"], rows: [["cpu", "100m", "500m"], ["memory", "128Mi", "256Mi"]])
        let enrichments = [
            Enrichment(type: "pod_logs", title: "Pod logs", blocks: [.file(logs)]),
            Enrichment(type: "resources", title: "Resources", blocks: [.table(table), .markdown("Limits look **tight**."),
                                                                         .links([Link(title: "Dashboard", url: "https://grafana.example/d/pods")])]),
        ]
        var issue = CanoSDK.Issue(
            type: .alert, source: .prometheus, severity: severity, status: status, title: title,
            description: "Pod shop/cart-7d9f-x2 is crash looping",
            aggregationKey: "KubePodCrashLooping", fingerprint: "3f2a9c0d11e4b7a8", subject: subject,
            cluster: "prod-eu", startsAt: start,
            links: [Link(title: "Runbook", url: "https://runbooks.example/crashloop")],
            enrichments: enrichments)
        if status == .resolved { issue.endsAt = start.addingTimeInterval(300) }
        return issue
    }

    static func request(_ issue: CanoSDK.Issue, reference: String? = nil, timeout: TimeInterval = 30) throws -> DeliveryRequest {
        DeliveryRequest(issue: issue, issueJSON: try IssueCoding.encode(issue), attempt: 1, deadline: Date().addingTimeInterval(timeout),
                        idempotencyKey: "idem-\(UUID().uuidString)", reference: reference)
    }
}

extension TeamsNotifier {
    /// Delivers on a dedicated thread, as the host does: libcurl blocks, and a blocked
    /// cooperative-pool thread would stall the other tests on this 2-core machine.
    func deliverOnThread(_ issue: CanoSDK.Issue, reference: String? = nil) async throws -> DeliveryResult {
        let request = try Sample.request(issue, reference: reference)
        return await BlockingThread.run { self.deliver(request) }
    }
}

extension DeliveryResult {
    var message: String {
        switch self {
        case .delivered(_, let message), .retry(_, let message), .permanent(let message): message
        }
    }
    var isDelivered: Bool { if case .delivered = self { true } else { false } }
    var isRetry: Bool { if case .retry = self { true } else { false } }
    var isPermanent: Bool { if case .permanent = self { true } else { false } }
    var retryAfter: Duration? { if case .retry(let after, _) = self { after } else { nil } }
    var reference: String? { if case .delivered(let reference, _) = self { reference } else { nil } }
}

/// The card inside a built message.
func adaptiveCard(of message: TeamsMessage) throws -> JSONValue {
    let envelope = try IssueCoding.decode(JSONValue.self, from: message.body)
    return try #require(envelope["attachments"]?.arrayValue?.first?["content"])
}

/// Every element of a card body, depth first (Container items and Column items included).
func allElements(_ card: JSONValue) -> [JSONValue] {
    func walk(_ list: [JSONValue]) -> [JSONValue] {
        list.flatMap { element -> [JSONValue] in
            var out = [element]
            if let items = element["items"]?.arrayValue { out += walk(items) }
            for column in element["columns"]?.arrayValue ?? [] { out += walk(column["items"]?.arrayValue ?? []) }
            return out
        }
    }
    return walk(card["body"]?.arrayValue ?? [])
}

/// The texts of every TextBlock in a card.
func textsOf(_ card: JSONValue) -> [String] {
    allElements(card).filter { $0["type"]?.stringValue == "TextBlock" }.compactMap { $0["text"]?.stringValue }
}

/// The facts of every FactSet, as title → value.
func factsOf(_ card: JSONValue) -> [String: String] {
    var out: [String: String] = [:]
    for set in allElements(card) where set["type"]?.stringValue == "FactSet" {
        for fact in set["facts"]?.arrayValue ?? [] {
            if let title = fact["title"]?.stringValue, let value = fact["value"]?.stringValue { out[title] = value }
        }
    }
    return out
}
