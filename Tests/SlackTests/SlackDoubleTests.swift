#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Collector
import Testing
import TestSupport

/// The double itself must reject what Slack rejects, or the plugin tests prove nothing.
@Suite("Slack double contract")
struct SlackDoubleContractTests {
    let token = "xoxb-double-test"

    func call(_ slack: SlackDouble, _ method: String, json: JSONValue? = nil, form: String? = nil, bearer: Bool = true) async throws -> JSONValue {
        var headers: [HTTPHeader] = []
        if bearer { headers.append(HTTPHeader(name: "Authorization", value: "Bearer \(token)")) }
        let body: [UInt8]
        if let json {
            headers.append(HTTPHeader(name: "Content-Type", value: "application/json; charset=utf-8"))
            body = try IssueCoding.encode(json)
        } else {
            headers.append(HTTPHeader(name: "Content-Type", value: "application/x-www-form-urlencoded"))
            body = Array((form ?? "").utf8)
        }
        let request = CanoSDK.HTTPRequest(method: "POST", url: slack.apiURL + method, headers: headers, body: body)
        let response = try await BlockingThread.run { Result { () throws(HTTPClientError) in try HTTPClient().send(request) } }.get()
        #expect(response.status == 200)
        return try IssueCoding.decode(JSONValue.self, from: response.body)
    }

    @Test("auth: Bearer header or token field; none → not_authed; wrong → invalid_auth")
    func auth() async throws {
        let slack = try await SlackDouble.start(token: token)
        defer { slack.stop() }
        #expect(try await call(slack, "auth.test", form: "token=\(token)", bearer: false)["ok"] == .bool(true))
        #expect(try await call(slack, "auth.test", form: "", bearer: false)["error"] == .string("not_authed"))
        #expect(try await call(slack, "auth.test", form: "token=nope", bearer: false)["error"] == .string("invalid_auth"))
        #expect(slack.calls.map(\.tokenSource) == ["form", "none", "form"])
    }

    @Test("chat.postMessage: form body with JSON-string blocks, limits, no_text, msg_too_long")
    func postMessageContract() async throws {
        let slack = try await SlackDouble.start(token: token)
        defer { slack.stop() }
        let blocks = #"[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}]"#
        let ok = try await call(slack, "chat.postMessage", form: "channel=C0ALERTS01&text=hello&blocks=\(blocks.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")
        #expect(ok["ok"] == .bool(true))
        #expect(ok["ts"]?.stringValue?.wholeMatch(of: /\d{10}\.\d{6}/) != nil)

        let tooLong: JSONValue = ["channel": "C0ALERTS01", "text": "x", "attachments": [["color": "#000000", "blocks": [
            ["type": "section", "text": ["type": "mrkdwn", "text": .string(String(repeating: "a", count: 3001))]],
            ["type": "header", "text": ["type": "plain_text", "text": .string(String(repeating: "h", count: 151))]],
        ]]]]
        let rejected = try await call(slack, "chat.postMessage", json: tooLong)
        #expect(rejected["error"] == .string("invalid_blocks"))
        #expect(rejected["errors"] == [
            "must be less than 3001 characters [json-pointer:/attachments/0/blocks/0/text/text]",
            "must be less than 151 characters [json-pointer:/attachments/0/blocks/1/text/text]",
        ])
        let fiftyOne: JSONValue = ["channel": "C0ALERTS01", "blocks": .array(Array(repeating: ["type": "divider"], count: 51))]
        #expect(try await call(slack, "chat.postMessage", json: fiftyOne)["errors"] == ["must provide no more than 50 items [json-pointer:/blocks]"])
        #expect(try await call(slack, "chat.postMessage", json: ["channel": "C0ALERTS01"])["error"] == .string("no_text"))
        #expect(try await call(slack, "chat.postMessage", json: ["channel": "C0ALERTS01", "text": .string(String(repeating: "t", count: 40_001))])["error"] == .string("msg_too_long"))
        #expect(try await call(slack, "chat.postMessage", json: ["channel": "C0NOWHERE1", "text": "x"])["error"] == .string("channel_not_found"))
        #expect(try await call(slack, "chat.postMessage", json: ["channel": "not-joined", "text": "x"])["error"] == .string("not_in_channel"))
        #expect(slack.messages.count == 1)
    }

    @Test("chat.update only on a known ts")
    func updateContract() async throws {
        let slack = try await SlackDouble.start(token: token)
        defer { slack.stop() }
        let posted = try await call(slack, "chat.postMessage", json: ["channel": "alerts", "text": "v1"])
        let ts = try #require(posted["ts"]?.stringValue)
        #expect(try await call(slack, "chat.update", json: ["channel": "C0ALERTS01", "ts": "1700000000.999999", "text": "v2"])["error"] == .string("message_not_found"))
        #expect(try await call(slack, "chat.update", json: ["channel": "C0ALERTS01", "ts": .string(ts), "text": "v2"])["ok"] == .bool(true))
        #expect(slack.messages.first?.text == "v2")
    }

    @Test("three-step upload: form ticket, raw or multipart bytes, complete into a thread")
    func uploadContract() async throws {
        let slack = try await SlackDouble.start(token: token)
        defer { slack.stop() }
        #expect(try await call(slack, "files.getUploadURLExternal", json: ["filename": "a.txt", "length": 3])["error"] == .string("invalid_arguments"))
        let ticket = try await call(slack, "files.getUploadURLExternal", form: "filename=a.txt&length=3")
        let url = try #require(ticket["upload_url"]?.stringValue)
        let id = try #require(ticket["file_id"]?.stringValue)
        #expect(url.hasPrefix("http://127.0.0.1:\(slack.port)/"))
        #expect(try await call(slack, "files.completeUploadExternal", json: ["files": [["id": .string(id)]], "channel_id": "C0ALERTS01"])["error"] == .string("file_not_found"))

        let boundary = "XyZ"
        let multipart = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nabc\r\n--\(boundary)--\r\n".utf8)
        let upload = CanoSDK.HTTPRequest(method: "POST", url: url, headers: [HTTPHeader(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")], body: multipart)
        let uploaded = try await BlockingThread.run { Result { () throws(HTTPClientError) in try HTTPClient().send(upload) } }.get()
        #expect(uploaded.status == 200)
        let done = try await call(slack, "files.completeUploadExternal", json: ["files": [["id": .string(id), "title": "A"]], "channel_id": "C0ALERTS01"])
        #expect(done["ok"] == .bool(true))
        #expect(slack.files.first?.bytes == Array("abc".utf8))
    }

    @Test("conversations.list paginates with cursors and hides private channels the app is not in")
    func listContract() async throws {
        let slack = try await SlackDouble.start(token: token)
        defer { slack.stop() }
        slack.addChannel(SlackDoubleChannel(id: "G0SECRET01", name: "secret", isPrivate: true, isMember: false))
        var names: [String] = []
        var cursor = ""
        var pages = 0
        repeat {
            let page = try await call(slack, "conversations.list", form: "types=public_channel,private_channel&limit=2" + (cursor.isEmpty ? "" : "&cursor=\(cursor)"))
            names += page["channels"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            cursor = page["response_metadata"]?["next_cursor"]?.stringValue ?? ""
            pages += 1
        } while !cursor.isEmpty
        #expect(pages == 2)
        #expect(names.sorted() == ["alerts", "alerts-payments", "not-joined", "ops-private"])
    }
}
