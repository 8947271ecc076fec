import Collector
import KubeClient

/// The ``KubeReader`` enrichers get: read-only GETs limited to what the RBAC grants for
/// enrichment (docs/rbac.md), so nothing can read Secrets or anything else through it.
///
/// Allowed: pods, their logs and events; nodes; ResourceQuotas; workloads by name
/// (ReplicaSets, Deployments, StatefulSets, DaemonSets, Jobs, CronJobs) for owner chains;
/// and Helm release Secrets only as a list selected by `owner=helm` (the helm_release
/// enricher). Enricher plugins get it further narrowed by `ReadOnlyKubeReader` (no Secrets
/// at all). Calls are not retried: an enricher has seconds, and a back-off loop would only
/// hold its thread past the deadline at which the enrichment stage already gave up.
public final class KubeAPIReader: KubeReader {
    let client: KubeClient

    public init(client: KubeClient) { self.client = client }

    /// A reader with its own client for the cluster `config` describes (its kubeconfig, else
    /// the in-cluster service account), as the watchers connect.
    public static func connecting(to config: KubernetesConfig) throws(KubeError) -> KubeAPIReader {
        KubeAPIReader(client: KubeClient(connection: try KubernetesSources.connection(for: config)))
    }

    /// Whether enrichers may read `path`.
    public static func isAllowed(_ path: String) -> Bool {
        let split = path.split(separator: "?", maxSplits: 1).map(String.init)
        let bare = split.first ?? path
        let query = split.count > 1 ? split[1] : ""
        guard !bare.contains(".."), !bare.contains("//"), !bare.lowercased().contains("%2") else { return false }
        // A watch never ends; enrichers only GET.
        guard !query.split(separator: "&").contains(where: { $0.lowercased().hasPrefix("watch=") }) else { return false }
        let p = bare.split(separator: "/").map(String.init)
        // Core, namespaced: /api/v1/namespaces/{ns}/{resource}[/{name}[/log]]
        if p.count >= 5, p[0] == "api", p[1] == "v1", p[2] == "namespaces" {
            switch p.count {
            case 5: return ["pods", "events", "resourcequotas"].contains(p[4]) || (p[4] == "secrets" && selectsHelmReleases(query))
            case 6: return p[4] == "pods" || p[4] == "events"
            case 7: return p[4] == "pods" && p[6] == "log"
            default: return false
            }
        }
        // Cluster-wide events (a Node's), and a Node by name.
        if p == ["api", "v1", "events"] { return true }
        if p.count == 4, p[0] == "api", p[1] == "v1", p[2] == "nodes" { return true }
        // Workloads by name, for owner chains: /apis/{apps|batch}/v1/namespaces/{ns}/{resource}/{name}
        if p.count == 7, p[0] == "apis", p[2] == "v1", p[3] == "namespaces" {
            switch p[1] {
            case "apps": return ["replicasets", "deployments", "statefulsets", "daemonsets"].contains(p[5])
            case "batch": return ["jobs", "cronjobs"].contains(p[5])
            default: return false
            }
        }
        return false
    }

    /// True when the query's labelSelector requires `owner=helm`: only Helm's release
    /// Secrets, never a Secret by name or an unfiltered list.
    static func selectsHelmReleases(_ query: String) -> Bool {
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            guard kv.count == 2, kv[0] == "labelSelector" else { continue }
            return kv[1].split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == "owner=helm" }
        }
        return false
    }

    /// GETs `path` (blocking: call it from a host thread, never the cooperative pool).
    public func get(path: String) -> (status: Int, body: [UInt8])? {
        guard Self.isAllowed(path) else { return nil }
        let split = path.split(separator: "?", maxSplits: 1).map(String.init)
        var query: [(String, String)] = []
        if split.count > 1 {
            for pair in split[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                query.append((kv[0], kv.count > 1 ? kv[1] : ""))
            }
        }
        do {
            let response = try client.request(path: split[0], query: query, accept: "application/json, text/plain", retrying: false)
            return (response.status, response.body)
        } catch {
            if let status = error.httpStatus { return (status, []) }
            return nil
        }
    }
}

import Foundation
