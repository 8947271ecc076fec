import Foundation
import CanoSDK
import Collector
import Logging
import Synchronization
import Testing
import TestSupport
@testable import DatadogDestination

/// The API key tests configure; leak checks look for it everywhere.
let testAPIKey = "dd0api0key0c4n0SECRET0123456789ab"

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

/// One test's wiring: a double playing `site`, and a log sink.
struct Harness {
    let datadog: DatadogDouble
    let site: String
    let logs = LogSink()

    static func start(site: String = "US1", apiKeys: Set<String> = [testAPIKey]) async throws -> Harness {
        _ = curlSetup
        return Harness(datadog: try await DatadogDouble.start(site: site, apiKeys: apiKeys), site: site)
    }

    /// The snake_case config a user would write, pointed at the double.
    func config(_ extra: [String: JSONValue] = [:]) -> JSONValue {
        // A generous timeout: the machine is shared with other tests, and a slow answer
        // must not pass for a Datadog outage.
        var config: [String: JSONValue] = [
            "api_key": .string(testAPIKey), "site": .string(site), "api_url": .string(datadog.url), "timeout": "30s",
        ]
        for (k, v) in extra { config[k] = v }
        return .object(config.filter { $0.value != .null })
    }

    func notifier(_ extra: [String: JSONValue] = [:]) throws -> DatadogNotifier {
        let logs = self.logs
        return DatadogNotifier(config: try DatadogConfig(config(extra))) { logs.record($0, $1, $2) }
    }

    func stop() async { await datadog.stop() }
}

enum Sample {
    static let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    /// A Prometheus alert Issue, as the collector maps one from Alertmanager.
    static func issue(_ status: IssueStatus = .firing, fingerprint: String = "3f2a9c0d11e4b7a8", severity: Severity = .high) -> CanoSDK.Issue {
        let subject = Subject(
            kind: "Pod", name: "cart-7d9f-x2", namespace: "shop", container: "cart",
            labels: ["alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "cart-7d9f-x2", "severity": "critical", "team": "Payments Core"],
            annotations: ["runbook_url": "https://runbooks.example/crashloop"])
        var issue = CanoSDK.Issue(
            type: .alert, source: .prometheus, severity: severity, status: status, title: "KubePodCrashLooping",
            description: "Pod shop/cart-7d9f-x2 is crash looping",
            aggregationKey: "KubePodCrashLooping", fingerprint: fingerprint, subject: subject,
            cluster: "prod-eu", startsAt: start,
            links: [Link(title: "Runbook", url: "https://runbooks.example/crashloop")],
            enrichments: [Enrichment(type: "pod_logs", title: "Pod logs", blocks: [.markdown("panic: nil map"), .list(["restart 1", "restart 2"])])])
        if status == .resolved { issue.endsAt = start.addingTimeInterval(300) }
        return issue
    }

    static func request(_ issue: CanoSDK.Issue, timeout: TimeInterval = 30) throws -> DeliveryRequest {
        DeliveryRequest(issue: issue, issueJSON: try IssueCoding.encode(issue), attempt: 1, deadline: Date().addingTimeInterval(timeout),
                        idempotencyKey: "idem-\(UUID().uuidString)", reference: nil)
    }
}

extension DatadogNotifier {
    /// Delivers on a dedicated thread, as the host does: libcurl blocks, and a blocked
    /// cooperative-pool thread would stall the other tests on this 2-core machine.
    func deliverOnThread(_ issue: CanoSDK.Issue) async throws -> DeliveryResult {
        let request = try Sample.request(issue)
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

/// Parses a config, returning the error message (nil when it parsed).
func configError(_ json: JSONValue) -> String? {
    do {
        _ = try DatadogConfig(json)
        return nil
    } catch {
        return error.message
    }
}

/// The host-services table create gets (TestSupport's).
typealias TestHost = PluginTestHost

extension Harness {
    /// Runs the plugin's create (`Datadog.init`) on a dedicated thread, as the host does:
    /// create makes a network call (the key check), so it must never block Swift's
    /// cooperative pool. Returns create's error message, or nil when it succeeded.
    func create(_ extra: [String: JSONValue] = [:], host: TestHost = TestHost()) async -> String? {
        await host.create(Datadog.self, config: self.config(extra))
    }
}
