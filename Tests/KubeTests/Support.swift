import CanoSDK
import Collector
import FakeKubeAPIServer
import Foundation
import KubeClient
import Logging
import Synchronization
import TestSupport

/// Collects what sources submit, as the real pipeline's ``IssueSink`` would receive it.
final class RecordingSink: IssueSink {
    private let stored = Mutex<[Issue]>([])
    func submit(_ issues: [Issue]) async throws(SubmitError) -> SubmitReceipt {
        stored.withLock { $0 += issues }
        return SubmitReceipt(queued: issues.count, duplicates: 0)
    }
    var issues: [Issue] { stored.withLock { $0 } }
    func issues(reason: String) -> [Issue] { issues.filter { $0.aggregationKey == reason } }
}

/// A fake API server and a connection that trusts it.
struct KubeTestEnv {
    let server: FakeKubeAPIServer
    let connection: KubeConnection
    var cluster: FakeCluster { server.cluster }

    static let token = "s3cr3t-token-\(UUID().uuidString.prefix(8))"

    static func start(token: String = KubeTestEnv.token, extraTokens: Set<String> = []) async throws -> KubeTestEnv {
        let server = try await FakeKubeAPIServer.start(tokens: extraTokens.union([token]))
        let connection = KubeConnection(
            server: server.url, tls: TLSOptions(caPEM: Array(server.certificates.caPEM.utf8)),
            token: TokenSource(token: token), namespace: "cano")
        return KubeTestEnv(server: server, connection: connection)
    }

    /// The same server, authenticating with another token (another replica).
    func connection(token: String) -> KubeConnection {
        var c = connection
        c.token = TokenSource(token: token)
        return c
    }

    func client(retry: KubeRetryPolicy = KubeRetryPolicy(initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200))) -> KubeClient {
        KubeClient(connection: connection, retry: retry)
    }
}

/// Runs blocking client calls on a dedicated thread, as production code does.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws(KubeError) -> T) async throws(KubeError) -> T {
    try await BlockingThread.run(name: "kube-test", body)
}

/// A temporary directory, removed by the caller.
func makeTempDir() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("cano-kube-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Transitions built from fixture objects: the fixture stays as captured, the test moves
/// it into its own namespace/name and sets only the fields the transition is about.
extension JSONValue {
    func placed(namespace: String, name: String? = nil) -> JSONValue {
        var v = self.setting("metadata.namespace", to: .string(namespace))
        if let name { v = v.setting("metadata.name", to: .string(name)) }
        return v.removing("metadata.resourceVersion").removing("metadata.uid")
    }

    func owned(byReplicaSet rs: String, hash: String) -> JSONValue {
        self.setting("metadata.ownerReferences", to: .array([.object([
            "apiVersion": .string("apps/v1"), "kind": .string("ReplicaSet"), "name": .string(rs),
            "uid": .string(UUID().uuidString.lowercased()), "controller": .bool(true), "blockOwnerDeletion": .bool(true),
        ])])).setting("metadata.labels.pod-template-hash", to: .string(hash))
    }
}

func nowRFC3339(offset: TimeInterval = 0) -> JSONValue { .string(RFC3339.format(Date().addingTimeInterval(offset))) }
