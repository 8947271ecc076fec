import Foundation
import Synchronization

/// Where the bearer token comes from. A file token (the in-cluster service account token,
/// or kubeconfig `tokenFile`) is re-read when the file changes and after a 401, because the
/// kubelet rotates projected tokens (about hourly) and the old one expires.
public final class TokenSource: Sendable, CustomStringConvertible {
    private enum Origin: Sendable {
        case fixed(String)
        case file(String)
    }

    private struct Cached: Sendable {
        var token: String
        var modified: Date?
        var size: Int
    }

    private let origin: Origin
    private let cache = Mutex<Cached?>(nil)

    /// A token that never changes (kubeconfig `token`).
    public init(token: String) { origin = .fixed(token) }
    /// A token read from a file and re-read when it rotates.
    public init(file path: String) { origin = .file(path) }

    /// The current token. For a file, it is re-read whenever the file's modification time
    /// or size changed since the last read.
    public func token() throws(KubeError) -> String {
        switch origin {
        case .fixed(let token):
            return token
        case .file(let path):
            let attrs = try? FileManager.default.attributesOfItem(atPath: path)
            let modified = attrs?[.modificationDate] as? Date
            let size = (attrs?[.size] as? NSNumber)?.intValue ?? -1
            if let hit = cache.withLock({ c -> String? in
                guard let c, c.modified == modified, c.size == size, modified != nil else { return nil }
                return c.token
            }) {
                return hit
            }
            return try reload(path, modified: modified, size: size)
        }
    }

    /// Forgets a cached file token, so the next call re-reads the file (after a 401).
    public func invalidate() {
        cache.withLock { $0 = nil }
    }

    /// Whether this token can change (a file), so a 401 is worth a retry.
    public var isRefreshable: Bool {
        if case .file = origin { return true }
        return false
    }

    private func reload(_ path: String, modified: Date?, size: Int) throws(KubeError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubeError(.configuration, "cannot read the bearer token file \(path)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw KubeError(.configuration, "the bearer token file \(path) is empty") }
        cache.withLock { $0 = Cached(token: token, modified: modified, size: size) }
        return token
    }

    /// Never shows the token itself.
    public var description: String {
        switch origin {
        case .fixed: "token(<redacted>)"
        case .file(let path): "tokenFile(\(path))"
        }
    }
}
