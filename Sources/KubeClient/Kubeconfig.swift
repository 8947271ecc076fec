import Foundation
import CanoSDK
import Yams

/// Reads a kubeconfig file (the format `kubectl` uses) into a ``KubeConnection``.
///
/// Supported: current or named context, `token`, `tokenFile`, `username`/`password`,
/// `client-certificate(-data)`, `client-key(-data)`, `certificate-authority(-data)`,
/// `insecure-skip-tls-verify`, the context namespace. `exec` and `auth-provider` users fail
/// with ``KubeError/Code/unsupportedAuth``: running plugins is out of scope here.
public enum Kubeconfig {
    /// Loads `path`; relative file references resolve against the file's directory.
    public static func load(path: String, context: String? = nil) throws(KubeError) -> KubeConnection {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubeError(.configuration, "cannot read kubeconfig \(path)")
        }
        let base = (path as NSString).deletingLastPathComponent
        return try parse(String(decoding: data, as: UTF8.self), baseDirectory: base, context: context, origin: path)
    }

    /// Parses kubeconfig text.
    public static func parse(_ text: String, baseDirectory: String, context: String? = nil, origin: String = "kubeconfig") throws(KubeError) -> KubeConnection {
        let file: File
        do {
            // An empty file composes to nil; the empty mapping then fails below, on the
            // missing current-context, like any kubeconfig without one.
            // (`.implicit` with `.basic`: an explicit tag would make the decoder build Yams'
            // `.default` resolver after all.)
            let root = try Yams.compose(yaml: text, .basic) ?? .mapping(Node.Mapping([], Tag(.implicit, .basic)))
            file = try YAMLDecoder().decode(File.self, from: markingMergeKeys(root, depth: 4) ?? root)
        } catch {
            throw KubeError(.configuration, "\(origin) is not a valid kubeconfig: \(Self.describe(error))")
        }
        guard let contextName = context ?? file.currentContext, !contextName.isEmpty else {
            throw KubeError(.configuration, "\(origin) has no current-context and none was given")
        }
        guard let ctx = file.contexts?.first(where: { $0.name == contextName })?.context else {
            throw KubeError(.configuration, "\(origin) has no context named \"\(contextName)\"")
        }
        guard let cluster = file.clusters?.first(where: { $0.name == ctx.cluster })?.cluster else {
            throw KubeError(.configuration, "\(origin): context \"\(contextName)\" names cluster \"\(ctx.cluster)\", which is not defined")
        }
        guard let server = cluster.server, !server.isEmpty else {
            throw KubeError(.configuration, "\(origin): cluster \"\(ctx.cluster)\" has no server")
        }
        var user = User()
        if let userName = ctx.user {
            guard let u = file.users?.first(where: { $0.name == userName })?.user else {
                throw KubeError(.configuration, "\(origin): context \"\(contextName)\" names user \"\(userName)\", which is not defined")
            }
            user = u
        }
        if user.exec != nil {
            throw KubeError(.unsupportedAuth, "\(origin): user \"\(ctx.user ?? "")\" authenticates with an exec plugin, which cano-collector does not support; use a token, a client certificate or in-cluster config")
        }
        if user.authProvider != nil {
            throw KubeError(.unsupportedAuth, "\(origin): user \"\(ctx.user ?? "")\" uses an auth-provider, which cano-collector does not support; use a token, a client certificate or in-cluster config")
        }

        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : baseDirectory + "/" + p }
        func fileBytes(_ p: String, _ what: String) throws(KubeError) -> [UInt8] {
            guard let d = FileManager.default.contents(atPath: resolve(p)) else {
                throw KubeError(.configuration, "\(origin): cannot read \(what) file \(resolve(p))")
            }
            return Array(d)
        }
        func base64(_ s: String, _ what: String) throws(KubeError) -> [UInt8] {
            guard let d = Data(base64Encoded: s.filter { !$0.isWhitespace }) else {
                throw KubeError(.configuration, "\(origin): \(what) is not valid base64")
            }
            return Array(d)
        }

        var tls = TLSOptions(insecureSkipVerify: cluster.insecureSkipTLSVerify ?? false)
        if let ca = cluster.certificateAuthorityData {
            tls.caPEM = try base64(ca, "certificate-authority-data")
        } else if let ca = cluster.certificateAuthority {
            tls.caFile = resolve(ca)
        }
        if let cert = user.clientCertificateData {
            tls.clientCertificatePEM = try base64(cert, "client-certificate-data")
        } else if let cert = user.clientCertificate {
            tls.clientCertificatePEM = try fileBytes(cert, "client-certificate")
        }
        if let key = user.clientKeyData {
            tls.clientKeyPEM = try base64(key, "client-key-data")
        } else if let key = user.clientKey {
            tls.clientKeyPEM = try fileBytes(key, "client-key")
        }
        if (tls.clientCertificatePEM == nil) != (tls.clientKeyPEM == nil) {
            throw KubeError(.configuration, "\(origin): user \"\(ctx.user ?? "")\" has a client certificate without a key, or a key without a certificate")
        }

        var connection = KubeConnection(server: server, tls: tls, namespace: ctx.namespace ?? "default")
        if let token = user.token, !token.isEmpty {
            connection.token = TokenSource(token: token)
        } else if let tokenFile = user.tokenFile {
            connection.token = TokenSource(file: resolve(tokenFile))
        }
        if let name = user.username, let password = user.password {
            connection.basicAuth = (name, password)
        }
        return connection
    }

    /// `node` with every plain `<<` key within `depth` levels tagged as a merge key
    /// (YAML 1.1's merge type), or nil when there is none.
    ///
    /// Why by hand: `YAMLDecoder.decode(_:from: String)` composes with Yams' merge rule, an
    /// `NSRegularExpression`, and compiling it loads ICU's regex and Unicode-property data,
    /// 1.5 MiB kept resident for the life of the process (docs/benchmarks.md, "RSS idle").
    /// The `.basic` resolver leaves every scalar a string, which is all a kubeconfig's
    /// decoding needs; this restores the one rule that changes a file's meaning. Four levels
    /// reach every mapping the reader decodes (`users[i].user`), and the bound keeps a file
    /// of nested aliases (a "billion laughs") from costing more than the decoder would.
    private static func markingMergeKeys(_ node: Node, depth: Int) -> Node? {
        guard depth > 0 else { return nil }
        switch node {
        case .mapping(var mapping):
            var changed = false
            for i in mapping.indices {
                var (key, value) = mapping[i]
                var pairChanged = false
                if case .scalar(var scalar) = key, scalar.string == "<<", scalar.style == .plain {
                    scalar.tag = Tag(.merge, .basic)
                    key = .scalar(scalar)
                    pairChanged = true
                }
                if let marked = markingMergeKeys(value, depth: depth - 1) {
                    value = marked
                    pairChanged = true
                }
                if pairChanged {
                    mapping[i] = (key, value)
                    changed = true
                }
            }
            return changed ? .mapping(mapping) : nil
        case .sequence(var sequence):
            var changed = false
            for i in sequence.indices {
                if let marked = markingMergeKeys(sequence[i], depth: depth - 1) {
                    sequence[i] = marked
                    changed = true
                }
            }
            return changed ? .sequence(sequence) : nil
        case .scalar, .alias:
            return nil
        }
    }

    /// YAML errors can quote the offending line, which may hold a credential: keep only
    /// the location.
    private static func describe(_ error: any Error) -> String {
        if let e = error as? DecodingError {
            switch e {
            case .keyNotFound(let key, let ctx): return "missing key \(path(ctx.codingPath + [key]))"
            case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
                return "unexpected value at \(path(ctx.codingPath))"
            @unknown default: return "malformed"
            }
        }
        return "malformed YAML"
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    struct File: Decodable {
        var currentContext: String?
        var clusters: [Named<Cluster>]?
        var contexts: [NamedContext]?
        var users: [NamedUser]?
        enum CodingKeys: String, CodingKey {
            case currentContext = "current-context", clusters, contexts, users
        }
    }
    struct Named<T: Decodable>: Decodable {
        var name: String
        var cluster: T
    }
    struct NamedContext: Decodable {
        var name: String
        var context: Context
    }
    struct NamedUser: Decodable {
        var name: String
        var user: User
    }
    struct Cluster: Decodable {
        var server: String?
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?
        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }
    struct Context: Decodable {
        var cluster: String
        var user: String?
        var namespace: String?
    }
    struct User: Decodable {
        var token: String?
        var tokenFile: String?
        var username: String?
        var password: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var exec: IgnoredValue?
        var authProvider: IgnoredValue?
        init() {}
        enum CodingKeys: String, CodingKey {
            case token, tokenFile, username, password, exec
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case authProvider = "auth-provider"
        }
    }
    /// Any value: we only need to know the key is present.
    struct IgnoredValue: Decodable {
        init(from decoder: any Decoder) throws {}
    }
}
