import CanoSDK
import Foundation
import TestSupport
import Testing

/// Noise control through the real binary and a real Alertmanager (docs/noise-control.md).
@Suite(.serialized) struct NoiseControlEndToEndTests {
    /// A silence made with the CLI holds an alert; its expiry delivers it, and an alert that
    /// resolved while silenced is never sent.
    @Test func aSilenceMadeWithTheCLISuppressesThenExpiryDelivers() async throws {
        let workspace = try EndToEndWorkspace(plugins: ["CanoWebhook"])
        defer { workspace.remove() }
        let receiver = try await ScriptedHTTPServer.start()
        let collector = try await Self.collector(workspace, receiver)
        defer { collector.stop() }
        let add = try await CollectorCLI.run(["silences", "add", "--matcher", "namespace=\"shop\"", "--duration", "1h",
                                              "--author", "e2e", "--comment", "maintenance", "--config", collector.configPath])
        #expect(add.status == 0, "\(add.output)")
        let id = add.output.trimmingCharacters(in: .whitespacesAndNewlines)

        let am = try await workspace.alertmanager(for: collector)
        defer { am.stop() }
        try am.post(alerts: [Self.alert("held-pod", namespace: "shop"), Self.alert("gone-pod", namespace: "shop"), Self.alert("web-pod", namespace: "web")])
        try await waitUntil("the unsilenced alert delivered", timeout: .seconds(30)) { Self.delivered(receiver, mentioning: "web-pod") }
        try am.post(alerts: [Self.alert("gone-pod", namespace: "shop", resolved: true)])
        try await waitUntil("Alertmanager's resolve of gone-pod at the collector", timeout: .seconds(30)) {
            (try? collector.get("/metrics").text).map { Self.metric($0, "cano_alerts_received_total{outcome=\"accepted\"}") >= 5 } ?? false
        }
        #expect(!Self.delivered(receiver, mentioning: "held-pod") && !Self.delivered(receiver, mentioning: "gone-pod"), "silenced alerts were sent")

        let expire = try await CollectorCLI.run(["silences", "expire", id, "--config", collector.configPath])
        #expect(expire.status == 0, "\(expire.output)")
        try await waitUntil("the held alert delivered once the silence expired", timeout: .seconds(30)) { Self.delivered(receiver, mentioning: "held-pod") }
        let notification = try #require(receiver.delivered.compactMap(\.issue).last { $0.group?.members.contains { $0.subject.name == "held-pod" } == true })
        #expect(notification.group?.members.map(\.subject.name) == ["held-pod"], "gone-pod resolved while silenced: nothing is sent for it")
        #expect(!Self.delivered(receiver, mentioning: "gone-pod"))
        let metrics = try collector.get("/metrics").text
        #expect(Self.metric(metrics, "cano_issues_suppressed_total{destination=\"hook\",reason=\"resolved_before_notified\"}") == 1)
        await receiver.stop()
    }

    /// `min_duration`: an alert that fires and resolves within it is never sent; one that
    /// keeps firing is sent once it is that old.
    @Test func minDurationHidesAFlap() async throws {
        let workspace = try EndToEndWorkspace(plugins: ["CanoWebhook"])
        defer { workspace.remove() }
        let receiver = try await ScriptedHTTPServer.start()
        let collector = try await Self.collector(workspace, receiver, extra: "default_notify: {min_duration: 6s}")
        defer { collector.stop() }
        let am = try await workspace.alertmanager(for: collector)
        defer { am.stop() }
        try am.post(alerts: [Self.alert("flap-pod", namespace: "shop"), Self.alert("stays-pod", namespace: "shop")])
        try await waitUntil("both alerts at the collector", timeout: .seconds(30)) {
            (try? collector.get("/metrics").text).map { Self.metric($0, "cano_alerts_received_total{outcome=\"accepted\"}") >= 2 } ?? false
        }
        try am.post(alerts: [Self.alert("flap-pod", namespace: "shop", resolved: true)])
        try await waitUntil("the alert that kept firing delivered", timeout: .seconds(30)) { Self.delivered(receiver, mentioning: "stays-pod") }
        #expect(!Self.delivered(receiver, mentioning: "flap-pod"), "the flap was notified")
        let metrics = try collector.get("/metrics").text
        #expect(Self.metric(metrics, "cano_issues_suppressed_total{destination=\"hook\",reason=\"resolved_before_notified\"}") == 1)
        await receiver.stop()
    }

    // MARK: - Support

    /// A collector delivering everything to `receiver` through the Webhook plugin; `extra`
    /// is appended to its config.
    static func collector(_ workspace: EndToEndWorkspace, _ receiver: ScriptedHTTPServer, extra: String = "") async throws -> CollectorProcess {
        try await CollectorProcess(configYAML: workspace.configHead + """

            destinations:
              - {name: hook, type: webhook, config: {url: "\(receiver.url)"}}
            default_destinations: [hook]
            \(extra)
            """, directory: workspace.directory.appendingPathComponent("collector"))
    }

    static func alert(_ pod: String, namespace: String, resolved: Bool = false) -> [String: JSONValue] {
        var alert: [String: JSONValue] = ["labels": .object([
            "alertname": .string("KubePodCrashLooping"), "namespace": .string(namespace), "pod": .string(pod), "severity": .string("critical"),
        ])]
        if resolved { alert["endsAt"] = .string(RFC3339.format(Date())) }
        return alert
    }

    /// True when a delivered Issue (or a member of a delivered group) is about `pod`.
    static func delivered(_ receiver: ScriptedHTTPServer, mentioning pod: String) -> Bool {
        receiver.delivered.compactMap(\.issue).contains { issue in
            issue.subject.name == pod || issue.group?.members.contains { $0.subject.name == pod } == true
        }
    }

    /// The value of one metric line (name with labels exactly as exposed), or 0.
    static func metric(_ text: String, _ series: String) -> Double {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1)) ?? 0
        }
        return 0
    }
}
