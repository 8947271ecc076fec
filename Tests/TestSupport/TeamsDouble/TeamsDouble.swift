#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Collector
import Synchronization

/// A Microsoft Teams webhook test double: real HTTP on 127.0.0.1 (ephemeral port) that
/// enforces the checklist of destinations.md §2.5, so a plugin that passes against it
/// sends what Teams accepts.
///
/// - Two modes: ``Mode/workflow`` (Power Automate Workflows: 202 Accepted, empty body) and
///   ``Mode/connector`` (the retired O365 connector: 200 with body `1`; throttling as 200
///   with the 429 text in the body).
/// - Any path and query are accepted (the URL is opaque; its query carries the signature),
///   but only `POST` with `Content-Type: application/json`.
/// - A body over 28,672 bytes gets 413 "Request Entity too large".
/// - Rejects with 400 and a text body: invalid JSON or UTF-8; an envelope whose `type` is not
///   `message`, whose `attachments` is not a non-empty array, whose attachment `contentType`
///   is not `application/vnd.microsoft.card.adaptive` or whose `content.type` is not
///   `AdaptiveCard`; a `version` above 1.4 (Workflows reject it); an element or action type
///   Adaptive Cards 1.4 does not define, `Action.Submit` (not supported on webhooks), more
///   than 6 actions, or unknown keys on the envelope or attachment. (The real service accepts
///   some of these and fails later inside the flow, where nobody sees it: here they are a
///   test failure instead.) Whole-card schema validation is ``AdaptiveCardSchema``.
/// - Scriptable faults (``inject(_:times:)``): 429 with or without `Retry-After`, a 5xx
///   with an HTML body, any response.
/// - Records every request, every accepted card and every rejection.
public final class TeamsDouble: Sendable {
    /// Which webhook generation the double plays.
    public enum Mode: Sendable {
        /// Power Automate Workflows: 202 Accepted, empty body.
        case workflow
        /// The retired O365 connector: 200 with body `1`.
        case connector
    }

    /// A path and query shaped like a Workflows URL, with a signature tests look for in logs.
    public static let samplePath =
        "/workflows/0d1c2b3a4f5e6d7c8b9a/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=c4n0TeamsS1gnatureDoNotLeak42xYz"
    /// The `sig` value in ``samplePath``.
    public static let sampleSignature = "c4n0TeamsS1gnatureDoNotLeak42xYz"
    /// Teams' message limit, ≈28 KB (destinations.md §2.3).
    public static let maxBodyBytes = 28_672
    /// Actions Teams shows on one card.
    public static let maxActions = 6

    /// The underlying recording server.
    public let server: CaptureServer
    let model: TeamsDoubleModel

    private init(server: CaptureServer, model: TeamsDoubleModel) {
        self.server = server
        self.model = model
    }

    /// Starts a double in `mode`.
    public static func start(mode: Mode = .workflow) async throws -> TeamsDouble {
        let model = TeamsDoubleModel(mode: mode)
        let server = try await CaptureServer.start { request in model.handle(request) }
        return TeamsDouble(server: server, model: model)
    }

    /// `http://127.0.0.1:<port>` plus ``samplePath``: the plugin's `url`.
    public var url: String { server.baseURL + Self.samplePath }

    /// Stops the server.
    public func stop() async { await server.stop() }

    /// Answers the next `times` requests with `fault` instead of processing them.
    public func inject(_ fault: TeamsFault, times: Int = 1) {
        model.state.withLock { $0.faults += Array(repeating: fault, count: times) }
    }

    /// Every HTTP request received, in order (faulted and rejected ones included).
    public var requests: [CaptureServer.Request] { server.requests }
    /// The Adaptive Cards accepted (each attachment's `content`), in order.
    public var cards: [JSONValue] { model.state.withLock { $0.cards } }
    /// The raw bodies of accepted requests, for schema validation.
    public var acceptedBodies: [[UInt8]] { model.state.withLock { $0.bodies } }
    /// Requests answered 400 or 413, with the reasons the double gave.
    public var rejections: [TeamsRejection] { model.state.withLock { $0.rejections } }
}

/// An answer the double gives instead of processing a request.
public enum TeamsFault: Sendable {
    /// 429, with `Retry-After: <seconds>` when given (Power Platform throttling).
    case rateLimited(retryAfter: String?)
    /// A 5xx with an HTML page.
    case serverError(Int)
    /// Anything else.
    case response(CaptureServer.Response)
}

/// A request the double refused.
public struct TeamsRejection: Sendable {
    /// 400 or 413.
    public var status: Int
    /// Why, as also sent in the plain-text body.
    public var reasons: [String]
}

/// The double's rules and state, apart from the HTTP glue.
final class TeamsDoubleModel: Sendable {
    struct State {
        var faults: [TeamsFault] = []
        var cards: [JSONValue] = []
        var bodies: [[UInt8]] = []
        var rejections: [TeamsRejection] = []
    }

    let state = Mutex(State())
    let mode: TeamsDouble.Mode

    /// Element types of Adaptive Cards ≤ 1.4 (adaptivecards.io schema 1.4.0).
    static let elementTypes: Set<String> = [
        "TextBlock", "Image", "Media", "RichTextBlock", "ActionSet", "Container", "ColumnSet", "FactSet", "ImageSet",
        "Input.Text", "Input.Number", "Input.Date", "Input.Time", "Input.Toggle", "Input.ChoiceSet",
    ]
    /// Actions an incoming webhook supports (destinations.md §2.2).
    static let actionTypes: Set<String> = ["Action.OpenUrl", "Action.ShowCard", "Action.ToggleVisibility"]
    static let envelopeKeys: Set<String> = ["type", "attachments", "summary", "text"]
    static let attachmentKeys: Set<String> = ["contentType", "contentUrl", "content", "name"]

    init(mode: TeamsDouble.Mode) { self.mode = mode }

    func handle(_ request: CaptureServer.Request) -> CaptureServer.Response {
        if let fault = state.withLock({ $0.faults.isEmpty ? nil : $0.faults.removeFirst() }) {
            switch fault {
            case .rateLimited(let after):
                let headers: [(name: String, value: String)] = after.map { [("Retry-After", $0)] } ?? []
                return CaptureServer.Response(status: 429, headers: headers, body: Array("Rate limit is exceeded. Try again later.".utf8))
            case .serverError(let status):
                return CaptureServer.Response(status: status, headers: [("Content-Type", "text/html")],
                                              body: Array("<html><body><h1>\(status) Server Error</h1>\n</body></html>".utf8))
            case .response(let response):
                return response
            }
        }
        guard request.method == "POST" else { return CaptureServer.Response(status: 405) }
        guard request.header("Content-Type")?.lowercased().hasPrefix("application/json") == true else {
            return reject(400, ["Content-Type must be application/json"])
        }
        guard request.body.count <= TeamsDouble.maxBodyBytes else {
            return reject(413, ["Request Entity too large (\(request.body.count) bytes; the limit is about 28 KB)"])
        }
        guard String(validating: request.body, as: UTF8.self) != nil,
              case .object(let envelope)? = try? IssueCoding.decode(JSONValue.self, from: request.body)
        else {
            return reject(400, ["The request body is not a JSON object in UTF-8"])
        }
        let reasons = Self.check(envelope)
        guard reasons.isEmpty else { return reject(400, reasons) }
        let cards = envelope["attachments"]?.arrayValue?.compactMap { $0["content"] } ?? []
        state.withLock {
            $0.cards += cards
            $0.bodies.append(request.body)
        }
        switch mode {
        case .workflow: return CaptureServer.Response(status: 202)
        case .connector: return CaptureServer.Response(status: 200, headers: [("Content-Type", "text/plain")], body: Array("1".utf8))
        }
    }

    /// Every reason the envelope is refused; empty when it is accepted.
    static func check(_ envelope: [String: JSONValue]) -> [String] {
        var reasons = envelope.keys.sorted().filter { !envelopeKeys.contains($0) }.map { "unknown envelope field '\($0)'" }
        if envelope["type"]?.stringValue != "message" { reasons.append("'type' must be \"message\"") }
        guard let attachments = envelope["attachments"]?.arrayValue, !attachments.isEmpty else {
            return reasons + ["'attachments' must be a non-empty array"]
        }
        for (i, attachment) in attachments.enumerated() {
            guard let object = attachment.objectValue else {
                reasons.append("'attachments[\(i)]' must be an object")
                continue
            }
            reasons += object.keys.sorted().filter { !attachmentKeys.contains($0) }.map { "unknown field 'attachments[\(i)].\($0)'" }
            if object["contentType"]?.stringValue != "application/vnd.microsoft.card.adaptive" {
                reasons.append("'attachments[\(i)].contentType' must be application/vnd.microsoft.card.adaptive")
            }
            guard let card = object["content"]?.objectValue else {
                reasons.append("'attachments[\(i)].content' must be an Adaptive Card object")
                continue
            }
            reasons += checkCard(card, path: "attachments[\(i)].content")
        }
        return reasons
    }

    static func checkCard(_ card: [String: JSONValue], path: String) -> [String] {
        var reasons: [String] = []
        if card["type"]?.stringValue != "AdaptiveCard" { reasons.append("'\(path).type' must be AdaptiveCard") }
        if let version = card["version"]?.stringValue {
            let parts = version.split(separator: ".").compactMap { Int($0) }
            if parts.count < 2 || parts[0] != 1 || parts[1] > 4 {
                reasons.append("'\(path).version' \(version) is not supported by Workflows (at most 1.4)")
            }
        } else {
            reasons.append("'\(path).version' is required")
        }
        if let width = card["msteams"]?["width"], width.stringValue != "Full" { reasons.append("'\(path).msteams.width' must be \"Full\"") }
        if let body = card["body"] {
            reasons += checkElements(body, path: path + ".body")
        }
        if let actions = card["actions"] {
            reasons += checkActions(actions, path: path + ".actions")
        }
        return reasons
    }

    static func checkElements(_ value: JSONValue, path: String) -> [String] {
        guard let elements = value.arrayValue else { return ["'\(path)' must be an array"] }
        var reasons: [String] = []
        for (i, element) in elements.enumerated() {
            let here = "\(path)[\(i)]"
            let type = element["type"]?.stringValue ?? ""
            guard elementTypes.contains(type) else {
                reasons.append("'\(here).type' \"\(type)\" is not an Adaptive Card 1.4 element")
                continue
            }
            if type == "TextBlock", element["text"]?.stringValue == nil { reasons.append("'\(here).text' is required") }
            if let items = element["items"] { reasons += checkElements(items, path: here + ".items") }
            if let columns = element["columns"]?.arrayValue {
                for (c, column) in columns.enumerated() {
                    if column["type"]?.stringValue != "Column" { reasons.append("'\(here).columns[\(c)].type' must be Column") }
                    if let items = column["items"] { reasons += checkElements(items, path: "\(here).columns[\(c)].items") }
                }
            }
            if let actions = element["actions"] { reasons += checkActions(actions, path: here + ".actions") }
        }
        return reasons
    }

    static func checkActions(_ value: JSONValue, path: String) -> [String] {
        guard let actions = value.arrayValue else { return ["'\(path)' must be an array"] }
        var reasons: [String] = []
        if actions.count > TeamsDouble.maxActions { reasons.append("'\(path)' has \(actions.count) actions; Teams shows at most 6") }
        for (i, action) in actions.enumerated() {
            let type = action["type"]?.stringValue ?? ""
            if !actionTypes.contains(type) { reasons.append("'\(path)[\(i)].type' \"\(type)\" is not supported on webhooks") }
            if type == "Action.OpenUrl", action["url"]?.stringValue?.isEmpty != false { reasons.append("'\(path)[\(i)].url' is required") }
        }
        return reasons
    }

    private func reject(_ status: Int, _ reasons: [String]) -> CaptureServer.Response {
        state.withLock { $0.rejections.append(TeamsRejection(status: status, reasons: reasons)) }
        return CaptureServer.Response(status: status, headers: [("Content-Type", "text/plain")], body: Array(reasons.joined(separator: "; ").utf8))
    }
}
