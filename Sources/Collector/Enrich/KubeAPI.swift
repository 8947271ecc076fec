import CanoSDK

/// The built-in enrichers' view of the Kubernetes API: typed GETs over a ``KubeReader``,
/// with HTTP failures turned into ``EnricherFailure``s that never echo a response body.
struct KubeAPI: Sendable {
    let reader: (any KubeReader)?

    /// Where the core and workload kinds live: kind → (API prefix, plural resource).
    static let resources: [String: (prefix: String, plural: String)] = [
        "Pod": ("/api/v1", "pods"), "Node": ("/api/v1", "nodes"), "Event": ("/api/v1", "events"),
        "ResourceQuota": ("/api/v1", "resourcequotas"), "Secret": ("/api/v1", "secrets"),
        "ReplicaSet": ("/apis/apps/v1", "replicasets"), "Deployment": ("/apis/apps/v1", "deployments"),
        "StatefulSet": ("/apis/apps/v1", "statefulsets"), "DaemonSet": ("/apis/apps/v1", "daemonsets"),
        "Job": ("/apis/batch/v1", "jobs"), "CronJob": ("/apis/batch/v1", "cronjobs"),
    ]

    /// The API path of a named object, or nil for kinds this table does not know.
    static func path(kind: String, name: String, namespace: String?) -> String? {
        guard let r = resources[kind] else { return nil }
        let ns = namespace.map { "/namespaces/\(PercentEncoding.encode($0))" } ?? ""
        return "\(r.prefix)\(kind == "Node" ? "" : ns)/\(r.plural)/\(PercentEncoding.encode(name))"
    }

    /// The collection path of a kind in a namespace, with a query.
    static func listPath(kind: String, namespace: String?, query: [(String, String)] = []) -> String? {
        guard let r = resources[kind] else { return nil }
        let ns = namespace.map { "/namespaces/\(PercentEncoding.encode($0))" } ?? ""
        return "\(r.prefix)\(ns)/\(r.plural)" + queryString(query)
    }

    static func queryString(_ query: [(String, String)]) -> String {
        query.isEmpty ? "" : "?" + query.map { "\($0.0)=\(PercentEncoding.encode($0.1))" }.joined(separator: "&")
    }


    /// GETs `path`; the body on 200.
    func get(_ path: String, what: String) throws(EnricherFailure) -> [UInt8] {
        guard let reader else { throw EnricherFailure(.noClusterAccess, "no cluster access configured") }
        guard let response = reader.get(path: path) else { throw EnricherFailure(.unavailable, "could not reach the Kubernetes API for \(what)") }
        switch response.status {
        case 200: return response.body
        case 404: throw EnricherFailure(.notFound, "\(what) not found")
        case 401, 403: throw EnricherFailure(.forbidden, "not allowed to read \(what) (HTTP \(response.status)); see docs/rbac.md")
        default: throw EnricherFailure(.unavailable, "the Kubernetes API answered HTTP \(response.status) for \(what)")
        }
    }

    /// GETs `path` and decodes JSON.
    func object(_ path: String, what: String) throws(EnricherFailure) -> JSONValue {
        let body = try get(path, what: what)
        do { return try IssueCoding.decode(JSONValue.self, from: body) } catch {
            throw EnricherFailure(.unavailable, "the Kubernetes API answered something that is not JSON for \(what)")
        }
    }

    /// A named object.
    func object(kind: String, name: String, namespace: String?) throws(EnricherFailure) -> JSONValue {
        guard let path = Self.path(kind: kind, name: name, namespace: namespace) else {
            throw EnricherFailure(.invalidParameters, "kind \(kind) is not supported")
        }
        return try object(path, what: "\(kind) \(namespace.map { "\($0)/" } ?? "")\(name)")
    }

    /// The `items` of a list.
    func items(kind: String, namespace: String?, query: [(String, String)] = [], what: String) throws(EnricherFailure) -> [JSONValue] {
        guard let path = Self.listPath(kind: kind, namespace: namespace, query: query) else {
            throw EnricherFailure(.invalidParameters, "kind \(kind) is not supported")
        }
        return try object(path, what: what)["items"]?.arrayValue ?? []
    }
}

/// What an Issue is about, in Kubernetes terms: from the Issue's subject, which both the
/// Kubernetes detectors and `AlertMapper` (from alert labels: pod, namespace, container,
/// deployment, job_name, node) fill in.
struct KubeTarget: Sendable, Equatable {
    var kind: String
    var name: String
    var namespace: String?
    var container: String?
    var node: String?

    /// The Issue's object, or nil when the subject names none.
    static func of(_ issue: Issue) -> KubeTarget? {
        let s = issue.subject
        if let kind = s.kind, let name = s.name, !name.isEmpty {
            return KubeTarget(kind: kind, name: name, namespace: s.namespace, container: s.container, node: s.node)
        }
        // Alerts whose subject kind was not set but that carry a pod label.
        if let pod = s.labels["pod"], !pod.isEmpty {
            return KubeTarget(kind: "Pod", name: pod, namespace: s.namespace ?? s.labels["namespace"], container: s.container, node: s.node)
        }
        if let node = s.node, !node.isEmpty { return KubeTarget(kind: "Node", name: node, namespace: nil, container: nil, node: node) }
        return nil
    }

    var reference: String { "\(kind) \(namespace.map { "\($0)/" } ?? "")\(name)" }
}

extension JSONValue {
    /// Follows a key path through nested objects: `pod.at("status", "phase")`.
    func at(_ keys: String...) -> JSONValue? {
        var current: JSONValue? = self
        for key in keys { current = current?[key] }
        return current
    }

    /// The value as display text: strings as is, numbers without a needless fraction.
    var text: String? {
        switch self {
        case .string(let s): return s
        case .number(let n): return n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .bool(let b): return b ? "true" : "false"
        default: return nil
        }
    }
}

/// An enricher that reads the cluster through ``KubeAPI``.
protocol KubeEnricher: Enricher {
    var api: KubeAPI { get }
}

extension KubeEnricher {
    /// Without cluster access the call fails at once (`noClusterAccess`), so it runs
    /// inline instead of taking a thread and a call slot for nothing.
    var blocks: Bool { api.reader != nil }
}
