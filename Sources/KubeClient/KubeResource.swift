/// An API resource: where its REST paths live.
public struct KubeResource: Sendable, Hashable, CustomStringConvertible {
    /// "" for the core group.
    public var group: String
    /// "v1".
    public var version: String
    /// The plural resource name in paths ("pods", "leases").
    public var plural: String

    /// A resource by group, version and plural name.
    public init(group: String, version: String, plural: String) {
        self.group = group
        self.version = version
        self.plural = plural
    }

    /// core/v1 pods.
    public static let pods = KubeResource(group: "", version: "v1", plural: "pods")
    /// core/v1 events.
    public static let events = KubeResource(group: "", version: "v1", plural: "events")
    /// core/v1 secrets.
    public static let secrets = KubeResource(group: "", version: "v1", plural: "secrets")
    /// batch/v1 jobs.
    public static let jobs = KubeResource(group: "batch", version: "v1", plural: "jobs")
    /// apps/v1 replicasets.
    public static let replicaSets = KubeResource(group: "apps", version: "v1", plural: "replicasets")
    /// coordination.k8s.io/v1 leases.
    public static let leases = KubeResource(group: "coordination.k8s.io", version: "v1", plural: "leases")

    /// "/api/v1" or "/apis/GROUP/VERSION".
    public var prefix: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    /// The collection path, cluster-wide when `namespace` is nil.
    public func path(namespace: String? = nil, name: String? = nil, subresource: String? = nil) -> String {
        var p = prefix
        if let namespace { p += "/namespaces/\(namespace)" }
        p += "/\(plural)"
        if let name { p += "/\(name)" }
        if let subresource { p += "/\(subresource)" }
        return p
    }

    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }
}

/// Query options for list and watch.
public struct ListOptions: Sendable, Equatable {
    /// "owner=helm".
    public var labelSelector: String?
    /// "type=Warning".
    public var fieldSelector: String?
    /// Page size for lists.
    public var limit: Int?
    /// The previous page's `metadata.continue`.
    public var continueToken: String?
    /// Where a watch starts (lists: unset means the latest).
    public var resourceVersion: String?
    /// Server-side watch timeout.
    public var timeoutSeconds: Int?
    /// Ask the server for BOOKMARK events (cheap resumption points).
    public var allowWatchBookmarks: Bool
    /// Ask for PartialObjectMetadata instead of whole objects.
    public var metadataOnly: Bool

    /// Options; all unset by default.
    public init(
        labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil, continueToken: String? = nil,
        resourceVersion: String? = nil, timeoutSeconds: Int? = nil, allowWatchBookmarks: Bool = false,
        metadataOnly: Bool = false
    ) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continueToken = continueToken
        self.resourceVersion = resourceVersion
        self.timeoutSeconds = timeoutSeconds
        self.allowWatchBookmarks = allowWatchBookmarks
        self.metadataOnly = metadataOnly
    }

    func queryItems(watch: Bool) -> [(String, String)] {
        var q: [(String, String)] = []
        if watch { q.append(("watch", "true")) }
        if let labelSelector { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector { q.append(("fieldSelector", fieldSelector)) }
        if !watch, let limit { q.append(("limit", String(limit))) }
        if !watch, let continueToken { q.append(("continue", continueToken)) }
        if let resourceVersion { q.append(("resourceVersion", resourceVersion)) }
        if watch, let timeoutSeconds { q.append(("timeoutSeconds", String(timeoutSeconds))) }
        if watch, allowWatchBookmarks { q.append(("allowWatchBookmarks", "true")) }
        return q
    }
}

enum Query {
    /// Percent-encodes a query component (RFC 3986 unreserved characters pass through).
    static func encode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF")
                out.append("%")
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            }
        }
        return out
    }

    static func string(_ items: [(String, String)]) -> String {
        items.isEmpty ? "" : "?" + items.map { "\($0.0)=\(encode($0.1))" }.joined(separator: "&")
    }
}
