import CanoSDK
import Crypto
import Foundation
import TestSupport
import Testing

/// The whole product on loopback: a real Alertmanager posts webhooks to the real
/// `cano-collector` binary, which delivers through the Webhook plugin loaded as a `.so`.
@Suite(.serialized) struct EndToEndTests {
    @Test func alertmanagerToWebhookPluginThroughTheBinary() async throws {
        let receiver = try await ReceiverDouble.start()
        let pluginDir = FileManager.default.temporaryDirectory.appendingPathComponent("cano-plugins-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: pluginDir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: pluginDir.appendingPathComponent("libCanoWebhook.so").path,
                                                   withDestinationPath: try BuildProducts.plugin("CanoWebhook"))
        let collector = try await CollectorProcess(configYAML: """
            cluster: e2e
            data_dir: {{data_dir}}
            server: {host: 127.0.0.1, port: {{port}}, auth: {bearer_token: e2e-intake-token}}
            plugins: {directories: ["\(pluginDir.path)"]}
            destinations:
              - name: receiver
                type: webhook
                config: {url: "\(receiver.url("/hook/secret-path-key"))", hmac_secret: e2e-hmac-secret}
            default_destinations: [receiver]
            """)
        let am = try await AlertmanagerProcess(webhookURL: "http://127.0.0.1:\(collector.port)/api/alerts", bearerToken: "e2e-intake-token")
        try am.post(alerts: [[
            "labels": .object(["alertname": .string("KubePodCrashLooping"), "namespace": .string("shop"), "pod": .string("cart-7d9f-x2"),
                               "container": .string("cart"), "severity": .string("critical")]),
            "annotations": .object(["description": .string("Pod shop/cart-7d9f-x2 is crash looping"), "runbook_url": .string("https://runbooks.example/crashloop")]),
            "generatorURL": .string("http://prometheus/graph?g0.expr=x"),
        ]])
        try await waitUntil("the receiver to get the firing Issue", timeout: .seconds(30)) { receiver.requests.count >= 1 }
        let request = try #require(receiver.requests.first)
        try await IssueSchema.validate([request.body])
        // Alertmanager's notification is one group (its groupKey); the Webhook plugin takes
        // groups, so it gets one grouped Issue with the alert as its member.
        let group = try IssueCoding.decode(CanoSDK.Issue.self, from: request.body)
        #expect(group.type == .group && group.status == .firing)
        #expect(group.title == "1 pod KubePodCrashLooping in shop")
        #expect(group.group?.kind == .alertmanager && group.group?.firing == 1)
        #expect(group.source == .prometheus && group.cluster == "e2e")
        #expect(group.description?.contains("1 firing") == true)
        let issue = try #require(group.group?.members.first)
        #expect(issue.status == .firing)
        #expect(issue.title == "KubePodCrashLooping")
        #expect(issue.severity == .high)
        #expect(issue.subject.kind == "Pod")
        #expect(issue.subject.name == "cart-7d9f-x2")
        #expect(issue.subject.namespace == "shop")
        #expect(issue.subject.container == "cart")
        #expect(issue.description == "Pod shop/cart-7d9f-x2 is crash looping")
        #expect(issue.links.contains { $0.url == "https://runbooks.example/crashloop" })
        #expect(request.target == "/hook/secret-path-key")
        let mac = HMAC<SHA256>.authenticationCode(for: request.body, using: SymmetricKey(data: Array("e2e-hmac-secret".utf8)))
        #expect(request.header("X-Cano-Signature") == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())

        // Resolve it: Alertmanager sends the resolved notification; the same fingerprint arrives resolved.
        try am.post(alerts: [[
            "labels": .object(["alertname": .string("KubePodCrashLooping"), "namespace": .string("shop"), "pod": .string("cart-7d9f-x2"),
                               "container": .string("cart"), "severity": .string("critical")]),
            "startsAt": .string(RFC3339.format(issue.startsAt)),
            "endsAt": .string(RFC3339.format(Date())),
        ]])
        try await waitUntil("the receiver to get the resolved Issue", timeout: .seconds(30)) { receiver.requests.count >= 2 }
        let resolvedGroup = try IssueCoding.decode(CanoSDK.Issue.self, from: receiver.requests[1].body)
        #expect(resolvedGroup.status == .resolved && resolvedGroup.fingerprint == group.fingerprint, "the same group, resolved")
        let resolved = try #require(resolvedGroup.group?.members.first)
        #expect(resolved.status == .resolved)
        #expect(resolved.fingerprint == issue.fingerprint)
        #expect(resolved.endsAt != nil)

        // The engine counts a delivery after the plugin returns, a moment after the receiver saw it.
        try await waitUntil("both deliveries counted") {
            try collector.get("/metrics").text.contains(#"cano_deliveries_total{destination="receiver",result="delivered"} 2"#)
        }
        let metrics = try collector.get("/metrics").text
        // No secret reaches logs or metrics.
        for secret in ["e2e-intake-token", "e2e-hmac-secret", "secret-path-key"] {
            #expect(!collector.log.contains(secret), "\(secret) leaked into the log")
            #expect(!metrics.contains(secret))
        }
    }
}

/// A destination whose plugin cannot be loaded leaves only that destination unready.
@Suite(.serialized) struct DegradedStartTests {
    @Test func aBrokenPluginLeavesTheOtherDestinationsWorking() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cano-degraded-\(UUID().uuidString)")
        let pluginDir = dir.appendingPathComponent("plugins")
        try FileManager.default.createDirectory(at: pluginDir, withIntermediateDirectories: true)
        // Not a shared object at all: the loader must refuse it with one clear line.
        try Data("not an ELF file".utf8).write(to: pluginDir.appendingPathComponent("libbroken.so"))
        let out = dir.appendingPathComponent("issues.jsonl").path
        let collector = try await CollectorProcess(configYAML: """
            data_dir: {{data_dir}}
            server: {host: 127.0.0.1, port: {{port}}}
            plugins: {directories: ["\(pluginDir.path)"]}
            destinations:
              - {name: pager, type: pagerdoody, config: {routing_key: x}}
              - {name: out, type: file, config: {path: "\(out)"}}
            routes:
              - {matchers: ['severity="HIGH"'], destinations: [pager, out]}
            default_destinations: [out]
            """, directory: dir)
        #expect(try collector.get("/readyz").status == 200)
        let response = try collector.postAlerts(try Fixtures.data("alertmanager/am-0.25-captured/firing-oomkilled.json"))
        #expect(response.status == 200)
        try await waitUntil("the working destination to deliver") {
            ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").contains("KubeContainerOOMKilled")
        }
        let metrics = try collector.get("/metrics").text
        #expect(metrics.contains(#"cano_destination_ready{destination="pager"} 0"#))
        #expect(metrics.contains(#"cano_destination_ready{destination="out"} 1"#))
        #expect(metrics.contains(#"cano_plugin_load_failures_total{reason="#))
        #expect(collector.log.split(separator: "\n").filter { $0.contains("plugin refused") && $0.contains("libbroken.so") }.count == 1)
        #expect(collector.log.contains(#"unknown destination type \"pagerdoody\""#), "a type no plugin provides")
        // The undeliverable copy waits in the outbox instead of being dropped.
        #expect(metrics.contains(#"cano_queue_depth{destination="pager"} 1"#))
    }
}
