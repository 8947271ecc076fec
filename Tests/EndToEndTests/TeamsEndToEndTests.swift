import CanoSDK
import Foundation
import TestSupport
import Testing

/// The whole product on loopback for Microsoft Teams: a real Alertmanager posts to the real
/// `cano-collector` binary, which loads `libCanoTeams.so` and posts Adaptive Cards to the
/// strict Teams (Workflows) double. The firing posts a card; the resolve posts a second
/// card that names the first. The webhook URL comes from a file (`url_file`), as a
/// Kubernetes Secret mounts it, and never shows in the collector's log or /metrics.
@Suite(.serialized) struct TeamsEndToEndTests {
    @Test func alertmanagerFiringAndResolveReachTeamsAsTwoCards() async throws {
        let teams = try await TeamsDouble.start()
        defer { stopLater { await teams.stop() } }
        let workspace = try EndToEndWorkspace(plugins: ["CanoTeams"])
        defer { workspace.remove() }
        let urlFile = try workspace.secretFile("webhook-url", teams.url)

        let collector = try await CollectorProcess(configYAML: """
            \(workspace.configHead)
            destinations:
              - name: teams
                type: msteams
                config: {url_file: "\(urlFile)", timeout: 10s}
            default_destinations: [teams]
            """, directory: workspace.directory)
        defer { collector.stop() }
        let am = try await workspace.alertmanager(for: collector)
        defer { am.stop() }
        let labels: [String: JSONValue] = [
            "alertname": .string("KubePodCrashLooping"), "namespace": .string("shop"), "pod": .string("cart-7d9f-x2"),
            "container": .string("cart"), "severity": .string("critical"),
        ]
        let annotations: [String: JSONValue] = [
            "summary": .string("🔥 Pod shop/cart-7d9f-x2 is crash looping"),
            "description": .string("Pod shop/cart-7d9f-x2 is crash looping"),
            "runbook_url": .string("https://runbooks.example/crashloop"),
        ]
        // A fixed start ten minutes ago, whole seconds, as a Prometheus rule would give it.
        let startsAt = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 600).rounded(.down))
        try am.post(alerts: [["labels": .object(labels), "annotations": .object(annotations), "startsAt": .string(RFC3339.format(startsAt))]])
        try await waitUntil("Teams to get the firing card", timeout: .seconds(30)) { !teams.cards.isEmpty }
        #expect(teams.rejections.isEmpty, "\(teams.rejections)")
        let firing = teams.cards[0]
        let header = try #require(firing["body"]?.arrayValue?.first)
        #expect(header["style"]?.stringValue == "attention", "critical → HIGH → red")
        let title = try #require(header["items"]?.arrayValue?.first?["text"]?.stringValue)
        #expect(title.contains("KubePodCrashLooping") || title.contains("crash looping"), "\(title)")
        let facts = Dictionary(
            (firing["body"]?.arrayValue ?? []).filter { $0["type"]?.stringValue == "FactSet" }
                .flatMap { $0["facts"]?.arrayValue ?? [] }
                .compactMap { f in f["title"]?.stringValue.flatMap { t in f["value"]?.stringValue.map { (t, $0) } } },
            uniquingKeysWith: { a, _ in a })
        #expect(facts["Cluster"] == "e2e")
        #expect(facts["Namespace"] == "shop")
        let fired = String(RFC3339.format(startsAt).prefix(19)).replacingOccurrences(of: "T", with: " ") + " UTC"
        #expect(facts["Started"] == fired)
        #expect(facts["pod"] == "cart-7d9f-x2")
        #expect(teams.requests[0].target == TeamsDouble.samplePath, "the URL from url_file, signature included")

        // Alertmanager resolves it: a second card naming the first.
        // The same startsAt as the firing: the host finds the firing's reference by
        // (fingerprint, startsAt).
        try am.post(alerts: [["labels": .object(labels), "annotations": .object(annotations), "startsAt": .string(RFC3339.format(startsAt)),
                              "endsAt": .string(RFC3339.format(Date()))]])
        try await waitUntil("Teams to get the resolved card", timeout: .seconds(30)) { teams.cards.count >= 2 }
        let resolved = teams.cards[1]
        let resolvedHeader = try #require(resolved["body"]?.arrayValue?.first)
        #expect(resolvedHeader["style"]?.stringValue == "good")
        #expect(resolvedHeader["items"]?.arrayValue?.first?["text"]?.stringValue == "Resolved: " + title)
        let line = try #require((resolved["body"]?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }.first { $0.hasPrefix("Resolves ") })
        #expect(line.contains("which fired at \(fired)"), "\(line)")
        #expect(line.contains("its card was posted at"), "the firing's reference came back with the resolve: \(line)")
        #expect(teams.rejections.isEmpty, "\(teams.rejections)")
        try await AdaptiveCardSchema.validate(messages: teams.acceptedBodies)

        try await waitUntil("both deliveries counted") {
            try collector.get("/metrics").text.contains(#"cano_deliveries_total{destination="teams",result="delivered"} 2"#)
        }
        let metrics = try collector.get("/metrics").text
        for secret in [TeamsDouble.sampleSignature, "e2e-intake-token"] {
            #expect(!collector.log.contains(secret), "the secret leaked into the collector's log")
            #expect(!metrics.contains(secret), "the secret leaked into /metrics")
        }
    }
}
