import CanoSDK
import Collector
import FakeKubeAPIServer
import Foundation
import KubeClient
import Logging
import Synchronization
import Testing
import TestSupport

@Suite("Kube client configuration")
struct KubeConfigTests {
    @Test func tokenKubeconfigFixture() throws {
        let c = try Kubeconfig.load(path: Fixtures.directory + "/kubeconfig/kubeconfig-token-tls-server-name.yaml")
        #expect(c.server == "https://192.168.1.1:6443")
        #expect(try c.token?.token() == "test-token")
        #expect(String(decoding: c.tls.caPEM ?? [], as: UTF8.self).hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(!c.description.contains("test-token"))
        #expect(c.namespace == "default")
    }

    @Test func multiClusterKubeconfigUsesCurrentContext() throws {
        let path = Fixtures.directory + "/kubeconfig/kubeconfig-multi-cluster-fake-certs-basicauth.yaml"
        let c = try Kubeconfig.load(path: path)
        #expect(c.server == "http://example2.com")
        #expect(c.tls.insecureSkipVerify)
        #expect(c.namespace == "namespace2")
        #expect(c.tls.clientCertificatePEM == Array("USER2_CADATA".utf8))
        #expect(c.tls.clientKeyPEM == Array("USER2_CKDATA".utf8))
        let other = try Kubeconfig.load(path: path, context: "context1")
        #expect(other.server == "http://example.com")
        #expect(other.tls.caPEM == Array("CADATA".utf8))
        #expect(!other.tls.insecureSkipVerify)
        let basic = try Kubeconfig.load(path: path, context: "passwd")
        #expect(basic.basicAuth?.user == "foo")
        #expect(!basic.description.contains("bar"))
        #expect(throws: KubeError.self) { try Kubeconfig.load(path: path, context: "nope") }
    }

    @Test func clientCertificateKubeconfig() throws {
        let c = try Kubeconfig.load(path: Fixtures.directory + "/kubeconfig/kubeconfig-client-cert-key-data-testpair.yaml")
        #expect(c.server == "https://localhost:443")
        #expect(String(decoding: c.tls.clientCertificatePEM ?? [], as: UTF8.self).contains("BEGIN CERTIFICATE"))
        #expect(String(decoding: c.tls.clientKeyPEM ?? [], as: UTF8.self).contains("PRIVATE KEY"))
        #expect(c.token == nil)
    }

    @Test func execAndAuthProviderAreRefusedClearly() throws {
        // Built from the token fixture's layout: kubeconfigs with exec/auth-provider users
        // hold live cloud credentials, so none is in the fixtures.
        let exec = """
        apiVersion: v1
        clusters: [{name: c, cluster: {server: "https://10.0.0.1"}}]
        contexts: [{name: x, context: {cluster: c, user: u}}]
        current-context: x
        users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws}}}]
        """
        let e1 = #expect(throws: KubeError.self) { try Kubeconfig.parse(exec, baseDirectory: ".") }
        #expect(e1?.code == .unsupportedAuth)
        #expect(e1?.description.contains("exec plugin") == true)
        let provider = exec.replacingOccurrences(of: "exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws}", with: "auth-provider: {name: gcp}")
        let e2 = #expect(throws: KubeError.self) { try Kubeconfig.parse(provider, baseDirectory: ".") }
        #expect(e2?.code == .unsupportedAuth)
        #expect(e2?.description.contains("auth-provider") == true)
    }

    @Test func mergeKeysAnchorsAndPlainScalars() throws {
        // The reader composes with Yams' `.basic` resolver and restores merge keys itself
        // (`Kubeconfig.markingMergeKeys`): a merged mapping's own keys win, a merged
        // `insecure-skip-tls-verify: true` is still a Bool, and a quoted "<<" is a plain key.
        let text = """
        apiVersion: v1
        clusters:
        - name: base
          cluster: &base {server: "https://10.0.0.1", insecure-skip-tls-verify: true}
        - name: c
          cluster:
            <<: *base
            server: https://10.0.0.2
        contexts: [{name: x, context: {cluster: c, user: u, namespace: "007"}}]
        current-context: x
        users: [{name: u, user: {token: 0x10, "<<": {username: a, password: b}}}]
        """
        let c = try Kubeconfig.parse(text, baseDirectory: ".")
        #expect(c.server == "https://10.0.0.2")
        #expect(c.tls.insecureSkipVerify)
        #expect(c.namespace == "007")
        #expect(try c.token?.token() == "0x10")
        #expect(c.basicAuth == nil)
        let base = try Kubeconfig.parse(text.replacingOccurrences(of: "cluster: c,", with: "cluster: base,"), baseDirectory: ".")
        #expect(base.server == "https://10.0.0.1")
    }

    @Test func anEmptyKubeconfigNamesWhatIsMissing() throws {
        let e = #expect(throws: KubeError.self) { try Kubeconfig.parse("", baseDirectory: ".", origin: "/k/config") }
        #expect(e?.description.contains("/k/config has no current-context") == true)
    }

    @Test func inClusterConfig() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "tok-1\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        try "pem".write(toFile: dir + "/ca.crt", atomically: true, encoding: .utf8)
        try "monitoring".write(toFile: dir + "/namespace", atomically: true, encoding: .utf8)
        let c = try InClusterConfig.load(directory: dir, environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"])
        #expect(c.server == "https://10.96.0.1:443")
        #expect(c.tls.caFile == dir + "/ca.crt")
        #expect(c.namespace == "monitoring")
        #expect(try c.token?.token() == "tok-1")
        let v6 = try InClusterConfig.load(directory: dir, environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"])
        #expect(v6.server == "https://[fd00::1]:443")
        let missing = #expect(throws: KubeError.self) { try InClusterConfig.load(directory: dir, environment: [:]) }
        #expect(missing?.code == .configuration)
    }
}

@Suite("Kube client against the fake API server")
struct KubeClientTests {
    @Test func listPaginatesWithContinueTokens() async throws {
        let env = try await KubeTestEnv.start()
        defer { stopLater { await env.server.shutdown() } }
        let pod = try Fixtures.load("pods/pod-running-healthy-managedfields.json")
        for i in 0..<7 { env.cluster.apply("pods", pod.placed(namespace: "p", name: "web-\(i)")) }
        let client = env.client()
        let names = try await blocking { () throws(KubeError) -> [String] in
            var names: [String] = []
            try client.list(PartialObjectMetadata.self, .pods, namespace: "p", options: ListOptions(limit: 3)) { page throws(KubeError) in
                names += page.compactMap(\.metadata.name)
            }
            return names
        }
        #expect(names == (0..<7).map { "web-\($0)" })
        let lists = env.cluster.requests.filter { $0.path == "/api/v1/namespaces/p/pods" }
        #expect(lists.count == 3)
        #expect(lists[0].query["continue"] == nil)
        #expect(lists[1].query["continue"] != nil)
    }

    @Test func forbiddenDecodesTheStatus() async throws {
        let env = try await KubeTestEnv.start()
        defer { stopLater { await env.server.shutdown() } }
        env.cluster.forbid("pods")
        let client = env.client()
        let error = await #expect(throws: KubeError.self) {
            try await blocking { () throws(KubeError) in
                try client.list(PartialObjectMetadata.self, .pods) { _ throws(KubeError) in }
            }
        }
        #expect(error?.code == .forbidden)
        #expect(error?.status?.reason == "Forbidden")
        #expect(error?.status?.code == 403)
        #expect(error?.status?.message?.contains("cannot list resource \"pods\"") == true)
    }

    @Test func throttlingIsRetriedAfterRetryAfter() async throws {
        let env = try await KubeTestEnv.start()
        defer { stopLater { await env.server.shutdown() } }
        env.cluster.apply("pods", try Fixtures.load("pods/pod-running-healthy-managedfields.json").placed(namespace: "a"))
        env.cluster.failNext(1, pathContains: "/pods", status: 429, retryAfter: 1)
        env.cluster.failNext(1, pathContains: "/pods", status: 503)
        let client = env.client()
        let count = try await blocking { () throws(KubeError) -> Int in
            var n = 0
            try client.list(PartialObjectMetadata.self, .pods) { page throws(KubeError) in n += page.count }
            return n
        }
        #expect(count == 1)
        let times = env.cluster.requests.filter { $0.path == "/api/v1/pods" }.map(\.at)
        #expect(times.count == 3)
        // The 429 said "Retry-After: 1": the retry waited at least that long.
        #expect(times[1].timeIntervalSince(times[0]) >= 0.95)
    }

    @Test func watchDecodesTheStreamAndExpiresOldVersions() async throws {
        let env = try await KubeTestEnv.start()
        defer { stopLater { await env.server.shutdown() } }
        let client = env.client()
        let pod = try Fixtures.load("pods/pod-running-healthy-managedfields.json").placed(namespace: "w", name: "one")
        let start = String(env.cluster.resourceVersion)
        env.cluster.apply("pods", pod)
        env.cluster.apply("pods", pod.setting("metadata.labels.step", to: .string("2")))
        env.cluster.delete("pods", namespace: "w", name: "one")
        let seen = SeenEvents()
        let stop = StopSignal()
        let watching = Task {
            try await blocking { () throws(KubeError) -> WatchEnd in
                try client.watch(PartialObjectMetadata.self, .pods, options: ListOptions(resourceVersion: start, allowWatchBookmarks: true), stop: stop) { event in
                    let text: String
                    switch event {
                    case .added(let o): text = "ADDED \(o.metadata.name ?? "")"
                    case .modified(let o): text = "MODIFIED \(o.metadata.labels?["step"] ?? "")"
                    case .deleted(let o): text = "DELETED \(o.metadata.name ?? "")"
                    case .bookmark(let rv): text = "BOOKMARK \(rv)"
                    }
                    seen.add(text)
                }
            }
        }
        try await waitUntil("three events") { seen.items.count == 3 }
        env.cluster.sendBookmarks()
        try await waitUntil("bookmark") { seen.items.count == 4 }
        env.cluster.closeWatches()
        let end = try await watching.value
        #expect(end == .closedByServer)
        let items = seen.items
        #expect(items[0] == "ADDED one")
        #expect(items[1] == "MODIFIED 2")
        #expect(items[2] == "DELETED one")
        #expect(items[3] == "BOOKMARK \(env.cluster.resourceVersion)")
        #expect(env.cluster.requests.last?.query["allowWatchBookmarks"] == "true")

        env.cluster.compact()
        let gone = await #expect(throws: KubeError.self) {
            try await blocking { () throws(KubeError) in
                _ = try client.watch(PartialObjectMetadata.self, .pods, options: ListOptions(resourceVersion: start), stop: StopSignal()) { _ in }
            }
        }
        #expect(gone?.code == .gone)
        #expect(gone?.status?.reason == "Expired")
    }

    @Test func metadataOnlyListSendsTheAcceptHeader() async throws {
        let env = try await KubeTestEnv.start()
        defer { stopLater { await env.server.shutdown() } }
        env.cluster.apply("secrets", try Fixtures.load("helm/helm-release-secret-deployed-handbuilt.yaml"))
        let client = env.client()
        let labels = try await blocking { () throws(KubeError) -> [String: String] in
            var labels: [String: String] = [:]
            try client.list(PartialObjectMetadata.self, .secrets, options: ListOptions(labelSelector: "owner=helm", metadataOnly: true)) { page throws(KubeError) in
                labels = page.first?.metadata.labels ?? [:]
            }
            return labels
        }
        #expect(labels["status"] == "deployed")
        let request = try #require(env.cluster.requests.last)
        #expect(request.accept.contains("as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"))
        #expect(request.query["labelSelector"] == "owner=helm")
    }

    @Test func podLogs() async throws {
        let env = try await KubeTestEnv.start()
        defer { stopLater { await env.server.shutdown() } }
        env.cluster.setLog(namespace: "a", pod: "p", "line 1\nline 2\n")
        let client = env.client()
        let text = try await blocking { () throws(KubeError) in try client.podLog(namespace: "a", pod: "p", tailLines: 2) }
        #expect(text == "line 1\nline 2\n")
        #expect(env.cluster.requests.last?.query["tailLines"] == "2")
    }

    @Test func rotatedTokenFileIsReRead() async throws {
        let env = try await KubeTestEnv.start(token: "first-token-aaaa")
        defer { stopLater { await env.server.shutdown() } }
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "first-token-aaaa\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        var connection = env.connection
        connection.token = TokenSource(file: dir + "/token")
        let client = KubeClient(connection: connection, retry: KubeRetryPolicy(maxAttempts: 1))
        _ = try await blocking { () throws(KubeError) in try client.request(path: "/api/v1/pods") }
        // The kubelet rotates the projected token: the old one expires server-side.
        env.cluster.setTokens(["second-token-bbbb"])
        try "second-token-bbbb\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        _ = try await blocking { () throws(KubeError) in try client.request(path: "/api/v1/pods") }
        let auths = env.cluster.requests.compactMap(\.authorization)
        #expect(auths.last == "Bearer second-token-bbbb")
        #expect(auths.first == "Bearer first-token-aaaa")
    }

    @Test func tokensNeverReachErrorsOrLogs() async throws {
        let env = try await KubeTestEnv.start(token: "accepted-token")
        defer { stopLater { await env.server.shutdown() } }
        let secret = "wrong-token-9f8e7d6c"
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try secret.write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        var connection = env.connection
        connection.token = TokenSource(file: dir + "/token")
        // The host's own JSON log handler, capturing lines as they would reach stderr.
        let capture = LogCapture()
        let logger = Logger(label: "test") { JSONLogHandler(label: $0, level: .trace, output: .capture(capture)) }
        let client = KubeClient(connection: connection, retry: KubeRetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(1)), logger: logger)
        let error = await #expect(throws: KubeError.self) {
            try await blocking { () throws(KubeError) in _ = try client.request(path: "/api/v1/pods") }
        }
        #expect(error?.code == .unauthorized)
        #expect(error.map { "\($0)" }?.contains(secret) == false)
        #expect(error.map { String(reflecting: $0) }?.contains(secret) == false)
        #expect(!connection.description.contains(secret))
        let lines = capture.lines
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { !$0.contains(secret) })
    }
}

final class SeenEvents: Sendable {
    private let stored = Mutex<[String]>([])
    var items: [String] { stored.withLock { $0 } }
    func add(_ s: String) { stored.withLock { $0.append(s) } }
}

@Suite("Watch resumption")
struct WatchResumptionTests {
    @Test func theRealExpiredErrorLineMeansRelist() async throws {
        let env = try await KubeTestEnv.start()
        defer { stopLater { await env.server.shutdown() } }
        // The 410 ERROR line exactly as a real API server sent it (wso2/apk#571).
        let line = String(decoding: try Fixtures.data("watch/watch-error-410-expired.jsonl"), as: UTF8.self)
        let status = try #require(try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))["object"])
        let client = env.client()
        let rv = String(env.cluster.resourceVersion)
        let watching = Task {
            try await blocking { () throws(KubeError) -> WatchEnd in
                try client.watch(PartialObjectMetadata.self, .pods, options: ListOptions(resourceVersion: rv), stop: StopSignal()) { _ in }
            }
        }
        try await waitUntil("watch open") { env.cluster.openWatches("pods") == 1 }
        env.cluster.sendWatchError("pods", status: status)
        let error = await #expect(throws: KubeError.self) { try await watching.value }
        #expect(error?.code == .gone)
        #expect(error?.status?.message == "too old resource version: 657887 (680402)")
        #expect(error?.status?.reason == "Expired")
    }

    @Test func serverSideTimeoutsResumeFromTheLastVersionWithoutDuplicates() async throws {
        let env = try await KubeTestEnv.start()
        env.cluster.setWatchTimeout(seconds: 1)
        let h = try await SourcesHarness(env: env, config: PodDetectorTests.sourcesConfig())
        defer { stopLater { await h.stop(); await env.server.shutdown() } }
        env.cluster.apply("pods", try Fixtures.load("pods/pod-crashloopbackoff.yaml").placed(namespace: "t"))
        try await waitUntil("reported") { h.issues.count == 1 }
        let listsBefore = env.cluster.requests.filter { $0.path == "/api/v1/pods" && $0.query["watch"] == nil }.count
        // Two server-side timeouts later, the watch has been resumed twice...
        try await waitUntil("resumed twice", timeout: .seconds(10)) {
            env.cluster.requests.filter { $0.path == "/api/v1/pods" && $0.query["watch"] == "true" }.count >= 3
        }
        let watches = env.cluster.requests.filter { $0.path == "/api/v1/pods" && $0.query["watch"] == "true" }
        // ...each from the last resourceVersion seen, never from scratch, and without a relist.
        #expect(watches.allSatisfy { ($0.query["resourceVersion"] ?? "").isEmpty == false })
        #expect(Int(watches.last!.query["resourceVersion"]!)! >= Int(watches.first!.query["resourceVersion"]!)!)
        #expect(env.cluster.requests.filter { $0.path == "/api/v1/pods" && $0.query["watch"] == nil }.count == listsBefore)
        try await h.podBarrier("timeout")
        #expect(h.issues.count == 1)
    }
}

@Suite("Client certificates")
struct ClientCertificateTests {
    @Test func kubeconfigClientCertificateDataAndFiles() async throws {
        let server = try await FakeKubeAPIServer.start(tokens: [], clientCertificates: true)
        defer { stopLater { await server.shutdown() } }
        let certs = server.certificates
        server.cluster.apply("pods", try Fixtures.load("pods/pod-running-healthy-managedfields.json"))
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
        // Same layout as the client-cert fixture kubeconfig, with this run's CA and pair.
        let inline = """
        apiVersion: v1
        clusters:
          - cluster:
              server: \(server.url)
              certificate-authority-data: \(b64(certs.caPEM))
            name: fake
        contexts:
          - context: {cluster: fake, user: cert-user}
            name: fake-context
        current-context: fake-context
        users:
          - user:
              client-certificate-data: \(b64(certs.clientCertificatePEM))
              client-key-data: \(b64(certs.clientKeyPEM))
            name: cert-user
        """
        try inline.write(toFile: dir + "/inline.yaml", atomically: true, encoding: .utf8)
        // The file variant, with paths relative to the kubeconfig.
        try certs.caPEM.write(toFile: dir + "/ca.crt", atomically: true, encoding: .utf8)
        try certs.clientCertificatePEM.write(toFile: dir + "/client.crt", atomically: true, encoding: .utf8)
        try certs.clientKeyPEM.write(toFile: dir + "/client.key", atomically: true, encoding: .utf8)
        let files = inline
            .replacingOccurrences(of: "certificate-authority-data: \(b64(certs.caPEM))", with: "certificate-authority: ca.crt")
            .replacingOccurrences(of: "client-certificate-data: \(b64(certs.clientCertificatePEM))", with: "client-certificate: client.crt")
            .replacingOccurrences(of: "client-key-data: \(b64(certs.clientKeyPEM))", with: "client-key: client.key")
        try files.write(toFile: dir + "/files.yaml", atomically: true, encoding: .utf8)

        for name in ["inline.yaml", "files.yaml"] {
            let client = KubeClient(connection: try Kubeconfig.load(path: dir + "/" + name))
            let count = try await blocking { () throws(KubeError) -> Int in
                var n = 0
                try client.list(PartialObjectMetadata.self, .pods) { page throws(KubeError) in n += page.count }
                return n
            }
            #expect(count == 1, "\(name)")
        }
        // Without the client certificate the handshake fails.
        var anonymous = try Kubeconfig.load(path: dir + "/inline.yaml")
        anonymous.tls.clientCertificatePEM = nil
        anonymous.tls.clientKeyPEM = nil
        let client = KubeClient(connection: anonymous, retry: KubeRetryPolicy(maxAttempts: 1))
        let error = await #expect(throws: KubeError.self) {
            try await blocking { () throws(KubeError) in _ = try client.request(path: "/api/v1/pods") }
        }
        #expect(error?.code == .transport)
        #expect(server.cluster.requests.count == 2)
    }
}
