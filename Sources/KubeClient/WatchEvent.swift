/// One event of a watch stream.
public enum WatchEvent<Object: KubeObject>: Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    /// The server's progress marker: resume from this resourceVersion.
    case bookmark(resourceVersion: String)

    /// The resourceVersion this event brings the watch to.
    public var resourceVersion: String? {
        switch self {
        case .added(let o), .modified(let o), .deleted(let o): o.metadata.resourceVersion
        case .bookmark(let rv): rv
        }
    }
}

/// How a watch ended without an error.
public enum WatchEnd: Sendable, Equatable {
    /// The server closed the stream (its timeout, or a graceful close): resume.
    case closedByServer
    /// The caller stopped it.
    case stopped
}

/// The wire form of a watch event; ERROR carries a Status, BOOKMARK a bare object.
struct WireWatchEvent<Object: KubeObject>: Decodable {
    enum Decoded {
        case event(WatchEvent<Object>)
        case error(KubeStatus)
    }
    let decoded: Decoded

    enum CodingKeys: String, CodingKey { case type, object }
    struct Bookmark: Decodable { var metadata: ObjectMeta }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "ADDED": decoded = .event(.added(try c.decode(Object.self, forKey: .object)))
        case "MODIFIED": decoded = .event(.modified(try c.decode(Object.self, forKey: .object)))
        case "DELETED": decoded = .event(.deleted(try c.decode(Object.self, forKey: .object)))
        case "BOOKMARK":
            let b = try c.decode(Bookmark.self, forKey: .object)
            decoded = .event(.bookmark(resourceVersion: b.metadata.resourceVersion ?? ""))
        case "ERROR": decoded = .error(try c.decode(KubeStatus.self, forKey: .object))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown watch event type \(type)")
        }
    }
}
