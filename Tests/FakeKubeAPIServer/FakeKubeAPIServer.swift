import TestSupport
import Foundation
import CanoSDK
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization

/// A Kubernetes API server double that speaks the real protocol over HTTPS on 127.0.0.1:
/// bearer-token auth, paginated lists with continue tokens, chunked watch streams
/// (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR), 410 expiry, server-side watch timeouts,
/// 403 Status for forbidden resources, PartialObjectMetadata, pods/log, and create/update
/// with resourceVersion conflicts (409). Resource keys are "plural" for the core group and
/// "plural.group" otherwise ("pods", "jobs.batch", "leases.coordination.k8s.io").
public final class FakeKubeAPIServer: Sendable {
    /// The objects and knobs.
    public let cluster: FakeCluster
    /// The generated CA (trust `certificates.caPEM`) and server certificate.
    public let certificates: TestCertificates
    /// The bound port.
    public let port: Int
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    /// "https://127.0.0.1:PORT".
    public var url: String { "https://127.0.0.1:\(port)" }

    /// A kubeconfig that reaches this server with `token`, trusting its test CA: how a
    /// collector run as a separate process is pointed at it.
    public func kubeconfig(token: String, namespace: String = "cano") -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: fake
        clusters:
        - name: fake
          cluster: {server: "\(url)", certificate-authority-data: \(Data(certificates.caPEM.utf8).base64EncodedString())}
        contexts:
        - name: fake
          context: {cluster: fake, user: bot, namespace: \(namespace)}
        users:
        - name: bot
          user: {token: \(token)}
        """
    }

    private init(cluster: FakeCluster, certificates: TestCertificates, port: Int, task: Task<Void, any Error>, group: ServiceGroup) {
        self.cluster = cluster
        self.certificates = certificates
        self.port = port
        self.task = task
        self.group = group
    }

    /// Starts a server on an ephemeral port that accepts `tokens`.
    ///
    /// With `clientCertificates`, the TLS handshake requires a client certificate signed by
    /// the test CA (`certificates.clientCertificatePEM`), and such a client needs no token:
    /// the certificate authenticates it, as with a kubeconfig `client-certificate-data` user.
    public static func start(tokens: Set<String> = ["test-token"], clientCertificates: Bool = false, port: Int = 0) async throws -> FakeKubeAPIServer {
        let certificates = try TestCertificates.generate()
        let cluster = FakeCluster(tokens: tokens)
        let handler = RequestHandler(cluster: cluster, certificateAuthenticated: clientCertificates)
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(certificates.serverCertificatePEM.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificates.serverKeyPEM.utf8), format: .pem)))
        if clientCertificates {
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(certificates.caPEM.utf8), format: .pem)])
        }
        let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "fake-kube-apiserver")
        logger.logLevel = .critical
        let app = Application(
            responder: CallbackResponder<BasicRequestContext> { request, _ in try await handler.handle(request) },
            server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger)
        // Shut down gracefully (never by cancellation): a cancelled connection task with a
        // streaming response in flight trips a NIO precondition.
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let task = Task { try await group.run() }
        var bound = 0
        for await p in portStream {
            bound = p
            break
        }
        guard bound > 0 else {
            task.cancel()
            throw FixtureError(message: "fake API server did not start")
        }
        return FakeKubeAPIServer(cluster: cluster, certificates: certificates, port: bound, task: task, group: group)
    }

    /// Closes watches and stops the server.
    public func shutdown() async {
        cluster.shutDown()
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

/// Turns requests into answers from ``FakeCluster``.
struct RequestHandler: Sendable {
    let cluster: FakeCluster
    /// Every connection presented a CA-signed client certificate (checked by TLS).
    let certificateAuthenticated: Bool

    struct Target {
        var resource: String
        var namespace: String?
        var name: String?
        var subresource: String?
    }

    static let listKinds: [String: String] = [
        "pods": "PodList", "events": "EventList", "secrets": "SecretList", "jobs.batch": "JobList",
        "replicasets.apps": "ReplicaSetList", "leases.coordination.k8s.io": "LeaseList", "namespaces": "NamespaceList",
    ]

    func handle(_ request: Request) async throws -> Response {
        let path = request.uri.path
        var query: [String: String] = [:]
        for (k, v) in request.uri.queryParameters { query[String(k)] = String(v) }
        let accept = request.headers[.accept] ?? ""
        let auth = request.headers[.authorization]
        let method = request.method.rawValue
        cluster.state.withLock {
            $0.requests.append(FakeCluster.RecordedRequest(method: method, path: path, query: query, accept: accept, authorization: auth, at: Date()))
        }

        if cluster.state.withLock({ $0.shuttingDown }) {
            return Self.status(503, reason: "ServiceUnavailable", message: "the server is shutting down")
        }
        let tokens = cluster.state.withLock { $0.tokens }
        let tokenOK = auth.map { $0.hasPrefix("Bearer ") && tokens.contains(String($0.dropFirst(7))) } ?? false
        guard tokenOK || (certificateAuthenticated && auth == nil) else {
            return Self.status(401, reason: "Unauthorized", message: "Unauthorized")
        }
        if let failure = takeFailure(method: method, path: path) {
            var r = Self.status(failure.status, reason: failure.status == 429 ? "TooManyRequests" : "InternalError",
                                message: failure.status == 429 ? "Too many requests, please try again later." : "Internal error occurred: injected failure")
            if let ra = failure.retryAfter { r.headers[.retryAfter] = String(ra) }
            return r
        }
        guard let target = Self.parse(path) else {
            return Self.status(404, reason: "NotFound", message: "the server could not find the requested resource")
        }
        if cluster.state.withLock({ s in
            guard s.forbidden.contains(target.resource) else { return false }
            s.refused[target.resource, default: 0] += 1
            return true
        }) {
            return forbidden(target, verb: query["watch"] == "true" ? "watch" : method == "GET" ? (target.name == nil ? "list" : "get") : method.lowercased())
        }
        let metadataOnly = accept.contains("as=PartialObjectMetadata")

        switch (method, target.name, target.subresource) {
        case ("GET", let name?, "log"?):
            let text = cluster.state.withLock { $0.logs["\(target.namespace ?? "")/\(name)"] }
            guard let text else { return Self.status(404, reason: "NotFound", message: "pods \"\(name)\" not found") }
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        case ("GET", let name?, nil):
            guard let object = cluster.get(target.resource, namespace: target.namespace, name: name) else {
                return Self.status(404, reason: "NotFound", message: "\(target.resource) \"\(name)\" not found")
            }
            return Self.json(metadataOnly ? FakeCluster.metadataOnly(object) : object)
        case ("GET", nil, nil) where query["watch"] == "true" || query["watch"] == "1":
            return watch(target, query: query, metadataOnly: metadataOnly)
        case ("GET", nil, nil):
            return list(target, query: query, metadataOnly: metadataOnly)
        case ("POST", nil, nil), ("PUT", _?, nil):
            let body = try await request.body.collect(upTo: 4 << 20)
            guard var object = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)) else {
                return Self.status(400, reason: "BadRequest", message: "the request body is not a valid object")
            }
            if let ns = target.namespace { object = object.setting("metadata.namespace", to: .string(ns)) }
            let name = object.at("metadata.name")?.stringValue ?? ""
            if let n = target.name, n != name {
                return Self.status(400, reason: "BadRequest", message: "the name of the object (\(name)) does not match the name on the URL (\(n))")
            }
            let outcome = cluster.state.withLock { s in FakeCluster.store(&s, target.resource, object, create: method == "POST", checkVersion: method == "PUT") }
            switch outcome.result {
            case .stored(let stored): return Self.json(stored, status: method == "POST" ? .created : .ok)
            case .exists:
                return Self.status(409, reason: "AlreadyExists", message: "\(target.resource) \"\(name)\" already exists")
            case .conflict(let current) where current == "not found":
                return Self.status(404, reason: "NotFound", message: "\(target.resource) \"\(name)\" not found")
            case .conflict:
                return Self.status(409, reason: "Conflict", message: "Operation cannot be fulfilled on \(target.resource) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again")
            }
        case ("DELETE", let name?, nil):
            cluster.delete(target.resource, namespace: target.namespace, name: name)
            return Self.status(200, reason: "", message: "", success: true)
        default:
            return Self.status(405, reason: "MethodNotAllowed", message: "\(method) is not supported on \(path)")
        }
    }

    private func takeFailure(method: String, path: String) -> FakeCluster.InjectedFailure? {
        cluster.state.withLock { s in
            guard let i = s.failures.firstIndex(where: { path.contains($0.pathContains) && ($0.method == nil || $0.method == method) }) else { return nil }
            let f = s.failures[i]
            s.failures[i].remaining -= 1
            if s.failures[i].remaining <= 0 { s.failures.remove(at: i) }
            return f
        }
    }

    private func forbidden(_ target: Target, verb: String) -> Response {
        // The fixture is a real 403 Status for listing pods; others follow its wording.
        if target.resource == "pods", verb == "list", let fixture = try? Fixtures.load("watch/status-403-forbidden.json") {
            return Self.json(fixture, status: .forbidden)
        }
        let scope = target.namespace.map { " in the namespace \"\($0)\"" } ?? " at the cluster scope"
        let parts = target.resource.split(separator: ".", maxSplits: 1)
        let group = parts.count > 1 ? String(parts[1]) : ""
        return Self.status(403, reason: "Forbidden",
                           message: "\(parts[0]) is forbidden: User \"system:serviceaccount:cano:cano-collector\" cannot \(verb) resource \"\(parts[0])\" in API group \"\(group)\"\(scope)",
                           details: .object(["kind": .string(String(parts[0]))]))
    }

    // MARK: List

    private func list(_ target: Target, query: [String: String], metadataOnly: Bool) -> Response {
        let limit = query["limit"].flatMap(Int.init).map { max(1, $0) } ?? Int.max
        var rv: Int
        var items: [JSONValue]
        var offset = 0
        if let token = query["continue"], !token.isEmpty {
            guard let decoded = Data(base64Encoded: token).map({ String(decoding: $0, as: UTF8.self) }),
                  let colon = decoded.lastIndex(of: ":"), let off = Int(decoded[decoded.index(after: colon)...])
            else {
                if let fixture = try? Fixtures.load("watch/status-400-invalid-continue-token.json") { return Self.json(fixture, status: .badRequest) }
                return Self.status(400, reason: "BadRequest", message: "invalid continue token")
            }
            let id = String(decoded[..<colon])
            guard let snap = cluster.state.withLock({ $0.snapshots[id] }) else {
                return Self.status(410, reason: "Expired", message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
            }
            rv = snap.rv
            items = snap.items
            offset = off
        } else {
            let labels = Selector(query["labelSelector"])
            let fields = Selector(query["fieldSelector"])
            (rv, items) = cluster.state.withLock { s in
                let all = (s.objects[target.resource] ?? [:]).sorted { $0.key < $1.key }.map(\.value)
                return (s.rv, all.filter { o in
                    (target.namespace == nil || o.at("metadata.namespace")?.stringValue == target.namespace)
                        && labels.matchesLabels(o) && fields.matchesFields(o)
                })
            }
        }
        let end = min(items.count, offset + min(limit, items.count))
        var page = Array(items[offset..<end])
        var meta: [String: JSONValue] = ["resourceVersion": .string(String(rv))]
        if end < items.count {
            let id = UUID().uuidString
            cluster.state.withLock { $0.snapshots[id] = (rv, items) }
            meta["continue"] = .string(Data("\(id):\(end)".utf8).base64EncodedString())
            meta["remainingItemCount"] = .number(Double(items.count - end))
        }
        if metadataOnly { page = page.map(FakeCluster.metadataOnly) }
        let kind = metadataOnly ? "PartialObjectMetadataList" : (Self.listKinds[target.resource] ?? "List")
        let apiVersion = metadataOnly ? "meta.k8s.io/v1" : Self.apiVersion(target.resource)
        return Self.json(.object(["kind": .string(kind), "apiVersion": .string(apiVersion), "metadata": .object(meta), "items": .array(page)]))
    }

    // MARK: Watch

    private func watch(_ target: Target, query: [String: String], metadataOnly: Bool) -> Response {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let requested = query["timeoutSeconds"].flatMap(Int.init)
        let from = query["resourceVersion"].flatMap(Int.init) ?? 0
        let timeout: Int = cluster.state.withLock { s in
            let t = min(requested ?? s.watchTimeoutSeconds, s.watchTimeoutSeconds)
            if from > 0, from < s.oldestRV {
                // The real server answers 200 and sends the 410 as an ERROR event.
                let status: JSONValue = .object([
                    "kind": .string("Status"), "apiVersion": .string("v1"), "metadata": .object([:]),
                    "status": .string("Failure"), "message": .string("too old resource version: \(from) (\(s.oldestRV))"),
                    "reason": .string("Expired"), "code": .number(410),
                ])
                continuation.yield(FakeCluster.line(type: "ERROR", object: status))
                continuation.finish()
                return t
            }
            let w = FakeCluster.Watcher(
                resource: target.resource, namespace: target.namespace, labelSelector: query["labelSelector"],
                fieldSelector: query["fieldSelector"], metadataOnly: metadataOnly,
                bookmarks: query["allowWatchBookmarks"] == "true", continuation: continuation)
            if from == 0 {
                // No resourceVersion: synthetic ADDED events for everything that exists.
                for (_, o) in (s.objects[target.resource] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    let c = FakeCluster.Change(rv: s.rv, resource: target.resource, type: "ADDED", object: o)
                    if FakeCluster.matches(c, w) { continuation.yield(FakeCluster.line(type: "ADDED", object: metadataOnly ? FakeCluster.metadataOnly(o) : o)) }
                }
            } else {
                for c in s.changes where c.rv > from && FakeCluster.matches(c, w) {
                    continuation.yield(FakeCluster.line(type: c.type, object: metadataOnly ? FakeCluster.metadataOnly(c.object) : c.object))
                }
            }
            let id = s.nextWatcherID
            s.nextWatcherID += 1
            s.watchers[id] = w
            let cluster = self.cluster
            continuation.onTermination = { _ in cluster.state.withLock { _ = $0.watchers.removeValue(forKey: id) } }
            return t
        }
        // The server-side watch timeout: the stream ends cleanly, the client resumes.
        Task {
            try? await Task.sleep(for: .seconds(timeout))
            continuation.finish()
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(asyncSequence: stream))
    }

    // MARK: Helpers

    static func parse(_ path: String) -> Target? {
        var parts = path.split(separator: "/").map(String.init)
        var group = ""
        if parts.first == "api", parts.count >= 3 {
            parts.removeFirst(2)
        } else if parts.first == "apis", parts.count >= 4 {
            group = parts[1]
            parts.removeFirst(3)
        } else {
            return nil
        }
        var namespace: String?
        if parts.count >= 3, parts[0] == "namespaces" {
            namespace = parts[1]
            parts.removeFirst(2)
        }
        guard !parts.isEmpty, parts.count <= 3 else { return nil }
        let resource = group.isEmpty ? parts[0] : "\(parts[0]).\(group)"
        return Target(resource: resource, namespace: namespace, name: parts.count > 1 ? parts[1] : nil, subresource: parts.count > 2 ? parts[2] : nil)
    }

    static func apiVersion(_ resource: String) -> String {
        let parts = resource.split(separator: ".", maxSplits: 1)
        guard parts.count > 1 else { return "v1" }
        return "\(parts[1])/v1"
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        let bytes = (try? IssueCoding.encode(value)) ?? []
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func status(_ code: Int, reason: String, message: String, details: JSONValue? = nil, success: Bool = false) -> Response {
        var members: [String: JSONValue] = [
            "kind": .string("Status"), "apiVersion": .string("v1"), "metadata": .object([:]),
            "status": .string(success ? "Success" : "Failure"), "code": .number(Double(code)),
        ]
        if !reason.isEmpty { members["reason"] = .string(reason) }
        if !message.isEmpty { members["message"] = .string(message) }
        if let details { members["details"] = details }
        return json(.object(members), status: HTTPResponse.Status(code: code))
    }
}
