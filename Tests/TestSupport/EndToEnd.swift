import CanoSDK
import Foundation

/// What every destination's end-to-end test shares: the pod-like working directory, the
/// collector config's first lines, the alert Alertmanager sends, and Alertmanager's own
/// fingerprint for it. Each test keeps only what is its destination's.
public struct EndToEndWorkspace: Sendable {
    /// A fresh temporary directory; ``remove()`` deletes it.
    public let directory: URL
    /// `plugins/` under it, holding the plugin libraries, as the chart mounts them.
    public let pluginDirectory: URL

    /// The bearer token Alertmanager presents to the collector's intake.
    public static let intakeToken = "e2e-intake-token"

    /// Links the built `lib<product>.so` of each product (`CanoPagerDuty`) into `plugins/`.
    public init(plugins products: [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cano-e2e-\(UUID().uuidString)")
        pluginDirectory = directory.appendingPathComponent("plugins")
        try FileManager.default.createDirectory(at: pluginDirectory, withIntermediateDirectories: true)
        for product in products {
            try FileManager.default.createSymbolicLink(atPath: pluginDirectory.appendingPathComponent("lib\(product).so").path,
                                                       withDestinationPath: try BuildProducts.plugin(product))
        }
    }

    /// Writes `value` to a file named `name` as a Kubernetes Secret mounts it: with a
    /// trailing newline, which the host trims. Returns its path, for a `*_file` key.
    public func secretFile(_ name: String, _ value: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try (value + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The collector config's common head (cluster `e2e`, the intake's bearer token, this
    /// plugin directory), for ``CollectorProcess``: append `destinations:` and routes.
    public var configHead: String {
        """
        cluster: e2e
        data_dir: {{data_dir}}
        server: {host: 127.0.0.1, port: {{port}}, auth: {bearer_token: \(Self.intakeToken)}}
        plugins: {directories: ["\(pluginDirectory.path)"]}
        """
    }

    /// A real Alertmanager posting to `collector`'s intake with the intake token.
    public func alertmanager(for collector: CollectorProcess) async throws -> AlertmanagerProcess {
        try await AlertmanagerProcess(webhookURL: "http://127.0.0.1:\(collector.port)/api/alerts", bearerToken: Self.intakeToken)
    }

    /// Deletes the directory.
    public func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// The alert the destinations' end-to-end tests send: a crash-looping pod, `critical`.
public enum SampleAlert {
    /// `KubePodCrashLooping` for shop/cart-7d9f-x2 (container cart).
    public static let labels: [String: JSONValue] = [
        "alertname": .string("KubePodCrashLooping"), "namespace": .string("shop"), "pod": .string("cart-7d9f-x2"),
        "container": .string("cart"), "severity": .string("critical"),
    ]
    /// Its annotations: a description and a runbook link.
    public static let annotations: [String: JSONValue] = [
        "description": .string("Pod shop/cart-7d9f-x2 is crash looping"), "runbook_url": .string("https://runbooks.example/crashloop"),
    ]
    /// The firing alert, as posted to Alertmanager's API.
    public static var firing: [String: JSONValue] { ["labels": .object(labels), "annotations": .object(annotations)] }
    /// The same alert, resolved now.
    public static var resolved: [String: JSONValue] { ["labels": .object(labels), "endsAt": .string(RFC3339.format(Date()))] }
}

extension AlertmanagerProcess {
    /// Alertmanager's own fingerprint of its first alert (`GET /api/v2/alerts`): the
    /// collector keeps it as the Issue's, so destinations key incidents on it.
    public func firstFingerprint() async throws -> String {
        let port = port
        let listed = try await BlockingThread.run { try HTTPClient().send(HTTPRequest(url: "http://127.0.0.1:\(port)/api/v2/alerts")) }
        guard let fingerprint = try IssueCoding.decode(JSONValue.self, from: listed.body).arrayValue?.first?["fingerprint"]?.stringValue else {
            throw TestTimeout(what: "Alertmanager lists no alert with a fingerprint")
        }
        return fingerprint
    }
}
