import Collector
import KubeClient

/// The ``KubeReader`` enrichers get: read-only GETs limited to what the RBAC grants for
/// enrichment (pods, their logs, events), so a plugin cannot read Secrets through it.
public final class KubeAPIReader: KubeReader {
    let client: KubeClient

    public init(client: KubeClient) { self.client = client }

    /// Whether enrichers may read `path`: pods, pods/log and events, in any namespace.
    public static func isAllowed(_ path: String) -> Bool {
        let bare = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        guard !bare.contains(".."), !bare.contains("//") else { return false }
        let parts = bare.split(separator: "/").map(String.init)
        // /api/v1/namespaces/{ns}/{pods|events}[/{name}[/log]]
        guard parts.count >= 5, parts[0] == "api", parts[1] == "v1", parts[2] == "namespaces" else { return false }
        switch parts.count {
        case 5: return parts[4] == "pods" || parts[4] == "events"
        case 6: return parts[4] == "pods" || parts[4] == "events"
        case 7: return parts[4] == "pods" && parts[6] == "log"
        default: return false
        }
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
