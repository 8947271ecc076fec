import Foundation
import CanoSDK
import Synchronization
import Testing
import TestSupport
@testable import PagerDutyDestination

/// The routing key tests configure; leak checks look for it everywhere.
let testRoutingKey = PagerDutyDouble.sampleRoutingKey
/// A second key, for per-Issue routing from a label.
let labelRoutingKey = "b7c0ffee1234567890abcdefSECRET42"

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
    let pagerduty: PagerDutyDouble
    let logs = LogSink()

    static func start(routingKeys: Set<String>? = nil) async throws -> Harness {
        _ = curlSetup
        return Harness(pagerduty: try await PagerDutyDouble.start(routingKeys: routingKeys))
    }

    /// The snake_case config a user would write, pointed at the double.
    func config(_ extra: [String: JSONValue] = [:]) -> JSONValue {
        // A generous timeout: the machine is shared with other tests, and a slow answer
        // must not pass for a PagerDuty outage.
        var config: [String: JSONValue] = ["routing_key": .string(testRoutingKey), "url": .string(pagerduty.url), "timeout": "30s"]
        for (k, v) in extra { config[k] = v }
        return .object(config.filter { $0.value != .null })
    }

    func notifier(_ extra: [String: JSONValue] = [:]) throws -> PagerDutyNotifier {
        let logs = self.logs
        return PagerDutyNotifier(config: try PagerDutyConfig(config(extra))) { logs.record($0, $1, $2) }
    }

    func stop() async { await pagerduty.stop() }
}

enum Sample {
    static let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    /// A Prometheus alert Issue, as the collector maps one from Alertmanager.
    static func issue(_ status: IssueStatus = .firing, fingerprint: String = "3f2a9c0d11e4b7a8", severity: Severity = .high) -> CanoSDK.Issue {
        var issue = CanoSDK.Issue(
            type: .alert, source: .prometheus, severity: severity, status: status, title: "KubePodCrashLooping",
            description: "Pod shop/cart-7d9f-x2 is crash looping",
            aggregationKey: "KubePodCrashLooping", fingerprint: fingerprint,
            subject: Subject(kind: "Pod", name: "cart-7d9f-x2", namespace: "shop", container: "cart",
                             labels: ["alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "cart-7d9f-x2", "severity": "critical"],
                             annotations: ["runbook_url": "https://runbooks.example/crashloop"]),
            cluster: "prod-eu", startsAt: start,
            links: [Link(title: "Runbook", url: "https://runbooks.example/crashloop"),
                    Link(title: "CPU graph", url: "https://grafana.example/render/cpu.png?from=now-1h")],
            enrichments: [Enrichment(type: "pod_logs", title: "Pod logs", blocks: [.markdown("panic: nil map"), .list(["restart 1", "restart 2"])])])
        if status == .resolved { issue.endsAt = start.addingTimeInterval(300) }
        return issue
    }

    /// A Helm detector Issue.
    static func helm(_ status: IssueStatus = .firing) -> CanoSDK.Issue {
        var issue = CanoSDK.Issue(
            type: .event, source: .helm, severity: .high, status: status, title: "Helm release shop/cart failed (revision 7)",
            description: "Revision 7 of Helm release shop/cart has status failed.",
            aggregationKey: "HelmReleaseFailed", fingerprint: "helm-shop-cart-failed",
            subject: Subject(kind: "HelmRelease", name: "cart", namespace: "shop", labels: ["name": "cart", "status": "failed", "version": "7"]),
            cluster: "prod-eu", startsAt: start)
        if status == .resolved { issue.endsAt = start.addingTimeInterval(600) }
        return issue
    }

    static func request(_ issue: CanoSDK.Issue, key: String = "idem-\(UUID().uuidString)", timeout: TimeInterval = 30) throws -> DeliveryRequest {
        DeliveryRequest(issue: issue, issueJSON: try IssueCoding.encode(issue), attempt: 1, deadline: Date().addingTimeInterval(timeout),
                        idempotencyKey: key, reference: nil)
    }
}

extension PagerDutyNotifier {
    /// Delivers on a dedicated thread, as the host does: libcurl blocks, and a blocked
    /// cooperative-pool thread would stall the other tests on this 2-core machine.
    func deliverOnThread(_ issue: CanoSDK.Issue, key: String = "idem-\(UUID().uuidString)") async throws -> DeliveryResult {
        let request = try Sample.request(issue, key: key)
        return await BlockingThread.run { self.deliver(request) }
    }

    /// ``deliverOnThread(_:key:)``, recording a test failure with the result when it is
    /// not `.delivered` (a retry's message says why: timeout, rejection...).
    @discardableResult
    func expectDelivered(_ issue: CanoSDK.Issue, key: String = "idem-\(UUID().uuidString)", sourceLocation: SourceLocation = #_sourceLocation) async throws -> DeliveryResult {
        let result = try await deliverOnThread(issue, key: key)
        #expect(result.isDelivered, "\(result)", sourceLocation: sourceLocation)
        return result
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
