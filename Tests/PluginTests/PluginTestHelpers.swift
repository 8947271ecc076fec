import CanoSDK
import Collector
import Foundation
import Logging
import TestSupport

/// Services whose log lines, metrics and key-value store a test can inspect.
struct TestServices {
    let logs = LogCapture()
    let store = InMemoryKeyValueStore()
    let metrics = Metrics()

    var logger: Logger {
        let logs = logs
        return Logger(label: "cano.test") { JSONLogHandler(label: $0, level: .debug, output: .capture(logs)) }
    }

    var services: PluginServices { PluginServices(logger: logger, store: store, metrics: metrics) }
}

/// Compiled fixture plugins in a fresh temporary directory.
struct FixturePlugins {
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory(prefix: "cano-plugins")
    }

    /// Compiles `Tests/Fixtures/plugins/<name>.c` into `<output>.so`.
    func build(_ name: String, as output: String? = nil, defines: [String] = []) async throws -> String {
        try await CPluginCompiler.compile(CPluginCompiler.fixture(name + ".c"), into: directory.path, as: (output ?? name) + ".so", defines: defines)
    }

    /// Compiles the example C plugin.
    func buildExample() async throws -> String {
        try await CPluginCompiler.compile(CPluginCompiler.examplePlugin, into: directory.path, as: "jsonl-c.so")
    }
}

enum Samples {
    static let start = Date(timeIntervalSince1970: 1_767_225_600)

    static func issue(_ status: IssueStatus = .firing, fingerprint: String = "fp-1") -> Issue {
        var issue = Issue(
            type: .alert, source: .prometheus, severity: .high, status: status, title: "KubePodCrashLooping",
            aggregationKey: "KubePodCrashLooping", fingerprint: fingerprint,
            subject: Subject(kind: "Pod", name: "worker-1", namespace: "payments"), startsAt: start)
        if status == .resolved { issue.endsAt = start.addingTimeInterval(60) }
        return issue
    }

    static func json(_ issue: Issue) throws -> [UInt8] { try IssueCoding.encode(issue) }

    static func context(attempt: Int = 1, timeout: Duration = .seconds(5), key: String = "key-1", reference: [UInt8]? = nil) -> DeliveryContext {
        let millis = Int64(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return DeliveryContext(
            attempt: attempt, deadlineUnixMillis: Int64(Date().timeIntervalSince1970 * 1000) + millis,
            deadline: .now + timeout, idempotencyKey: key, reference: reference)
    }
}

extension Destination {
    /// Delivers on a dedicated thread, as the engine does (plugins may block).
    func deliverOnThread(_ issueJSON: [UInt8], _ context: DeliveryContext) async -> DeliveryOutcome {
        await BlockingThread.run { self.deliver(issueJSON: issueJSON, context: context) }
    }

    /// ``deliverOnThread(_:_:)`` with the call's duration, timed on that thread: the
    /// plugin's own time, without the wait for a free thread of Swift's cooperative pool
    /// to resume the test (seconds on a loaded 2-core machine).
    func timedDeliverOnThread(_ issueJSON: [UInt8], _ context: DeliveryContext) async -> (DeliveryOutcome, Duration) {
        await BlockingThread.run {
            let started = ContinuousClock.now
            let outcome = self.deliver(issueJSON: issueJSON, context: context)
            return (outcome, started.duration(to: .now))
        }
    }
}

/// Process-wide setup a host does before loading plugins.
enum ProcessSetup {
    /// The host owns curl_global_init (plugins must not call it).
    static let curl: Void = HTTPClient.initializeProcess()
}
