import CanoSDK
import Collector
import FakeKubeAPIServer
import Foundation
import KubeClient
import KubeSources
import Testing
import TestSupport
import Yams

@Suite("Kubernetes config and enricher reader")
struct ConfigAndReaderTests {
    @Test func yamlWithDefaults() throws {
        let yaml = """
        cluster: prod-eu
        destinations: [{name: out, type: file}]
        default_destinations: [out]
        kubernetes:
          enabled: true
          kubeconfig: /etc/cano/kubeconfig
          pods:
            namespaces:
              exclude: [kube-system]
          events:
            reasons: [FailedScheduling, FailedMount, BackOff]
          helm:
            enabled: false
          leader_election:
            namespace: monitoring
            lease_duration: 30s
            renew_deadline: 20s
            retry_period: 4s
        """
        let c = try ConfigLoader.parse(yaml).kubernetes
        #expect(c.enabled)
        #expect(c.kubeconfig == "/etc/cano/kubeconfig")
        #expect(c.clusterName == "prod-eu")
        #expect(c.pods.enabled)
        #expect(!c.pods.namespaces.allows("kube-system"))
        #expect(c.pods.namespaces.allows("shop"))
        #expect(c.events.reasons == ["FailedScheduling", "FailedMount", "BackOff"])
        #expect(!c.helm.enabled)
        #expect(c.helm.pendingTimeoutSeconds == 900)
        #expect(c.jobs.enabled)
        #expect(c.leaderElection.enabled)
        #expect(c.leaderElection.namespace == "monitoring")
        #expect(c.leaderElection.leaseName == "cano-collector-leader")
        #expect(c.leaderElection.leaseDurationSeconds == 30)
        #expect(c.watchTimeoutSeconds == 300)
        #expect(c.renotifyIntervalSeconds == 3600)
        #expect(c.resolveAfterSeconds == 120)
        let empty = try ConfigLoader.parse("destinations: [{name: out, type: file}]\ndefault_destinations: [out]").kubernetes
        #expect(empty == KubernetesConfig())
    }

    @Test func badLeaderTimingsAndUnknownKeysAreRefused() {
        let yaml = """
        destinations: [{name: out, type: file}]
        default_destinations: [out]
        kubernetes:
          leader_election: {lease_duration: 5s, renew_deadline: 10s}
          pods: {namespace: [x]}
        """
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml) }
        let text = error?.description ?? ""
        #expect(text.contains("kubernetes.leader_election: need lease_duration > renew_deadline > retry_period > 0"))
        #expect(text.contains("kubernetes.pods.namespace: unknown key \"namespace\"; did you mean \"namespaces\"?"))
    }

    @Test func includeExcludeFilter() {
        let f = NamespaceFilter(include: ["a", "b"], exclude: ["b"])
        #expect(f.allows("a"))
        #expect(!f.allows("b"))
        #expect(!f.allows("c"))
    }

    @Test func readerAllowsOnlyWhatEnrichersRead() async throws {
        #expect(KubeAPIReader.isAllowed("/api/v1/namespaces/x/pods/y/log?tailLines=50"))
        #expect(KubeAPIReader.isAllowed("/api/v1/namespaces/x/events?fieldSelector=involvedObject.name%3Dy"))
        #expect(!KubeAPIReader.isAllowed("/api/v1/namespaces/x/secrets/y"))
        #expect(!KubeAPIReader.isAllowed("/api/v1/namespaces/x/pods/../secrets/y"))
        #expect(!KubeAPIReader.isAllowed("/apis/apps/v1/namespaces/x/deployments"))

        let env = try await KubeTestEnv.start()
        defer { stopLater { await env.server.shutdown() } }
        env.cluster.setLog(namespace: "x", pod: "y", "boom\n")
        let reader = KubeAPIReader(client: env.client())
        let result = try await blocking { () throws(KubeError) in reader.get(path: "/api/v1/namespaces/x/pods/y/log?tailLines=50") }
        #expect(result?.status == 200)
        #expect(result.map { String(decoding: $0.body, as: UTF8.self) } == "boom\n")
        #expect(env.cluster.requests.last?.query["tailLines"] == "50")
        let missing = try await blocking { () throws(KubeError) in reader.get(path: "/api/v1/namespaces/x/pods/nope/log") }
        #expect(missing?.status == 404)
        let secret = try await blocking { () throws(KubeError) in reader.get(path: "/api/v1/namespaces/x/secrets/y") }
        #expect(secret == nil)
    }
}
