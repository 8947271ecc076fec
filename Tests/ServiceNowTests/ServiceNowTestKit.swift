import CanoSDK
import Foundation
import Synchronization
import TestSupport
import Collector
import Logging
@testable import ServiceNowDestination

/// The integration user and password the double accepts; tests check the password never leaks.
let testUsername = "cano.integration"
let testPassword = "sn-pw-5d1c9e7a-SECRET-41f0b2"

/// Every log line the notifier writes, flattened to text for leak checks.
final class LogSink: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func record(_ level: HostServices.LogLevel, _ message: String, _ fields: [String: String]) {
        let text = "\(level) \(message) " + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.withLock { $0.append(text) }
    }
}

/// One test's wiring: the double and a log sink.
struct Harness {
    let servicenow: ServiceNowDouble
    let logs = LogSink()
    /// The credential keys of the config; nil for the Basic-auth user the double accepts.
    var credentials: [String: JSONValue]? = nil
    /// The notifier's clock (OAuth token expiry).
    var now: @Sendable () -> Date = { Date() }

    static func start() async throws -> Harness {
        // libcurl's process-wide setup, as the host does before loading plugins.
        _ = curlSetup
        return Harness(servicenow: try await ServiceNowDouble.start(username: testUsername, password: testPassword))
    }

    /// The snake_case config a user would write, pointed at the double.
    func configJSON(_ extra: [String: JSONValue] = [:]) -> JSONValue {
        var config: [String: JSONValue] = credentials ?? ["username": .string(testUsername), "password": .string(testPassword)]
        config["instance_url"] = .string(servicenow.instanceURL)
        for (k, v) in extra { config[k] = v }
        return .object(config)
    }

    /// A notifier as one collector process would have it: a new one stands for a restart.
    func notifier(_ extra: [String: JSONValue] = [:]) throws -> ServiceNowNotifier {
        let logs = self.logs
        return ServiceNowNotifier(config: try ServiceNowConfig(configJSON(extra)), now: now) { logs.record($0, $1, $2) }
    }

    /// Delivers on a dedicated thread, as the host does (the call blocks in libcurl).
    func deliver(_ notifier: ServiceNowNotifier, _ issue: Issue, reference: String? = nil, deadline: TimeInterval = 10) async -> DeliveryResult {
        let request = DeliveryRequest(
            issue: issue, issueJSON: (try? IssueCoding.encode(issue)) ?? [], attempt: 1,
            deadline: Date().addingTimeInterval(deadline),
            idempotencyKey: "idem-\(issue.fingerprint)-\(issue.status.rawValue)", reference: reference)
        return await BlockingThread.run { notifier.deliver(request) }
    }

    func stop() async { await servicenow.stop() }
}

/// The host owns curl_global_init; tests stand in for it once per process.
let curlSetup: Void = HTTPClient.initializeProcess()

/// A typical Issue: a crash-looping pod in `shop`.
func makeIssue(
    severity: Severity = .high, status: IssueStatus = .firing, title: String = "KubePodCrashLooping",
    description: String? = "Pod shop/cart-7d9f-x2 is crash looping",
    fingerprint: String = "3f1a9c0d2b7e4f65", cluster: String? = "prod-eu",
    startsAt: Date = Date(timeIntervalSince1970: 1_799_999_000)
) -> Issue {
    Issue(
        type: .alert, source: .prometheus, severity: severity, status: status, title: title, description: description,
        aggregationKey: "KubePodCrashLooping", fingerprint: fingerprint,
        subject: Subject(kind: "Pod", name: "cart-7d9f-x2", namespace: "shop", node: "node-a", container: "cart",
                         labels: ["alertname": "KubePodCrashLooping", "namespace": "shop", "severity": "critical"],
                         annotations: ["runbook_url": "https://runbooks.example/crashloop"]),
        cluster: cluster, startsAt: startsAt,
        endsAt: status == .resolved ? Date(timeIntervalSince1970: 1_800_000_000) : nil,
        links: [Link(title: "Runbook", url: "https://runbooks.example/crashloop")], enrichments: [])
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

/// An IMF-fixdate (RFC 9110 §5.6.7), as a Retry-After date: "Sun, 06 Nov 1994 08:49:37 GMT".
func imfFixdate(_ date: Date) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return formatter.string(from: date)
}

/// The host-services table create gets (TestSupport's).
typealias TestHost = PluginTestHost

extension Harness {
    /// Runs the plugin's create (`ServiceNow.init`) on a dedicated thread, as the host does:
    /// since create makes a network call, it must never block Swift's cooperative pool.
    /// Returns create's error message, or nil when it succeeded.
    func create(_ extra: [String: JSONValue] = [:], host: TestHost = TestHost()) async -> String? {
        await host.create(ServiceNow.self, config: configJSON(extra))
    }
}

/// A clock a test moves by hand, for OAuth token expiry without waiting.
final class ManualClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
    /// The clock as the closure the double and the notifier take.
    var reading: @Sendable () -> Date { { self.now } }
}

/// The OAuth client the OAuth tests register. The secret has characters a form must
/// percent-encode, so a leak check covers its encoded form too.
let testClientID = "cano-oauth-client-4c2b"
let testClientSecret = "sn-cs&7f+e1/a9=SECRET"

extension Harness {
    /// A double with ServiceNow's OAuth token endpoint, and the config keys for it.
    static func startOAuth(grant: ServiceNowDoubleOAuthClient.Grant = .clientCredentials, lifetime: Int = 1800,
                           doubleClock: ManualClock? = nil, pluginClock: ManualClock? = nil) async throws -> Harness {
        _ = curlSetup
        var client = ServiceNowDoubleOAuthClient(clientID: testClientID, clientSecret: testClientSecret, grant: grant, lifetime: lifetime)
        var credentials: [String: JSONValue] = ["client_id": .string(testClientID), "client_secret": .string(testClientSecret)]
        if grant == .password {
            client.username = testUsername
            client.password = testPassword
            credentials["username"] = .string(testUsername)
            credentials["password"] = .string(testPassword)
        }
        let system: @Sendable () -> Date = { Date() }
        let servicenow = try await ServiceNowDouble.start(oauth: client, now: doubleClock.map { $0.reading } ?? system)
        return Harness(servicenow: servicenow, credentials: credentials, now: pluginClock.map { $0.reading } ?? system)
    }
}
