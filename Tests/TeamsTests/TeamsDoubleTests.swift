import CanoSDK
import Collector
import Foundation
import Testing
import TestSupport
@testable import TeamsDestination

/// The double itself enforces destinations.md §2.5: otherwise a passing plugin test
/// would prove nothing.
@Suite struct TeamsDoubleTests {
    static func envelope(version: String = "1.4", type: String = "message", contentType: String = TeamsCardBuilder.adaptiveContentType,
                         body: String = #"[{"type":"TextBlock","text":"hi"}]"#, actions: String = "[]") -> String {
        let card = #"{"type":"AdaptiveCard","version":"\#(version)","body":\#(body),"actions":\#(actions)}"#
        return #"{"type":"\#(type)","attachments":[{"contentType":"\#(contentType)","content":\#(card)}]}"#
    }

    func post(_ double: TeamsDouble, _ body: [UInt8], contentType: String = "application/json") async throws -> HTTPResponse {
        _ = curlSetup
        let request = HTTPRequest(method: "POST", url: double.url, headers: [HTTPHeader(name: "Content-Type", value: contentType)],
                                  body: body, timeout: .seconds(30))
        let result: Result<HTTPResponse, HTTPClientError> = await BlockingThread.run { Result { () throws(HTTPClientError) in try HTTPClient().send(request) } }
        return try result.get()
    }

    @Test func workflowModeAnswers202EmptyAndRecordsTheCard() async throws {
        let double = try await TeamsDouble.start()
        defer { stopLater { await double.stop() } }
        let response = try await post(double, Array(Self.envelope().utf8))
        #expect(response.status == 202)
        #expect(response.body.isEmpty)
        #expect(double.cards.first?["body"]?.arrayValue?.first?["text"]?.stringValue == "hi")
    }

    @Test func connectorModeAnswers200One() async throws {
        let double = try await TeamsDouble.start(mode: .connector)
        defer { stopLater { await double.stop() } }
        let response = try await post(double, Array(Self.envelope().utf8))
        #expect(response.status == 200)
        #expect(response.text == "1")
    }

    @Test(arguments: [
        (envelope(type: "card"), "'type' must be \"message\""),
        (envelope(contentType: "application/json"), "contentType"),
        (envelope(version: "1.5"), "at most 1.4"),
        (envelope(body: #"[{"type":"Table","rows":[]}]"#), "not an Adaptive Card 1.4 element"),
        (envelope(actions: #"[{"type":"Action.Submit","title":"x"}]"#), "not supported on webhooks"),
        (envelope(actions: "[" + Array(repeating: #"{"type":"Action.OpenUrl","url":"https://x"}"#, count: 7).joined(separator: ",") + "]"), "at most 6"),
        (#"{"type":"message","attachments":[]}"#, "non-empty array"),
        ("not json", "not a JSON object"),
    ])
    func badEnvelopesAreRejected(body: String, reason: String) async throws {
        let double = try await TeamsDouble.start()
        defer { stopLater { await double.stop() } }
        let response = try await post(double, Array(body.utf8))
        #expect(response.status == 400)
        #expect(response.text.contains(reason), "\(response.text)")
        #expect(double.cards.isEmpty)
        #expect(double.rejections.count == 1)
    }

    @Test func oversizedBodyGets413() async throws {
        let double = try await TeamsDouble.start()
        defer { stopLater { await double.stop() } }
        let text = String(repeating: "x", count: TeamsDouble.maxBodyBytes)
        let response = try await post(double, Array(Self.envelope(body: #"[{"type":"TextBlock","text":"\#(text)"}]"#).utf8))
        #expect(response.status == 413)
        #expect(response.text.contains("Request Entity too large"))
    }

    @Test func wrongContentTypeIsRejected() async throws {
        let double = try await TeamsDouble.start()
        defer { stopLater { await double.stop() } }
        let response = try await post(double, Array(Self.envelope().utf8), contentType: "text/plain")
        #expect(response.status == 400)
    }
}
