import Foundation
import CanoSDK
import Synchronization
import TestSupport
@testable import JiraDestination

/// The API token the double accepts; tests check it never leaks.
let testToken = "ATATT3xFfGF0-jira-SECRET-9d1c27e4"
let testEmail = "alerts@example.com"
/// What `Authorization: Basic` carries for them: as much a secret as the token.
let testBasic = Data((testEmail + ":" + testToken).utf8).base64EncodedString()

/// Every log line the notifier writes, flattened to text for leak checks.
final class LogSink: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func record(_ level: HostServices.LogLevel, _ message: String, _ fields: [String: String]) {
        let text = "\(level) \(message) " + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.withLock { $0.append(text) }
    }
}

/// One test's wiring: the double, a log sink and the notifier's state store.
struct Harness {
    let jira: JiraDouble
    let logs = LogSink()
    /// The state a notifier keeps; a new one stands for a restart that lost it.
    let state = MemoryJiraState()

    static func start() async throws -> Harness {
        // libcurl's process-wide setup, as the host does before loading plugins.
        _ = curlSetup
        return Harness(jira: try await JiraDouble.start(email: testEmail, apiToken: testToken))
    }

    /// The snake_case config a user would write, pointed at the double.
    func configJSON(_ extra: [String: JSONValue] = [:]) -> JSONValue {
        var config: [String: JSONValue] = [
            "url": .string(jira.url), "project": "OPS", "user": .string(testEmail), "api_token": .string(testToken),
        ]
        for (k, v) in extra { config[k] = v }
        return .object(config)
    }

    func notifier(_ extra: [String: JSONValue] = [:], state: MemoryJiraState? = nil) throws -> JiraNotifier {
        let logs = self.logs
        return JiraNotifier(config: try JiraConfig(configJSON(extra)), state: state ?? self.state) { logs.record($0, $1, $2) }
    }

    /// Delivers on a dedicated thread, as the host does (the call blocks in libcurl).
    func deliver(_ notifier: JiraNotifier, _ issue: CanoSDK.Issue, reference: String? = nil, deadline: TimeInterval = 10) async -> DeliveryResult {
        let request = DeliveryRequest(
            issue: issue, issueJSON: (try? IssueCoding.encode(issue)) ?? [], attempt: 1,
            deadline: Date().addingTimeInterval(deadline),
            idempotencyKey: "idem-\(issue.fingerprint)-\(issue.status.rawValue)-\(Int(issue.startsAt.timeIntervalSince1970))", reference: reference)
        return await BlockingThread.run { notifier.deliver(request) }
    }

    /// Runs the create-time credential check on a dedicated thread.
    func checkCredentials(_ notifier: JiraNotifier) async -> PluginError? {
        await BlockingThread.run { () -> PluginError? in
            do throws(PluginError) {
                try notifier.checkCredentials()
                return nil
            } catch {
                return error
            }
        }
    }

    func stop() async { await jira.stop() }
}

/// The host owns curl_global_init; tests stand in for it once per process.
let curlSetup: Void = HTTPClient.initializeProcess()

/// A typical Issue: a crash-looping pod in `shop`.
func makeIssue(
    severity: Severity = .high, status: IssueStatus = .firing, title: String = "KubePodCrashLooping",
    description: String? = "Pod shop/cart-7d9f-x2 is crash looping",
    fingerprint: String = "3f1a9c0d2b7e4f65", startsAt: TimeInterval = 1_799_999_000,
    labels: [String: String] = ["alertname": "KubePodCrashLooping", "namespace": "shop", "severity": "critical"],
    links: [Link] = [Link(title: "Runbook", url: "https://runbooks.example/crashloop")],
    enrichments: [Enrichment] = [], cluster: String? = "prod-eu"
) -> CanoSDK.Issue {
    CanoSDK.Issue(
        type: .alert, source: .prometheus, severity: severity, status: status, title: title, description: description,
        aggregationKey: "KubePodCrashLooping", fingerprint: fingerprint,
        subject: Subject(kind: "Pod", name: "cart-7d9f-x2", namespace: "shop", node: "node-a", container: "cart", labels: labels),
        cluster: cluster, startsAt: Date(timeIntervalSince1970: startsAt),
        endsAt: status == .resolved ? Date(timeIntervalSince1970: startsAt + 1000) : nil,
        links: links, enrichments: enrichments)
}

extension DeliveryResult {
    var deliveredReference: String? {
        if case .delivered(let reference, _) = self { return reference }
        return nil
    }
    var isDelivered: Bool { if case .delivered = self { true } else { false } }
    var isPermanent: Bool { if case .permanent = self { true } else { false } }
    var isRetry: Bool { if case .retry = self { true } else { false } }
    var retryDelay: Duration? { if case .retry(let after, _) = self { after } else { nil } }
    var messageText: String {
        switch self {
        case .delivered(_, let m), .retry(_, let m), .permanent(let m): m
        }
    }
}
