#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Synchronization

/// A conversation the double knows.
public struct SlackDoubleChannel: Sendable, Equatable {
    public var id: String
    public var name: String
    public var isPrivate: Bool
    /// False: posting answers `not_in_channel`; private channels are then also unlisted.
    public var isMember: Bool
    public var isArchived: Bool
    public init(id: String, name: String, isPrivate: Bool = false, isMember: Bool = true, isArchived: Bool = false) {
        self.id = id
        self.name = name
        self.isPrivate = isPrivate
        self.isMember = isMember
        self.isArchived = isArchived
    }
}

/// A message as the double stores it.
public struct SlackDoubleMessage: Sendable, Equatable {
    public var channel: String
    public var ts: String
    public var threadTS: String?
    public var text: String?
    public var blocks: [JSONValue]?
    public var attachments: [JSONValue]?
    /// How many times chat.update changed it.
    public var edits: Int
}

/// A file completed into a channel.
public struct SlackDoubleFile: Sendable, Equatable {
    public var id: String
    public var filename: String
    public var title: String?
    public var bytes: [UInt8]
    public var channel: String?
    public var threadTS: String?
}

/// One request the double received, as sent.
public struct SlackDoubleCall: Sendable {
    /// The Web API method, or "upload" for the raw upload POST.
    public var method: String
    /// Where the token came from: "header", "form", or "none".
    public var tokenSource: String
    /// The request's Content-Type.
    public var contentType: String
    /// Body fields (form values as strings; JSON values as sent; blocks/attachments sent as
    /// JSON strings in a form are decoded).
    public var fields: [String: JSONValue]
    /// The raw body size.
    public var bodyBytes: Int
    /// The raw body (kept for method calls; uploads keep only the size).
    public var body: [UInt8]
    /// Every request header as received, lower-cased names.
    public var headers: [String: String]
    /// The HTTP status answered.
    public var status: Int
    /// The `error` answered with `ok:false`, if any.
    public var error: String?
    /// The `errors` array answered with `invalid_blocks`.
    public var errors: [String]
    /// When the double started handling it (body fully read): benchmarks measure latency to it.
    public var received: ContinuousClock.Instant = .now
}

/// A failure to inject into the next call(s) of a method.
public enum SlackDoubleFault: Sendable, Equatable {
    /// HTTP 429, with `Retry-After: seconds` when given.
    case http429(retryAfter: Int?)
    /// HTTP 200 `{"ok":false,"error":"ratelimited"}` with an optional Retry-After header.
    case ratelimited(retryAfter: Int?)
    /// An HTTP 5xx with an HTML body, as Slack's edge sends.
    case serverError(Int)
    /// HTTP 200 `{"ok":false,"error":code}`.
    case error(String)
    /// Answer only after this long (for client timeouts), then behave normally.
    case delay(Duration)
    /// HTTP 200 `{"ok":false,...}` whose `error` and `response_metadata.messages` quote the
    /// request's Authorization header, as some proxies and gateways do: the plugin must not
    /// pass the token on.
    case echoCredentials
}

/// What the double answers: status, headers and a JSON (or HTML/text) body.
struct SlackDoubleReply: Error, Sendable {
    var status: Int
    var headers: [(String, String)] = []
    var body: [UInt8]
    var delay: Duration?

    static func json(_ value: JSONValue, status: Int = 200, headers: [(String, String)] = []) -> SlackDoubleReply {
        SlackDoubleReply(status: status, headers: [("Content-Type", "application/json; charset=utf-8")] + headers, body: (try? IssueCoding.encode(value)) ?? [])
    }

    static func error(_ code: String, extra: [String: JSONValue] = [:], headers: [(String, String)] = []) -> SlackDoubleReply {
        var object = extra
        object["ok"] = .bool(false)
        object["error"] = .string(code)
        return json(.object(object), headers: headers)
    }
}

/// The double's behaviour, free of HTTP: a method call in, a reply out.
final class SlackDoubleModel: Sendable {
    struct State {
        var channels: [SlackDoubleChannel]
        var messages: [SlackDoubleMessage] = []
        var pendingUploads: [String: (filename: String, length: Int, bytes: [UInt8]?)] = [:]
        var files: [SlackDoubleFile] = []
        var calls: [SlackDoubleCall] = []
        var faults: [String: [SlackDoubleFault]] = [:]
        var sequence = 0
        var fileSequence = 0
        var lastPost: [String: ContinuousClock.Instant] = [:]
        var enforcedInterval: Duration?
    }

    let token: String
    let state: Mutex<State>

    init(token: String, channels: [SlackDoubleChannel]) {
        self.token = token
        state = Mutex(State(channels: channels))
    }

    /// Handles one API method call. `uploadBase` is where upload URLs point.
    func handle(method: String, headers: [String: String], body: [UInt8], uploadBase: String) -> SlackDoubleReply {
        let contentType = headers["content-type"] ?? ""
        let parsed = Self.parseFields(body, contentType: contentType)
        let headerToken = headers["authorization"].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        let tokenSource = headerToken != nil ? "header" : parsed?["token"]?.stringValue != nil ? "form" : "none"
        var call = SlackDoubleCall(
            method: method, tokenSource: tokenSource, contentType: contentType, fields: parsed ?? [:], bodyBytes: body.count,
            body: body, headers: headers, status: 200, error: nil, errors: [])
        let reply = respond(method: method, headers: headers, fields: parsed, uploadBase: uploadBase, call: &call)
        call.status = reply.status
        if reply.status == 200, let envelope = try? IssueCoding.decode(JSONValue.self, from: reply.body), envelope["ok"]?.boolValue == false {
            call.error = envelope["error"]?.stringValue
            call.errors = envelope["errors"]?.arrayValue?.compactMap(\.stringValue) ?? []
        }
        state.withLock { $0.calls.append(call) }
        return reply
    }

    private func respond(method: String, headers: [String: String], fields: [String: JSONValue]?, uploadBase: String, call: inout SlackDoubleCall) -> SlackDoubleReply {
        var delay: Duration?
        if let fault = state.withLock({ s -> SlackDoubleFault? in
            guard var queue = s.faults[method], !queue.isEmpty else { return nil }
            let first = queue.removeFirst()
            s.faults[method] = queue
            return first
        }) {
            switch fault {
            case .http429(let after):
                return SlackDoubleReply(status: 429, headers: after.map { [("Retry-After", String($0))] } ?? [], body: Array("rate limited".utf8))
            case .ratelimited(let after):
                return .error("ratelimited", headers: after.map { [("Retry-After", String($0))] } ?? [])
            case .serverError(let status):
                return SlackDoubleReply(status: status, headers: [("Content-Type", "text/html")], body: Array("<html><body><h1>\(status) Service Unavailable</h1></body></html>".utf8))
            case .error(let code):
                return .error(code)
            case .delay(let d):
                delay = d
            case .echoCredentials:
                let quoted = headers["authorization"] ?? ""
                return .error("invalid_auth (proxy saw \(quoted))", extra: [
                    "response_metadata": .object(["messages": .array([.string("[ERROR] rejected credential \(quoted)")])]),
                ])
            }
        }
        var reply = dispatch(method: method, headers: headers, fields: fields, uploadBase: uploadBase, call: &call)
        reply.delay = delay
        return reply
    }

    private func dispatch(method: String, headers: [String: String], fields: [String: JSONValue]?, uploadBase: String, call: inout SlackDoubleCall) -> SlackDoubleReply {
        guard let fields else { return .error("invalid_form_data") }
        // Token: a Bearer header or a `token` field, as Slack accepts both.
        let headerToken = headers["authorization"].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        let fieldToken = fields["token"]?.stringValue
        guard let presented = headerToken ?? fieldToken else { return .error("not_authed") }
        guard presented == token else { return .error("invalid_auth") }

        switch method {
        case "chat.postMessage": return postMessage(fields)
        case "chat.update": return update(fields)
        case "files.getUploadURLExternal": return getUploadURL(fields, contentType: call.contentType, uploadBase: uploadBase)
        case "files.completeUploadExternal": return completeUpload(fields)
        case "conversations.list": return list(fields)
        case "auth.test": return .json(["ok": true, "team": "double", "user": "cano"])
        default: return .error("unknown_method")
        }
    }

    // MARK: - Methods

    private func channel(_ reference: String?, idOnly: Bool = false) -> Result<SlackDoubleChannel, SlackDoubleReply> {
        guard let reference, !reference.isEmpty else { return .failure(.error("channel_not_found")) }
        let name = reference.hasPrefix("#") ? String(reference.dropFirst()) : reference
        let found = state.withLock { s in s.channels.first { $0.id == reference || (!idOnly && $0.name == name) } }
        guard let found else { return .failure(.error("channel_not_found")) }
        if found.isPrivate && !found.isMember { return .failure(.error("channel_not_found")) }
        if found.isArchived { return .failure(.error("is_archived")) }
        if !found.isMember { return .failure(.error("not_in_channel")) }
        return .success(found)
    }

    /// Validates text, blocks and attachments as chat.postMessage/chat.update do.
    private func content(_ fields: [String: JSONValue]) -> Result<(text: String?, blocks: [JSONValue]?, attachments: [JSONValue]?), SlackDoubleReply> {
        let text = fields["text"]?.stringValue
        var blocks: [JSONValue]?
        var attachments: [JSONValue]?
        if let raw = fields["blocks"] {
            guard let array = raw.arrayValue else { return .failure(.error("invalid_blocks_format")) }
            blocks = array
        }
        if let raw = fields["attachments"] {
            guard let array = raw.arrayValue else { return .failure(.error("invalid_attachments")) }
            attachments = array
        }
        if (text ?? "").isEmpty && (blocks ?? []).isEmpty && (attachments ?? []).isEmpty { return .failure(.error("no_text")) }
        if let text, text.utf16.count > 40_000 { return .failure(.error("msg_too_long")) }
        if (attachments?.count ?? 0) > 100 { return .failure(.error("too_many_attachments")) }
        var errors: [String] = []
        if let blocks { errors += SlackBlockValidator.validate(blocks: blocks, pointer: "/blocks") }
        for (i, attachment) in (attachments ?? []).enumerated() {
            if let inner = attachment["blocks"]?.arrayValue {
                errors += SlackBlockValidator.validate(blocks: inner, pointer: "/attachments/\(i)/blocks")
            }
        }
        if !errors.isEmpty { return .failure(.error("invalid_blocks", extra: ["errors": .array(errors.map(JSONValue.string))])) }
        return .success((text, blocks, attachments))
    }

    private func postMessage(_ fields: [String: JSONValue]) -> SlackDoubleReply {
        let target: SlackDoubleChannel
        switch channel(fields["channel"]?.stringValue) {
        case .success(let c): target = c
        case .failure(let reply): return reply
        }
        let body: (text: String?, blocks: [JSONValue]?, attachments: [JSONValue]?)
        switch content(fields) {
        case .success(let c): body = c
        case .failure(let reply): return reply
        }
        let limited: Bool = state.withLock { s in
            guard let interval = s.enforcedInterval else { return false }
            let now = ContinuousClock.now
            if let last = s.lastPost[target.id], now - last < interval { return true }
            s.lastPost[target.id] = now
            return false
        }
        if limited { return SlackDoubleReply(status: 429, headers: [("Retry-After", "1")], body: Array("rate limited".utf8)) }
        let threadTS = fields["thread_ts"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let message: SlackDoubleMessage = state.withLock { s in
            s.sequence += 1
            let ts = "\(1_700_000_000 + s.sequence / 10_000).\(String(s.sequence % 10_000 * 100).leftPad(6))"
            let m = SlackDoubleMessage(channel: target.id, ts: ts, threadTS: threadTS, text: body.text, blocks: body.blocks, attachments: body.attachments, edits: 0)
            s.messages.append(m)
            return m
        }
        return .json(["ok": true, "channel": .string(target.id), "ts": .string(message.ts), "message": Self.json(message)])
    }

    private func update(_ fields: [String: JSONValue]) -> SlackDoubleReply {
        let target: SlackDoubleChannel
        switch channel(fields["channel"]?.stringValue, idOnly: true) {
        case .success(let c): target = c
        case .failure(let reply): return reply
        }
        guard let ts = fields["ts"]?.stringValue else { return .error("message_not_found") }
        let body: (text: String?, blocks: [JSONValue]?, attachments: [JSONValue]?)
        switch content(fields) {
        case .success(let c): body = c
        case .failure(let reply): return reply
        }
        let updated: SlackDoubleMessage? = state.withLock { s in
            guard let index = s.messages.firstIndex(where: { $0.channel == target.id && $0.ts == ts }) else { return nil }
            // Omitted blocks/attachments keep the old ones, as in Slack.
            if let text = body.text { s.messages[index].text = text }
            if let blocks = body.blocks { s.messages[index].blocks = blocks }
            if let attachments = body.attachments { s.messages[index].attachments = attachments }
            s.messages[index].edits += 1
            return s.messages[index]
        }
        guard let updated else { return .error("message_not_found") }
        return .json(["ok": true, "channel": .string(target.id), "ts": .string(ts), "text": .string(updated.text ?? ""), "message": Self.json(updated)])
    }

    private func getUploadURL(_ fields: [String: JSONValue], contentType: String, uploadBase: String) -> SlackDoubleReply {
        // Slack's files.getUploadURLExternal wants form encoding in practice.
        guard contentType.hasPrefix("application/x-www-form-urlencoded") else { return .error("invalid_arguments") }
        guard let filename = fields["filename"]?.stringValue, !filename.isEmpty else { return .error("invalid_arguments") }
        guard let length = fields["length"]?.stringValue.flatMap({ Int($0) }), length > 0 else { return .error("invalid_arguments") }
        if let alt = fields["alt_txt"]?.stringValue, alt.utf16.count > 1000 { return .error("alt_txt_too_large") }
        let id: String = state.withLock { s in
            s.fileSequence += 1
            let id = "F\(String(s.fileSequence).leftPad(9))"
            s.pendingUploads[id] = (filename, length, nil)
            return id
        }
        return .json(["ok": true, "upload_url": .string("\(uploadBase)/upload/v1/\(id)"), "file_id": .string(id)])
    }

    /// Step 2: the raw POST of the bytes (raw body or multipart field `file`).
    func receiveUpload(fileID: String, headers: [String: String], body: [UInt8]) -> SlackDoubleReply {
        let contentType = headers["content-type"] ?? ""
        let bytes = contentType.hasPrefix("multipart/form-data") ? (Self.multipartFile(body, contentType: contentType) ?? body) : body
        let known: Bool = state.withLock { s in
            guard var pending = s.pendingUploads[fileID] else { return false }
            pending.bytes = bytes
            s.pendingUploads[fileID] = pending
            return true
        }
        let call = SlackDoubleCall(method: "upload", tokenSource: headers["authorization"] == nil ? "none" : "header", contentType: contentType,
                                   fields: ["file_id": .string(fileID)], bodyBytes: body.count, body: [], headers: headers,
                                   status: known ? 200 : 404, error: nil, errors: [])
        state.withLock { $0.calls.append(call) }
        guard known else { return SlackDoubleReply(status: 404, body: Array("unknown upload".utf8)) }
        return SlackDoubleReply(status: 200, headers: [("Content-Type", "text/plain")], body: Array("OK - \(bytes.count)".utf8))
    }

    private func completeUpload(_ fields: [String: JSONValue]) -> SlackDoubleReply {
        guard let files = fields["files"]?.arrayValue, !files.isEmpty else { return .error("invalid_arguments") }
        var target: SlackDoubleChannel?
        if let channelID = fields["channel_id"]?.stringValue {
            switch channel(channelID, idOnly: true) {
            case .success(let c): target = c
            case .failure(let reply): return reply
            }
        }
        let threadTS = fields["thread_ts"]?.stringValue
        if threadTS != nil && target == nil { return .error("invalid_arguments") }
        var completed: [JSONValue] = []
        for file in files {
            guard let id = file["id"]?.stringValue else { return .error("invalid_arguments") }
            let title = file["title"]?.stringValue
            let ok: Bool = state.withLock { s in
                guard let pending = s.pendingUploads[id], let bytes = pending.bytes else { return false }
                s.pendingUploads[id] = nil
                s.files.append(SlackDoubleFile(id: id, filename: pending.filename, title: title, bytes: bytes, channel: target?.id, threadTS: threadTS))
                return true
            }
            guard ok else { return .error("file_not_found") }
            completed.append(["id": .string(id), "title": .string(title ?? "")])
        }
        return .json(["ok": true, "files": .array(completed)])
    }

    private func list(_ fields: [String: JSONValue]) -> SlackDoubleReply {
        let types = Set((fields["types"]?.stringValue ?? "public_channel").split(separator: ",").map(String.init))
        let excludeArchived = fields["exclude_archived"]?.stringValue == "true" || fields["exclude_archived"]?.boolValue == true
        let limit = min(999, max(1, Int(fields["limit"]?.stringValue ?? "") ?? 100))
        let start: Int
        if let cursor = fields["cursor"]?.stringValue, !cursor.isEmpty {
            guard cursor.hasPrefix("dXNlcj"), let n = Int(cursor.dropFirst(6)) else { return .error("invalid_cursor") }
            start = n
        } else {
            start = 0
        }
        let visible = state.withLock { $0.channels }.filter { c in
            (c.isPrivate ? types.contains("private_channel") && c.isMember : types.contains("public_channel")) && !(excludeArchived && c.isArchived)
        }
        let page = visible.dropFirst(start).prefix(limit)
        let next = start + page.count < visible.count ? "dXNlcj\(start + page.count)" : ""
        return .json([
            "ok": true,
            "channels": .array(page.map { ["id": .string($0.id), "name": .string($0.name), "is_channel": true, "is_private": .bool($0.isPrivate), "is_archived": .bool($0.isArchived), "is_member": .bool($0.isMember)] }),
            "response_metadata": ["next_cursor": .string(next)],
        ])
    }

    // MARK: - Parsing

    static func json(_ m: SlackDoubleMessage) -> JSONValue {
        var o: [String: JSONValue] = ["type": "message", "ts": .string(m.ts), "text": .string(m.text ?? "")]
        if let t = m.threadTS { o["thread_ts"] = .string(t) }
        if let b = m.blocks { o["blocks"] = .array(b) }
        if let a = m.attachments { o["attachments"] = .array(a) }
        return .object(o)
    }

    /// Form or JSON fields; nil when the body does not parse as its content type says.
    static func parseFields(_ body: [UInt8], contentType: String) -> [String: JSONValue]? {
        if contentType.hasPrefix("application/json") {
            return (try? IssueCoding.decode(JSONValue.self, from: body))?.objectValue
        }
        var fields: [String: JSONValue] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = percentDecode(String(kv[0])) else { return nil }
            let value = kv.count > 1 ? (percentDecode(String(kv[1])) ?? "") : ""
            // Structured fields arrive as JSON strings in a form.
            if ["blocks", "attachments", "files"].contains(key), let decoded = try? IssueCoding.decode(JSONValue.self, from: Array(value.utf8)) {
                fields[key] = decoded
            } else {
                fields[key] = .string(value)
            }
        }
        return fields
    }

    static func percentDecode(_ s: String) -> String? {
        var bytes: [UInt8] = []
        var i = s.utf8.startIndex
        let u = s.utf8
        while i < u.endIndex {
            let b = u[i]
            if b == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if b == UInt8(ascii: "%") {
                let h1 = u.index(after: i)
                guard h1 < u.endIndex else { return nil }
                let h2 = u.index(after: h1)
                guard h2 < u.endIndex, let v = UInt8(String(decoding: [u[h1], u[h2]], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(v)
                i = h2
            } else {
                bytes.append(b)
            }
            i = u.index(after: i)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The content of the part named `file` in a multipart body.
    static func multipartFile(_ body: [UInt8], contentType: String) -> [UInt8]? {
        guard let range = contentType.firstRange(of: "boundary=") else { return nil }
        let raw = contentType[range.upperBound...].prefix { $0 != ";" }.filter { $0 != "\"" }
        let boundary = Array(("--" + raw).utf8)
        var parts: [[UInt8]] = []
        var start: Int?
        var i = 0
        while i + boundary.count <= body.count {
            if Array(body[i..<(i + boundary.count)]) == boundary {
                if let s = start { parts.append(Array(body[s..<max(s, i - 2)])) }
                start = i + boundary.count + 2
                i += boundary.count
            } else {
                i += 1
            }
        }
        let separator: [UInt8] = [13, 10, 13, 10]
        for part in parts {
            guard let headerEnd = (0..<max(0, part.count - 3)).first(where: { Array(part[$0..<($0 + 4)]) == separator }) else { continue }
            let head = String(decoding: part[..<headerEnd], as: UTF8.self)
            if head.contains("name=\"file\"") { return Array(part[(headerEnd + 4)...]) }
        }
        return nil
    }
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
