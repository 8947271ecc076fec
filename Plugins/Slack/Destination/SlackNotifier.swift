#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// The Slack destination's core: renders an Issue, decides whether it opens a thread,
/// joins one or resolves one, and carries out the Web API calls that takes.
///
/// `deliver` blocks (libcurl, pacing) and is meant for the host's delivery threads. A
/// delivery that needs several calls records its progress under the idempotency key after
/// each one, so a retry after a partial failure continues instead of starting over: the
/// root message is never posted twice.
public final class SlackNotifier: Sendable {
    let config: SlackConfig
    let environment: SlackEnvironment
    let api: SlackWebAPI
    let threads: ThreadStore
    let pacer: Pacer
    let directory = ChannelDirectory()
    let renderer = MessageRenderer()
    let groupRenderer = GroupRenderer()
    let planner = MessagePlanner()

    /// Creates the core; no I/O happens until the first delivery.
    public init(config: SlackConfig, environment: SlackEnvironment) {
        self.config = config
        self.environment = environment
        api = SlackWebAPI(config: config, clock: environment.clock)
        threads = ThreadStore(store: environment.state)
        pacer = Pacer(interval: config.paceInterval)
    }

    /// One step of a delivery plan.
    enum Step {
        /// chat.postMessage: the thread's root, or a reply in it, with its own fallback text.
        case post([SlackBlock], root: Bool, text: String)
        /// chat.update of the root.
        case update([SlackBlock])
        /// The three-step upload into the thread.
        case upload(FileUpload)
        /// A short text reply in the thread.
        case note(String)
    }

    /// A step failed in a way that ends this attempt.
    private struct Stop: Error {
        var result: DeliveryResult
    }

    /// Delivers one Issue; never throws, never traps.
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        let issue = request.issue
        let key = request.idempotencyKey.isEmpty
            ? "\(issue.fingerprint)|\(issue.status.rawValue)|\(RFC3339.format(issue.startsAt))"
            : request.idempotencyKey
        do {
            var progress = try threads.progress(key) ?? start(request)
            var route = try routeIfPosting(&progress, issue, deadline: request.deadline)
            var (rendered, steps) = prepare(progress, issue)
            do {
                try run(&steps, &progress, rendered: rendered, issue: issue, route: route, key: key, deadline: request.deadline)
            } catch let stop as Stop {
                throw stop
            } catch let error as SlackAPIError where Self.channelErrors.contains(error.slackError ?? "") && progress.done == 0 && route?.override != nil {
                // The Issue's own channel exists by name but can't take the post (bot not
                // invited, archived, an ID that doesn't exist): the default channel can.
                route = try defaultRoute(issue, failed: route?.override, reason: error.slackError ?? "", deadline: request.deadline)
                progress.notices = route?.notices
                (rendered, steps) = prepare(progress, issue)
                try run(&steps, &progress, rendered: rendered, issue: issue, route: route, key: key, deadline: request.deadline)
            } catch let error as SlackAPIError where error.slackError == "message_not_found" && (progress.mode == .resolve || progress.mode == .groupUpdate) && progress.done == 0 {
                // The root was deleted in Slack: say it's resolved (or the group's current
                // state) in a new message instead.
                environment.log(.warning, progress.mode == .resolve
                    ? "Slack root message is gone; posting the resolution as a new message"
                    : "Slack group message is gone; posting the group as a new message", ["fingerprint": issue.fingerprint])
                progress = DeliveryProgress(mode: issue.status == .resolved ? .newResolved : .new, done: 0, channel: progress.channel, ts: nil,
                                            stormClosed: progress.stormClosed)
                route = try routeIfPosting(&progress, issue, deadline: request.deadline)
                (rendered, steps) = prepare(progress, issue)
                try run(&steps, &progress, rendered: rendered, issue: issue, route: route, key: key, deadline: request.deadline)
            }
            threads.clearProgress(key)
            guard let handle = progress.handle else { return .permanent(message: "Slack delivery finished without a message handle") }
            if issue.type == .group {
                // The group's state for the next notification: resolved (a new episode
                // posts anew) and whether the storm's end was announced.
                let record = ThreadRecord(channel: handle.channel, ts: handle.ts, resolved: issue.status == .resolved,
                                          stormEnded: issue.group?.stormEnded == true ? true : nil)
                if !threads.setThread(record, for: issue) {
                    environment.log(.warning, "could not store the Slack group thread", ["fingerprint": issue.fingerprint])
                }
            } else if progress.mode == .resolve || progress.mode == .newResolved {
                if !threads.setThread(ThreadRecord(channel: handle.channel, ts: handle.ts, resolved: true), fingerprint: issue.fingerprint) {
                    environment.log(.warning, "could not store the Slack thread as resolved", ["fingerprint": issue.fingerprint])
                }
            }
            // Files as uploaded by this plan: a group update may leave its member list out.
            let files = steps.count { if case .upload = $0 { true } else { false } }
            let summary = "\(progress.mode.summary) in \(handle.channel) (ts \(handle.ts); \(steps.count) call\(steps.count == 1 ? "" : "s"), \(files) file\(files == 1 ? "" : "s"))"
            environment.log(.info, "Slack delivery done", ["fingerprint": issue.fingerprint, "channel": handle.channel, "ts": handle.ts, "mode": progress.mode.rawValue])
            return .delivered(reference: handle.reference, message: summary)
        } catch let stop as Stop {
            return stop.result
        } catch let error as SlackAPIError {
            return result(for: error, fingerprint: issue.fingerprint)
        } catch {
            return .retry(message: "Slack delivery failed unexpectedly")
        }
    }

    // MARK: - Deciding what to do

    /// The first attempt's decision: which thread (if any) this Issue belongs to.
    private func start(_ request: DeliveryRequest) throws -> DeliveryProgress {
        let issue = request.issue
        let fromReference = request.reference.flatMap(ThreadHandle.init(reference:))
        if issue.type == .group {
            // The host's reference is this group episode's own (it is kept per fingerprint
            // and startsAt), so it wins; the record stands in when the host has none (the
            // first notification dead-lettered after its root was posted).
            let record = threads.thread(for: issue)
            guard let thread = fromReference ?? record?.handle else {
                return DeliveryProgress(mode: issue.status == .resolved ? .newResolved : .new, done: 0, channel: nil, ts: nil, stormClosed: record?.stormEnded)
            }
            return DeliveryProgress(mode: .groupUpdate, done: 0, channel: thread.channel, ts: thread.ts, stormClosed: record?.stormEnded)
        }
        let record = threads.thread(issue.fingerprint)
        var thread: ThreadHandle?
        var resolved = false
        if let record, let fromReference, record.ts != fromReference.ts {
            // The host keeps the first reference forever; our record is newer (a new
            // message opened after the previous episode resolved).
            thread = record.handle
            resolved = record.resolved
        } else if let fromReference {
            thread = fromReference
            resolved = record?.resolved ?? false
        } else if let record {
            thread = record.handle
            resolved = record.resolved
        }
        switch issue.status {
        case .firing:
            if let thread, !resolved { return DeliveryProgress(mode: .reply, done: 0, channel: thread.channel, ts: thread.ts) }
            return DeliveryProgress(mode: .new, done: 0, channel: nil, ts: nil)
        case .resolved:
            if let thread { return DeliveryProgress(mode: .resolve, done: 0, channel: thread.channel, ts: thread.ts) }
            return DeliveryProgress(mode: .newResolved, done: 0, channel: nil, ts: nil)
        }
    }

    /// The rendering and the calls for this delivery: a grouped Issue's own, or a single
    /// Issue's. Deterministic for one Issue and progress, so a retry can skip `done` steps.
    func prepare(_ progress: DeliveryProgress, _ issue: Issue) -> (rendered: RenderedIssue, steps: [Step]) {
        let now = environment.clock.now()
        if issue.type == .group, let group = issue.group {
            let closing = group.stormEnded == true && progress.stormClosed != true
            let rendered = groupRenderer.render(issue, group, now: now, notices: progress.notices ?? [], stormClosing: closing)
            return (rendered.message, groupPlan(progress.mode, rendered))
        }
        let rendered = renderer.render(issue, now: now, notices: progress.notices ?? [])
        return (rendered, plan(progress.mode, rendered, issue))
    }

    /// A grouped Issue's calls. The first notification posts the root (summary, counts,
    /// members table), then the full member list when the table is capped, then each
    /// joined member's enrichments. A later one edits the root in place and adds one note
    /// saying what changed, then the joined members' enrichments, and the member list
    /// again when new members may be hidden or the storm ended.
    func groupPlan(_ mode: DeliveryMode, _ group: RenderedGroup) -> [Step] {
        var replies: [Step] = []
        for details in group.details {
            let chunks = planner.split(details.blocks, reserveInFirst: false)
            for (index, blocks) in chunks.enumerated() {
                let part = chunks.count > 1 ? " (\(index + 1)/\(chunks.count))" : ""
                replies.append(.post(blocks, root: false, text: SlackLimits.truncate("Details\(part): \(Mrkdwn.escape(details.who))", to: SlackLimits.fallbackText)))
            }
        }
        let uploads = group.detailFiles.map(Step.upload)
        let list = group.memberList.map { [Step.upload($0)] } ?? []
        switch mode {
        case .new, .newResolved:
            return [.post(group.message.lead, root: true, text: group.message.fallback)] + list + replies + uploads
        case .groupUpdate, .reply, .resolve:
            return [.update(group.message.lead), .note(group.note)] + replies + uploads + (group.listOnUpdate ? list : [])
        }
    }

    /// The calls for a mode. Deterministic for one Issue, so a retry can skip `done` steps.
    func plan(_ mode: DeliveryMode, _ rendered: RenderedIssue, _ issue: Issue) -> [Step] {
        let chunks = planner.chunk(rendered)
        // Replies get their own text: a reply notifying "Firing · HIGH: …" reads as a new alert.
        let replies = chunks.enumerated().dropFirst().map { index, blocks in
            Step.post(blocks, root: false, text: rendered.continuationFallback(part: index + 1, of: chunks.count))
        }
        let uploads = rendered.files.map(Step.upload)
        switch mode {
        case .new, .newResolved:
            return [.post(chunks[0], root: true, text: rendered.fallback)] + replies + uploads
        case .reply:
            return [.post(chunks[0], root: false, text: rendered.repeatFallback)] + replies + uploads
        case .resolve:
            let end = issue.endsAt ?? environment.clock.now()
            let note = "✅ Resolved \(MessageRenderer.slackDate(end)) after \(MessageRenderer.duration(from: issue.startsAt, to: end))"
            return [.update(chunks[0])] + replies + uploads + [.note(note)]
        case .groupUpdate:
            // Only a grouped Issue gets this mode (see `start`); as a single Issue, an
            // update of the root is the closest meaning.
            return [.update(chunks[0])] + replies + uploads
        }
    }

    /// The `chat.postMessage` bodies a new delivery of `issue` would send, root first, then
    /// its thread replies, and the names of the files it would upload, without calling Slack:
    /// the console's preview (ABI v1.3 render). The channel is the reference the routing
    /// expands to (the Issue's override, else the default), not looked up.
    func preview(_ issue: Issue) -> (channel: String, messages: [JSONValue], files: [String]) {
        let routing = ChannelRouting(config: config)
        let reference = (routing.override(for: issue).flatMap { try? routing.expand($0, for: issue) }).flatMap { $0.isEmpty ? nil : $0 }
            ?? (try? routing.defaultChannel(for: issue)) ?? ""
        // Shown as people write it: an ID as is, a name with its `#` (deliver posts to the ID it resolves).
        let channel = reference.looksLikeChannelID || reference.hasPrefix("#") ? reference : "#" + reference
        let (rendered, steps) = prepare(DeliveryProgress(mode: issue.status == .resolved ? .newResolved : .new, done: 0, channel: nil, ts: nil), issue)
        var messages: [JSONValue] = []
        var files: [String] = []
        for step in steps {
            switch step {
            case .post(let blocks, let root, let text):
                var body: [String: JSONValue] = [
                    "channel": .string(channel), "text": .string(text), "attachments": attachment(blocks, rendered, text: text),
                    "unfurl_links": .bool(false), "unfurl_media": .bool(false),
                ]
                if !root { body["thread_ts"] = .string("(the root's ts)") }
                messages.append(.object(body))
            case .upload(let file): files.append(file.name)
            case .update, .note: break
            }
        }
        return (channel, messages, files)
    }

    // MARK: - Carrying it out

    private func run(_ steps: inout [Step], _ progress: inout DeliveryProgress, rendered: RenderedIssue, issue: Issue, route: Route?, key: String, deadline: Date) throws {
        while progress.done < steps.count {
            do {
                try perform(steps[progress.done], &progress, rendered: rendered, issue: issue, route: route, deadline: deadline)
            } catch let error as SlackAPIError where error.retryable {
                saveProgress(progress, key: key)
                throw error
            } catch let stop as Stop {
                saveProgress(progress, key: key)
                throw stop
            }
            progress.done += 1
            if progress.done < steps.count { saveProgress(progress, key: key) }
        }
    }

    private func saveProgress(_ progress: DeliveryProgress, key: String) {
        guard progress.done > 0 else { return }  // nothing done yet: a retry starts cleanly anyway
        if !threads.setProgress(progress, key: key) {
            environment.log(.warning, "could not store Slack delivery progress; a retry may repeat a reply", [:])
        }
    }

    private func perform(_ step: Step, _ progress: inout DeliveryProgress, rendered: RenderedIssue, issue: Issue, route: Route?, deadline: Date) throws {
        switch step {
        case .post(let blocks, let root, let text):
            let channel: String
            if root {
                guard let route else { throw Stop(result: .permanent(message: "Slack root message without a channel")) }
                channel = route.channel
            } else {
                guard let c = progress.channel else { throw Stop(result: .permanent(message: "Slack thread reply without a thread")) }
                channel = c
            }
            var body: [String: JSONValue] = [
                "channel": .string(channel),
                "text": .string(text),
                "attachments": attachment(blocks, rendered, text: text),
                "unfurl_links": .bool(false),
                "unfurl_media": .bool(false),
            ]
            if !root, let ts = progress.ts { body["thread_ts"] = .string(ts) }
            let response = try post(body, channel: channel, deadline: deadline)
            environment.count("messages_posted", 1)
            if root {
                guard let id = response["channel"]?.stringValue, let ts = response["ts"]?.stringValue else {
                    throw SlackAPIError(.badResponse, method: "chat.postMessage", message: "Slack chat.postMessage: response has no channel/ts", retryable: false)
                }
                directory.remember(name: channel, id: id)
                progress.channel = id
                progress.ts = ts
                let record = ThreadRecord(channel: id, ts: ts, resolved: progress.mode == .newResolved)
                if !threads.setThread(record, for: issue) {
                    environment.log(.warning, "could not store the Slack thread; the host's reference is the only link now", ["fingerprint": issue.fingerprint])
                }
            }
        case .update(let blocks):
            guard let handle = progress.handle else { throw Stop(result: .permanent(message: "Slack update without a message")) }
            let body: [String: JSONValue] = [
                "channel": .string(handle.channel),
                "ts": .string(handle.ts),
                "text": .string(rendered.fallback),
                "attachments": attachment(blocks, rendered, text: rendered.fallback),
            ]
            _ = try withChannelName(handle.channel) { () throws(SlackAPIError) in try api.call("chat.update", json: .object(body), deadline: deadline) }
            environment.count("messages_updated", 1)
        case .upload(let file):
            guard let handle = progress.handle else { throw Stop(result: .permanent(message: "Slack upload without a thread")) }
            try upload(file, to: handle, deadline: deadline)
            environment.count("files_uploaded", 1)
        case .note(let text):
            guard let handle = progress.handle else { throw Stop(result: .permanent(message: "Slack note without a thread")) }
            _ = try post(["channel": .string(handle.channel), "thread_ts": .string(handle.ts), "text": .string(text)], channel: handle.channel, deadline: deadline)
            environment.count("messages_posted", 1)
        }
    }

    /// The colour bar holding the blocks; its `fallback` repeats the text for old clients.
    private func attachment(_ blocks: [SlackBlock], _ rendered: RenderedIssue, text: String) -> JSONValue {
        .array([.object([
            "color": .string(rendered.color),
            "fallback": .string(text),
            "blocks": .array(blocks.map(\.json)),
        ])])
    }

    /// chat.postMessage, paced per channel.
    private func post(_ body: [String: JSONValue], channel: String, deadline: Date) throws -> JSONValue {
        let now = environment.clock.now()
        switch pacer.decide(channel: channel, now: now, deadline: deadline) {
        case .retry(let after):
            throw Stop(result: .retry(after: .milliseconds(Int64((after * 1000).rounded(.up))), message: "Slack channel \(channel) is paced; next message slot in \(Int(after.rounded(.up)))s"))
        case .go(let until):
            if let until { environment.clock.sleep(until: until) }
        }
        pacer.sent(channel: channel, at: environment.clock.now())
        // Pace from when Slack answered too: Slack measures arrival times, and the answer
        // comes after the arrival, so the next send is at least one interval after it.
        defer { pacer.sent(channel: channel, at: environment.clock.now()) }
        return try postMessage(body, channel: channel, deadline: deadline)
    }

    private func postMessage(_ body: [String: JSONValue], channel: String, deadline: Date) throws(SlackAPIError) -> JSONValue {
        do {
            return try withChannelName(channel) { () throws(SlackAPIError) in try api.call("chat.postMessage", json: .object(body), deadline: deadline) }
        } catch {
            if error.code == .rateLimited {
                // Slack paused this channel: hold everything for it until then.
                let wait = error.retryAfter.map(\.timeInterval) ?? SlackAPIError.defaultRateLimitWait.timeInterval
                pacer.blocked(channel: channel, until: environment.clock.now().addingTimeInterval(wait))
                environment.count("rate_limited", 1)
            }
            throw error
        }
    }

    private func upload(_ file: FileUpload, to thread: ThreadHandle, deadline: Date) throws(SlackAPIError) {
        let ticket = try api.call("files.getUploadURLExternal", form: [("filename", file.name), ("length", String(file.bytes.count))], deadline: deadline)
        guard let url = ticket["upload_url"]?.stringValue, let id = ticket["file_id"]?.stringValue else {
            throw SlackAPIError(.badResponse, method: "files.getUploadURLExternal", message: "Slack files.getUploadURLExternal: response has no upload_url/file_id", retryable: true)
        }
        try api.upload(to: url, bytes: file.bytes, deadline: deadline)
        let complete: JSONValue = .object([
            "files": .array([.object(["id": .string(id), "title": .string(file.title + " — " + file.name)])]),
            "channel_id": .string(thread.channel),
            "thread_ts": .string(thread.ts),
        ])
        _ = try withChannelName(thread.channel) { () throws(SlackAPIError) in try api.call("files.completeUploadExternal", json: complete, deadline: deadline) }
    }

    /// Adds the channel to channel errors, so the dead letter says which channel is wrong.
    private func withChannelName<T>(_ channel: String, _ body: () throws(SlackAPIError) -> T) throws(SlackAPIError) -> T {
        do {
            return try body()
        } catch {
            var error = error
            if let code = error.slackError, Self.channelErrors.contains(code) {
                error.message += " (channel \(channel.looksLikeChannelID ? channel : "#" + channel))"
            }
            throw error
        }
    }

    /// Slack codes that mean "this channel can't take the message".
    static let channelErrors: Set<String> = ["channel_not_found", "not_in_channel", "is_archived", "invalid_channel"]

    /// Where a new root message goes, and why it isn't where the Issue asked.
    struct Route {
        /// The channel ID (or the reference, when it is one) to post to.
        var channel: String
        /// Set when the Issue's own channel (annotation/label) is used.
        var override: ChannelRouting.Override?
        /// Shown in the message: the Issue's channel was not usable, and which it was.
        var notices: [String]
    }

    /// The route when this attempt still has to post the root; nil otherwise. Its notices
    /// are kept in `progress`, so retries render the same message.
    private func routeIfPosting(_ progress: inout DeliveryProgress, _ issue: Issue, deadline: Date) throws -> Route? {
        guard progress.done == 0, progress.mode == .new || progress.mode == .newResolved else { return nil }
        let route = try routeChannel(issue, deadline: deadline)
        progress.notices = route.notices.isEmpty ? nil : route.notices
        return route
    }

    /// The Issue's channel override when it resolves, else the default channel with a
    /// notice naming the override. A wrong channel label must not dead-letter the alert:
    /// the alert still reaches people, and the message says what to fix.
    private func routeChannel(_ issue: Issue, deadline: Date) throws -> Route {
        let routing = ChannelRouting(config: config)
        guard let override = routing.override(for: issue) else { return try defaultRoute(issue, failed: nil, reason: "", deadline: deadline) }
        let reference: String
        do {
            reference = try routing.expand(override, for: issue)
        } catch {
            return try defaultRoute(issue, failed: override, reason: error.message, deadline: deadline)
        }
        guard !reference.isEmpty else { return try defaultRoute(issue, failed: override, reason: "it is empty", deadline: deadline) }
        do {
            return Route(channel: try directory.resolve(reference, api: api, now: environment.clock.now(), deadline: deadline), override: override, notices: [])
        } catch where error.slackError == "channel_not_found" {
            return try defaultRoute(issue, failed: override, reason: "channel_not_found", deadline: deadline)
        }
    }

    /// The destination's default channel; `failed` is the override it stands in for.
    private func defaultRoute(_ issue: Issue, failed: ChannelRouting.Override?, reason: String, deadline: Date) throws -> Route {
        let reference: String
        do {
            reference = try ChannelRouting(config: config).defaultChannel(for: issue)
        } catch {
            throw Stop(result: .permanent(message: "Slack channel routing: \(error.message)"))
        }
        guard !reference.isEmpty else { throw Stop(result: .permanent(message: "Slack channel routing produced an empty channel name")) }
        let channel = try directory.resolve(reference, api: api, now: environment.clock.now(), deadline: deadline)
        guard let failed else { return Route(channel: channel, override: nil, notices: []) }
        let named = failed.value.hasPrefix("#") || failed.value.looksLikeChannelID || failed.value.contains("{{") ? failed.value : "#" + failed.value
        let why = reason == "channel_not_found" ? "was not found" : reason.isEmpty ? "could not be used" : "could not be used (\(reason))"
        environment.log(.warning, "Slack channel from the Issue is unusable; posting to the default channel", [
            "fingerprint": issue.fingerprint, "channel": failed.value, "source": failed.source, "reason": reason,
        ])
        let notice = "The routed channel \(named) (from \(failed.source)) \(why); posted to the default channel instead."
        return Route(channel: channel, override: nil, notices: [notice])
    }

    private func result(for error: SlackAPIError, fingerprint: String) -> DeliveryResult {
        environment.log(error.retryable ? .warning : .error, "Slack delivery failed", [
            "fingerprint": fingerprint, "method": error.method, "code": error.code.description,
            "slack_error": error.slackError ?? "", "message": error.message,
        ])
        if error.retryable { return .retry(after: error.retryAfter, message: error.message) }
        return .permanent(message: error.message)
    }
}

extension DeliveryMode {
    var summary: String {
        switch self {
        case .new: "posted a new message"
        case .reply: "replied in the thread"
        case .resolve: "marked the message resolved"
        case .newResolved: "posted a resolved message"
        case .groupUpdate: "updated the group message"
        }
    }
}

extension Duration {
    var timeInterval: TimeInterval { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
