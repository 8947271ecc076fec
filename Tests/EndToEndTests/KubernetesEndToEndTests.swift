import CanoSDK
import FakeKubeAPIServer
import Foundation
import TestSupport
import Testing

/// The binary watching a cluster: the fake API server (HTTPS, token auth) is reached through
/// a kubeconfig, exactly as in production outside a cluster.
@Suite(.serialized) struct KubernetesEndToEndTests {
    @Test func crashLoopingPodBecomesAnIssueThroughTheBinary() async throws {
        let token = "kube-e2e-token-\(UUID().uuidString.prefix(6))"
        let server = try await FakeKubeAPIServer.start(tokens: [token])
        try await withStops { (stops: StopList) async throws -> Void in
            stops.add { await server.shutdown() }
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cano-kube-e2e-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let kubeconfig = server.kubeconfig(token: token)
            try kubeconfig.write(to: dir.appendingPathComponent("kubeconfig"), atomically: true, encoding: .utf8)
            let issuesFile = dir.appendingPathComponent("issues.jsonl").path
            let collector = try await CollectorProcess(configYAML: """
                cluster: kind-e2e
                data_dir: {{data_dir}}
                server: {host: 127.0.0.1, port: {{port}}}
                destinations:
                  - {name: out, type: file, config: {path: "\(issuesFile)"}}
                default_destinations: [out]
                kubernetes:
                  enabled: true
                  kubeconfig: \(dir.appendingPathComponent("kubeconfig").path)
                  leader_election: {enabled: false}
                """, directory: dir)
            try await waitUntil("the collector to watch pods", timeout: .seconds(30)) { server.cluster.openWatches("pods") >= 1 }

            let pod = try Fixtures.load("pods/pod-crashloopbackoff-managedfields.json")
                .setting("metadata.namespace", to: .string("shop"))
                .setting("metadata.name", to: .string("web-5d4f8-aaaaa"))
                .removing("metadata.resourceVersion")
            server.cluster.apply("pods", pod)
            try await waitUntil("the crash loop Issue in the destination file", timeout: .seconds(30)) {
                ((try? String(contentsOfFile: issuesFile, encoding: .utf8)) ?? "").contains("CrashLoopBackOff")
            }
            let line = try #require(try String(contentsOfFile: issuesFile, encoding: .utf8).split(separator: "\n").first)
            try await IssueSchema.validate([Array(line.utf8)])
            let issue = try IssueCoding.decode(CanoSDK.Issue.self, from: Array(line.utf8))
            #expect(issue.source == .kubernetes)
            #expect(issue.type == .event)
            #expect(issue.cluster == "kind-e2e")
            #expect(issue.subject.namespace == "shop")
            #expect(issue.subject.name == "web-5d4f8-aaaaa")
            #expect(!collector.log.contains(token), "the service account token leaked into the log")
        }
    }

    /// Issue 11: two real collectors share one PostgreSQL database and the fake API server's
    /// Lease. The leader reports a crash loop and is killed; a second pod starts crash-looping
    /// while nobody leads; the new leader reports that one once, resolves the first when its
    /// pod is healthy (the original's fingerprint, so the message is updated), and repeats
    /// nothing.
    @Test func aLeaderFailoverResolvesWhatTheOldLeaderReportedAndReportsTheGap() async throws {
        let token = "kube-ha-token-\(UUID().uuidString.prefix(6))"
        let server = try await FakeKubeAPIServer.start(tokens: [token])
        try await withStops { (stops: StopList) async throws -> Void in
            stops.add { await server.shutdown() }
            let receiver = try await ScriptedHTTPServer.start()
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cano-kube-ha-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try server.kubeconfig(token: token).write(to: dir.appendingPathComponent("kubeconfig"), atomically: true, encoding: .utf8)
            let postgres = try await PostgresServer.shared
            let databaseURL = try await postgres.makeDatabase(prefix: "kubeha")
            let yaml = """
                cluster: kind-ha
                data_dir: {{data_dir}}
                server: {host: 127.0.0.1, port: {{port}}}
                storage: {postgres: {url: "${HA_DATABASE_URL}", claim_lease: 3s}}
                plugins: {paths: ["\(try BuildProducts.plugin("CanoWebhook"))"]}
                destinations:
                  - {name: hook, type: webhook, config: {url: "\(receiver.url)"}}
                default_destinations: [hook]
                kubernetes:
                  enabled: true
                  kubeconfig: \(dir.appendingPathComponent("kubeconfig").path)
                  resolve_after: 0s
                  leader_election: {enabled: true, namespace: cano, identity: "${REPLICA}", lease_duration: 3s, renew_deadline: 2s, retry_period: 200ms}
                """
            func replica(_ name: String) async throws -> CollectorProcess {
                try await CollectorProcess(configYAML: yaml, environment: ["HA_DATABASE_URL": databaseURL, "REPLICA": name])
            }
            let crash = "pods/pod-crashloopbackoff-managedfields.json"
            /// A fixture pod moved to `shop/name`, owned by one ReplicaSet per name (the
            /// workload the detectors key problems by, so crash and recovery match).
            func pod(_ fixture: String, _ name: String) throws -> JSONValue {
                try Fixtures.load(fixture).setting("metadata.namespace", to: .string("shop")).setting("metadata.name", to: .string(name))
                    .removing("metadata.resourceVersion").removing("metadata.uid")
                    .setting("metadata.ownerReferences", to: .array([.object([
                        "apiVersion": .string("apps/v1"), "kind": .string("ReplicaSet"), "name": .string(name + "-rs"),
                        "uid": .string(UUID().uuidString.lowercased()),
                        "controller": .bool(true),
                    ])]))
            }
            func received(_ name: String, _ status: IssueStatus) -> [ScriptedHTTPServer.Recorded] {
                receiver.delivered.filter { $0.issue?.subject.name == name && $0.issue?.status == status }
            }

            let a = try await replica("replica-a")
            defer { a.stop() }
            try await waitUntil("A to lead and watch pods", timeout: .seconds(30)) { server.cluster.openWatches("pods") >= 1 }
            let b = try await replica("replica-b")
            defer { b.stop() }
            server.cluster.apply("pods", try pod(crash, "web-5d4f8-first"))
            try await waitUntil("the first crash loop reported", timeout: .seconds(30)) { !received("web-5d4f8-first", .firing).isEmpty }
            // The leader's view of the cluster is in the store (its watermark) before it dies.
            try await waitUntil("the watermark in the store", timeout: .seconds(30)) {
                try await postgres.psql(databaseURL, "SELECT count(*) FROM source_state WHERE namespace = 'kubernetes' AND key = 'watermark'") == "1"
            }
            a.signal(SIGKILL)
            try await a.waitForExit()
            // Nobody leads for up to lease_duration: a second pod starts crash-looping now.
            server.cluster.apply("pods", try pod(crash, "api-77c9b-gap")
                .setting("status.containerStatuses.0.lastState.terminated.finishedAt", to: .string(RFC3339.format(Date()))))
            try await waitUntil("B reports the crash loop that began in the gap", timeout: .seconds(30)) { !received("api-77c9b-gap", .firing).isEmpty }
            server.cluster.apply("pods", try pod("pods/pod-running-healthy-managedfields.json", "web-5d4f8-first"))
            try await waitUntil("B resolves what A reported", timeout: .seconds(30)) { !received("web-5d4f8-first", .resolved).isEmpty }
            let firing = try #require(received("web-5d4f8-first", .firing).first?.issue)
            let resolved = try #require(received("web-5d4f8-first", .resolved).first?.issue)
            #expect(resolved.fingerprint == firing.fingerprint)
            #expect(resolved.startsAt == firing.startsAt)
            #expect(received("web-5d4f8-first", .firing).count == 1, "the old leader's report was repeated")
            #expect(received("api-77c9b-gap", .firing).count == 1)
        }
    }
}
