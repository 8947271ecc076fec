import Foundation
import CanoSDK

/// Everything needed to reach one API server: its URL, how to trust it and how to
/// authenticate. Built from a kubeconfig (``Kubeconfig``) or the in-cluster environment
/// (``InClusterConfig``).
public struct KubeConnection: Sendable, CustomStringConvertible {
    /// "https://host:port", without a trailing slash.
    public var server: String
    /// CA, client certificate and key, insecure-skip-tls-verify.
    public var tls: TLSOptions
    /// Bearer token, when the user authenticates with one.
    public var token: TokenSource?
    /// Basic-auth user and password, when the kubeconfig uses them.
    public var basicAuth: (user: String, password: String)?
    /// The default namespace (context namespace, or the service account's).
    public var namespace: String

    /// A connection; a server without a scheme gets `https://` (as kubectl does).
    public init(server: String, tls: TLSOptions = TLSOptions(), token: TokenSource? = nil, namespace: String = "default") {
        var s = server
        while s.hasSuffix("/") { s.removeLast() }
        if !s.contains("://") { s = "https://" + s }
        self.server = s
        self.tls = tls
        self.token = token
        self.namespace = namespace
    }

    /// Shows the server and the kind of credentials, never their values.
    public var description: String {
        var auth = "none"
        if let token { auth = token.description }
        if basicAuth != nil { auth = "basic(<redacted>)" }
        if tls.clientCertificatePEM != nil { auth += "+clientCertificate" }
        return "KubeConnection(server: \(server), auth: \(auth), namespace: \(namespace))"
    }
}

/// The in-cluster configuration every Pod gets: the service account token, its CA bundle
/// and namespace under a mounted directory, and the API server's address in the environment.
public enum InClusterConfig {
    /// Where Kubernetes mounts the service account.
    public static let defaultDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// Reads the in-cluster configuration. `directory` and `environment` are parameters so
    /// tests can point them elsewhere.
    public static func load(
        directory: String = defaultDirectory,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(KubeError) -> KubeConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw KubeError(.configuration, "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
        }
        let tokenPath = directory + "/token"
        let caPath = directory + "/ca.crt"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubeError(.configuration, "the service account token \(tokenPath) is missing")
        }
        guard FileManager.default.isReadableFile(atPath: caPath) else {
            throw KubeError(.configuration, "the service account CA bundle \(caPath) is missing")
        }
        let namespace = (try? String(contentsOfFile: directory + "/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        // An IPv6 service address needs brackets in a URL.
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return KubeConnection(
            server: "https://\(hostPart):\(port)",
            tls: TLSOptions(caFile: caPath),
            token: TokenSource(file: tokenPath),
            namespace: (namespace?.isEmpty == false ? namespace! : "default")
        )
    }
}
