#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Synchronization

/// Channel name → ID, from `conversations.list` (paginated), cached per instance.
///
/// IDs are needed because `chat.update` and `files.completeUploadExternal` take IDs, and
/// a thread handle must survive a channel rename. One listing fills the cache for every
/// name; a name not found triggers a fresh listing at most once a minute, so a typo'd
/// channel does not hammer a Tier 2 method.
final class ChannelDirectory: Sendable {
    static let refreshInterval: TimeInterval = 60
    static let pageSize = 200
    static let maxPages = 100

    private struct Cache {
        var ids: [String: String] = [:]
        var listedAt: Date?
    }
    private let cache = Mutex(Cache())

    /// The ID for a channel reference (an ID passes through; `#name` or `name` is looked up).
    func resolve(_ reference: String, api: SlackWebAPI, now: Date, deadline: Date) throws(SlackAPIError) -> String {
        if reference.looksLikeChannelID { return reference }
        let name = reference.lowercased()
        let (cached, listedAt) = cache.withLock { ($0.ids[name], $0.listedAt) }
        if let cached { return cached }
        if let listedAt, now.timeIntervalSince(listedAt) < Self.refreshInterval {
            throw notFound(name)
        }
        let ids = try list(api: api, deadline: deadline)
        cache.withLock {
            $0.ids = ids
            $0.listedAt = now
        }
        guard let id = ids[name] else { throw notFound(name) }
        return id
    }

    /// Remembers an ID Slack told us (a post answered with the channel's ID).
    func remember(name: String, id: String) {
        guard !name.looksLikeChannelID else { return }
        cache.withLock { $0.ids[name.lowercased()] = id }
    }

    private func notFound(_ name: String) -> SlackAPIError {
        SlackAPIError(.slack, method: "conversations.list", slackError: "channel_not_found",
                      message: "Slack channel_not_found: channel #\(name) does not exist, or is archived, or is private without the app invited (the app needs channels:read and groups:read)",
                      retryable: false)
    }

    private func list(api: SlackWebAPI, deadline: Date) throws(SlackAPIError) -> [String: String] {
        var ids: [String: String] = [:]
        var cursor = ""
        for _ in 0..<Self.maxPages {
            var form = [("types", "public_channel,private_channel"), ("exclude_archived", "true"), ("limit", String(Self.pageSize))]
            if !cursor.isEmpty { form.append(("cursor", cursor)) }
            let page = try api.call("conversations.list", form: form, deadline: deadline)
            for channel in page["channels"]?.arrayValue ?? [] {
                if let id = channel["id"]?.stringValue, let name = channel["name"]?.stringValue { ids[name.lowercased()] = id }
            }
            cursor = page["response_metadata"]?["next_cursor"]?.stringValue ?? ""
            if cursor.isEmpty { break }
        }
        return ids
    }
}
