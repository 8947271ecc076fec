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
        defer { Task { await server.shutdown() } }
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
        try IssueSchema.validate([Array(line.utf8)])
        let issue = try IssueCoding.decode(CanoSDK.Issue.self, from: Array(line.utf8))
        #expect(issue.source == .kubernetes)
        #expect(issue.type == .event)
        #expect(issue.cluster == "kind-e2e")
        #expect(issue.subject.namespace == "shop")
        #expect(issue.subject.name == "web-5d4f8-aaaaa")
        #expect(!collector.log.contains(token), "the service account token leaked into the log")
    }
}
