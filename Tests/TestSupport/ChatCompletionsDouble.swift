import CanoSDK
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A loopback double of an OpenAI-compatible chat-completions endpoint
/// (`POST <base>/chat/completions`), for the LLM analysis.
///
/// It enforces the parts of the contract the collector relies on, as OpenAI's API
/// reference gives them: a `Bearer` key (401 with an `invalid_api_key` error object
/// otherwise), a JSON body with a non-empty `model`, a non-empty `messages` array of
/// `{role, content}` with a known role, and a positive integer `max_tokens` (400
/// otherwise). Its answer is what ``setBehaviour(_:)`` says: a completion with `usage`,
/// a hang, a malformed body or an HTTP error.
public final class ChatCompletionsDouble: Sendable {
    /// How the double answers valid requests.
    public enum Behaviour: Sendable {
        /// A chat completion whose message is `content`, with usage counts.
        case answer(String, promptTokens: Int = 812, completionTokens: Int = 64)
        /// No answer until the client gives up (a hung model).
        case hang
        /// 200 with this body (not a chat completion).
        case malformed(String)
        /// This status with an OpenAI error object.
        case status(Int)
    }

    /// One request as the double saw it.
    public struct Recorded: Sendable {
        public var path: String
        public var authorization: String?
        public var body: JSONValue?
        /// The user message's content.
        public var prompt: String? {
            body?["messages"]?.arrayValue?.last { $0["role"]?.stringValue == "user" }?["content"]?.stringValue
        }
    }

    private struct State {
        var behaviour: Behaviour = .answer("The container's command is misspelled.")
        var requests: [Recorded] = []
        var stopped = false
    }

    private let state = Mutex(State())
    private let loopback: Mutex<LoopbackServer?> = Mutex(nil)
    /// The key requests must carry.
    public let apiKey: String
    /// The base URL to configure (`http://127.0.0.1:<port>/v1`).
    public let baseURL: String

    private init(apiKey: String, baseURL: String) {
        self.apiKey = apiKey
        self.baseURL = baseURL
    }

    /// Starts a double on an ephemeral loopback port.
    public static func start(apiKey: String) async throws -> ChatCompletionsDouble {
        let box = Mutex<ChatCompletionsDouble?>(nil)
        let router = Router()
        router.post("/v1/chat/completions") { request, _ -> Response in
            guard let double = box.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            return try await double.handle(request)
        }
        let loopback = try await LoopbackServer.start(router, label: "chat-completions double")
        let port = loopback.port
        let double = ChatCompletionsDouble(apiKey: apiKey, baseURL: "http://127.0.0.1:\(port)/v1")
        box.withLock { $0 = double }
        double.loopback.withLock { $0 = loopback }
        return double
    }

    /// Stops the server (a hanging answer ends with it).
    public func stop() async {
        state.withLock { $0.stopped = true }
        await loopback.withLock { $0 }?.stop()
    }

    /// How later requests are answered.
    public func setBehaviour(_ behaviour: Behaviour) { state.withLock { $0.behaviour = behaviour } }

    /// Every request so far.
    public var requests: [Recorded] { state.withLock { $0.requests } }

    private static func error(_ status: HTTPResponse.Status, _ message: String, type: String, code: String?) -> Response {
        var e: [String: JSONValue] = ["message": .string(message), "type": .string(type)]
        e["code"] = code.map(JSONValue.string) ?? .null
        let body = (try? IssueCoding.encode(JSONValue.object(["error": .object(e)]))) ?? []
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    private func handle(_ request: Request) async throws -> Response {
        let authorization = request.headers[.authorization]
        let bytes = Array(try await request.body.collect(upTo: 4 << 20).readableBytesView)
        let body = try? IssueCoding.decode(JSONValue.self, from: bytes)
        let behaviour = state.withLock { s -> Behaviour in
            s.requests.append(Recorded(path: request.uri.path, authorization: authorization, body: body))
            return s.behaviour
        }
        guard authorization == "Bearer \(apiKey)" else {
            return Self.error(.unauthorized, "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key")
        }
        guard let body, let model = body["model"]?.stringValue, !model.isEmpty else {
            return Self.error(.badRequest, "you must provide a model parameter", type: "invalid_request_error", code: nil)
        }
        let roles: Set<String> = ["system", "developer", "user", "assistant", "tool"]
        guard let messages = body["messages"]?.arrayValue, !messages.isEmpty,
              messages.allSatisfy({ roles.contains($0["role"]?.stringValue ?? "") && $0["content"]?.stringValue != nil })
        else {
            return Self.error(.badRequest, "'messages' must be a non-empty array of {role, content}", type: "invalid_request_error", code: nil)
        }
        if let max = body["max_tokens"], !(max.numberValue.map { $0 >= 1 && $0.rounded() == $0 } ?? false) {
            return Self.error(.badRequest, "max_tokens must be a positive integer", type: "invalid_request_error", code: nil)
        }
        switch behaviour {
        case .answer(let content, let p, let c):
            let answer: JSONValue = .object([
                "id": .string("chatcmpl-double"), "object": .string("chat.completion"), "created": .number(1_767_225_600),
                "model": .string(model),
                "choices": .array([.object(["index": .number(0), "finish_reason": .string("stop"),
                                            "message": .object(["role": .string("assistant"), "content": .string(content)])])]),
                "usage": .object(["prompt_tokens": .number(Double(p)), "completion_tokens": .number(Double(c)), "total_tokens": .number(Double(p + c))]),
            ])
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try IssueCoding.encode(answer))))
        case .hang:
            // A model that never answers (not test synchronisation): the client gives up
            // first; the answer ends when the double stops, so its shutdown does not wait.
            while !state.withLock({ $0.stopped }) { try await Task.sleep(for: .milliseconds(50)) }
            return Response(status: .gatewayTimeout)
        case .malformed(let text):
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
        case .status(let code):
            return Self.error(.init(code: code), "The server had an error while processing your request.", type: "server_error", code: nil)
        }
    }
}
