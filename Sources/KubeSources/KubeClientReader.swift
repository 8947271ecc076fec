import Collector
import Foundation
import KubeClient

/// ``KubeReader`` over the libcurl ``KubeClient``: what the built-in enrichers and, through
/// `kube_get` (restricted by `ReadOnlyKubeReader`), enricher plugins read the cluster with.
///
/// Blocking, like every client call: the enrichment stage calls it only on its own
/// threads. Calls are not retried: an enricher has a budget of seconds, and a retry loop
/// with back-off would only hold its thread past the deadline at which the stage has
/// already given up on it.
public struct KubeClientReader: KubeReader {
    /// The client whose connection and credentials are used.
    public let client: KubeClient
    /// Per-request limit, a backstop for calls the stage has abandoned.
    public let timeout: Duration

    /// A reader over `client`.
    public init(client: KubeClient, timeout: Duration = .seconds(10)) {
        self.client = client
        self.timeout = timeout
    }

    /// One GET; the status and body, or nil when the API could not be reached.
    public func get(path: String) -> (status: Int, body: [UInt8])? {
        let (route, query) = Self.split(path)
        do {
            let response = try client.request(path: route, query: query, accept: "application/json, */*", timeout: timeout, retrying: false)
            return (response.status, response.body)
        } catch {
            // An HTTP answer is an answer (404, 403...); its body is not passed on, so a
            // Status never carries server text into notes. No answer at all is nil.
            return error.httpStatus.map { ($0, []) }
        }
    }

    /// "/api/v1/x?a=1&b=c%3Dd" → ("/api/v1/x", [("a", "1"), ("b", "c=d")]): the client
    /// encodes query values itself.
    static func split(_ path: String) -> (String, [(String, String)]) {
        guard let mark = path.firstIndex(of: "?") else { return (path, []) }
        let query = path[path.index(after: mark)...].split(separator: "&").map { item -> (String, String) in
            let kv = item.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            return (kv[0], kv.count > 1 ? kv[1] : "")
        }
        return (String(path[..<mark]), query)
    }
}
