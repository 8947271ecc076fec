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

    /// Starts Alertmanager and waits until it is ready. `webhookURL` receives its webhooks;
    /// grouping waits are short so tests see notifications quickly. Benchmarks pass
    /// `logLevel: "info"`: at debug Alertmanager logs every alert it receives.
    public init(webhookURL: String, bearerToken: String? = nil, groupWait: String = "100ms", groupInterval: String = "1s", maxAlerts: Int = 0,
                logLevel: String = "debug") throws {
        guard let binary = ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestTimeout(what: "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cano-am-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let auth = bearerToken.map { "\n        http_config:\n          authorization:\n            credentials: \($0)" } ?? ""
        let config = """
            route:
              receiver: cano
              group_by: ['alertname', 'namespace']
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
        // A port free a moment ago can be taken by another test before Alertmanager binds
        // it ("address already in use", seen in CI): then try another, at most three.
        for attempt in 1...3 {
            let port = try freeLoopbackPort()
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
            let client = HTTPClient()
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if let r = try? client.send(HTTPRequest(url: "http://127.0.0.1:\(port)/-/ready", timeout: .seconds(1))), r.status == 200 {
                    (self.port, self.process, self.log) = (port, process, log)
                    return
                }
                guard process.isRunning else { break }
                usleep(50_000)  // start-up poll, bounded by the deadline above
            }
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
            try? log.close()
            let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            if attempt < 3, text.contains("address already in use") { continue }
            throw TestTimeout(what: "Alertmanager to become ready; its log:\n" + text)
        }
        throw TestTimeout(what: "Alertmanager to become ready: every port tried was taken")
    }

    /// Posts alerts through Alertmanager's own API (`POST /api/v2/alerts`).
    public func post(alerts: [[String: JSONValue]]) throws {
        let body = try IssueCoding.encode(alerts.map { JSONValue.object($0) })
        let response = try HTTPClient().send(HTTPRequest(
            method: "POST", url: "http://127.0.0.1:\(port)/api/v2/alerts",
            headers: [HTTPHeader(name: "Content-Type", value: "application/json")], body: body))
        guard response.status == 200 else { throw TestTimeout(what: "Alertmanager accepting alerts: HTTP \(response.status) \(response.text)") }
    }

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

/// A loopback TCP port that was free a moment ago (bind to port 0, read it, close).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestTimeout(what: "a socket") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    guard bound == 0 else { throw TestTimeout(what: "binding a free port") }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
