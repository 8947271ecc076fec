import CanoSDK
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real Alertmanager (Debian's `prometheus-alertmanager`), started by a test with its own
/// config and data directory, posting webhooks to a receiver URL.
public final class AlertmanagerProcess: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    private let process: ChildProcess
    private let log: FileHandle
    /// How long after its launch Alertmanager answered `/-/ready` (to within 5 ms).
    public let startToReady: Duration

    /// Starts Alertmanager and waits until it is ready, on another port if the first was
    /// taken meanwhile (``withFreeLoopbackPort(attempts:what:_:)``). `webhookURL` receives
    /// its webhooks; grouping waits are short so tests see notifications quickly. `groupBy`
    /// is the route's `group_by` (`["..."]`: every alert its own group). Benchmarks pass
    /// `logLevel: "info"`: at debug Alertmanager logs every alert it receives.
    public init(webhookURL: String, bearerToken: String? = nil, groupWait: String = "100ms", groupInterval: String = "1s", maxAlerts: Int = 0,
                groupBy: [String] = ["alertname", "namespace"], logLevel: String = "debug") async throws {
        guard let binary = ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestTimeout(what: "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cano-am-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        let auth = bearerToken.map { "\n        http_config:\n          authorization:\n            credentials: \($0)" } ?? ""
        let config = """
            route:
              receiver: cano
              group_by: [\(groupBy.map { "'\($0)'" }.joined(separator: ", "))]
              group_wait: \(groupWait)
              group_interval: \(groupInterval)
              repeat_interval: 1h
            receivers:
              - name: cano
                webhook_configs:
                  - url: \(webhookURL)
                    send_resolved: true
                    max_alerts: \(maxAlerts)\(auth)
            """
        try config.write(to: directory.appendingPathComponent("am.yml"), atomically: true, encoding: .utf8)
        let logURL = directory.appendingPathComponent("am.log")
        (port, process, log, startToReady) = try await withFreeLoopbackPort(what: "Alertmanager") { port in
            FileManager.default.createFile(atPath: logURL.path, contents: nil)
            let log = try FileHandle(forWritingTo: logURL)
            let process = ChildProcess()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "--config.file=\(directory.appendingPathComponent("am.yml").path)",
                "--storage.path=\(directory.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:\(port)",
                "--cluster.listen-address=",
                "--log.level=\(logLevel)",
            ]
            process.standardOutput = log
            process.standardError = log
            try Subprocess.start(process)
            let ready = await becomesReady(process, readyURL: "http://127.0.0.1:\(port)/-/ready", log: logURL,
                                           listening: "address=127.0.0.1:\(port)\n", timeout: 20)
            if let ready { return .started((port, process, log, ready)) }
            if process.isRunning {
                await BlockingThread.run(name: "test-stop-alertmanager") {
                    process.terminate()
                    process.waitUntilExit()
                }
            }
            try? log.close()
            let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            if saysAddressInUse(text) { return .taken }
            throw TestTimeout(what: "Alertmanager to become ready; its log:\n" + text)
        }
    }

    /// Posts alerts through Alertmanager's own API (`POST /api/v2/alerts`).
    public func post(alerts: [[String: JSONValue]]) throws {
        let body = try IssueCoding.encode(alerts.map { JSONValue.object($0) })
        let response = try HTTPClient().send(HTTPRequest(
            method: "POST", url: "http://127.0.0.1:\(port)/api/v2/alerts",
            headers: [HTTPHeader(name: "Content-Type", value: "application/json")], body: body))
        guard response.status == 200 else { throw TestTimeout(what: "Alertmanager accepting alerts: HTTP \(response.status) \(response.text)") }
    }

    /// The process ID, for reading its CPU time and memory from /proc.
    public var pid: Int32 { process.processIdentifier }

    /// Alertmanager's log so far, for failure messages.
    public var logText: String {
        (try? String(contentsOf: directory.appendingPathComponent("am.log"), encoding: .utf8)) ?? ""
    }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? log.close()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }
}
