import CanoSDK
import Foundation
import TestSupport
import Testing

/// The shared HTTP outcome mapping, tested once for every plugin, as Alertmanager tests
/// its `notify.Retrier` (notify/util_test.go): one table of statuses and decisions.
@Suite struct HTTPOutcomeTests {
    enum Decision: Equatable, CustomStringConvertible {
        case delivered, retry, permanent
        var description: String { "\(self == .delivered ? "delivered" : self == .retry ? "retry" : "permanent")" }
    }

    static func decision(_ result: DeliveryResult) -> Decision {
        switch result {
        case .delivered: .delivered
        case .retry: .retry
        case .permanent: .permanent
        }
    }

    static func message(_ result: DeliveryResult) -> String {
        switch result {
        case .delivered(_, let message), .retry(_, let message), .permanent(let message): message
        }
    }

    static let origin = "https://events.example.com"

    /// The table: each status, and what a plugin must do with it.
    static let statusTable: [(Int, Decision)] = [
        (100, .permanent), (101, .permanent),
        (200, .delivered), (201, .delivered), (202, .delivered), (204, .delivered), (206, .delivered), (299, .delivered),
        (300, .permanent), (301, .permanent), (302, .permanent), (303, .permanent), (304, .permanent),
        (307, .permanent), (308, .permanent),
        (400, .permanent), (401, .permanent), (402, .permanent), (403, .permanent), (404, .permanent),
        (405, .permanent), (406, .permanent),
        (408, .retry),
        (409, .permanent), (410, .permanent), (411, .permanent), (413, .permanent), (415, .permanent),
        (418, .permanent), (422, .permanent), (425, .permanent),
        (429, .retry),
        (431, .permanent), (451, .permanent), (499, .permanent),
        (500, .retry), (501, .retry), (502, .retry), (503, .retry), (504, .retry), (507, .retry), (599, .retry),
        // Not HTTP: fail safe, as the host does for an invalid status.
        (0, .retry), (600, .retry), (999, .retry),
    ]

    @Test(arguments: statusTable)
    func statusDecision(status: Int, expected: Decision) {
        let result = HTTPOutcome.classify(HTTPResponse(status: status), origin: Self.origin)
        #expect(Self.decision(result) == expected, "HTTP \(status)")
        let message = Self.message(result)
        #expect(message.hasPrefix("HTTP \(status) "), "the message names the status: \(message)")
        #expect(message.contains(Self.origin), "the message names the origin: \(message)")
    }

    @Test func deliveredMessageIsStatusAndOrigin() {
        #expect(HTTPOutcome.classify(HTTPResponse(status: 202), origin: Self.origin) == .delivered(message: "HTTP 202 from \(Self.origin)"))
    }

    @Test func redirectsSayToConfigureTheFinalURL() {
        let result = HTTPOutcome.classify(HTTPResponse(status: 301, headers: [HTTPHeader(name: "Location", value: "https://elsewhere.example/")]), origin: Self.origin)
        guard case .permanent(let message) = result else { Testing.Issue.record("expected permanent, got \(result)"); return }
        #expect(message.contains("redirects are not followed; configure the final URL"))
        #expect(!message.contains("elsewhere.example"), "the Location is not echoed: it may carry a token")
    }

    // MARK: Retry-After

    static let now = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT

    @Test(arguments: [
        ("120", Duration.seconds(120)),
        ("0", Duration.zero),
        ("1.5", Duration.milliseconds(1500)),
        (" 7 ", Duration.seconds(7)),
        ("Sun, 06 Nov 1994 08:50:37 GMT", Duration.seconds(60)),          // IMF-fixdate, 60 s ahead
        ("Sunday, 06-Nov-94 08:51:37 GMT", Duration.seconds(120)),        // RFC 850
        ("Sun Nov  6 08:49:47 1994", Duration.seconds(10)),               // asctime
        ("Sun, 06 Nov 1994 08:00:00 GMT", Duration.zero),                 // already passed
    ])
    func retryAfterIsTheDelay(header: String, expected: Duration) {
        for status in [429, 503, 408] {
            let response = HTTPResponse(status: status, headers: [HTTPHeader(name: "retry-after", value: header)])
            let result = HTTPOutcome.classify(response, origin: Self.origin, now: Self.now)
            guard case .retry(let after, _) = result else { Testing.Issue.record("HTTP \(status): expected retry, got \(result)"); continue }
            #expect(after == expected, "HTTP \(status) Retry-After \(header)")
        }
    }

    @Test(arguments: ["", "soon", "-5", "Sun, 06 Nov 1994 25:00:00 GMT"])
    func unreadableRetryAfterIsNoHint(header: String) {
        let result = HTTPOutcome.classify(HTTPResponse(status: 429, headers: [HTTPHeader(name: "Retry-After", value: header)]), origin: Self.origin, now: Self.now)
        #expect(result == .retry(after: nil, message: "HTTP 429 from \(Self.origin)"))
    }

    @Test func noRetryAfterIsNoHint() {
        #expect(HTTPOutcome.classify(HTTPResponse(status: 500), origin: Self.origin) == .retry(after: nil, message: "HTTP 500 from \(Self.origin)"))
    }

    // MARK: detail

    @Test func detailIsAppended() {
        let result = HTTPOutcome.classify(HTTPResponse(status: 400), origin: Self.origin, detail: "Event object is invalid; 'routing_key' is missing")
        #expect(result == .permanent(message: "HTTP 400 from \(Self.origin): Event object is invalid; 'routing_key' is missing"))
    }

    @Test func detailIsOneLineAndCapped() {
        let long = "<html>\n<body>\r\n\t" + String(repeating: "é", count: 5000) + "\u{1b}[31m</body></html>"
        let result = HTTPOutcome.classify(HTTPResponse(status: 502), origin: Self.origin, detail: long)
        let message = Self.message(result)
        #expect(!message.contains(where: { $0.isNewline || $0 == "\t" || $0 == "\u{1b}" }), "one line, no control characters")
        #expect(message.contains("<html> <body> é"), "blank runs become one space: \(message.prefix(80))")
        let prefix = "HTTP 502 from \(Self.origin): "
        #expect(message.hasPrefix(prefix))
        // BoundedEcho's cap plus its "… (N more bytes)" note, no more.
        #expect(message.utf8.count <= prefix.utf8.count + HTTPOutcome.detailLimit + 32, "capped: \(message.utf8.count) bytes")
        #expect(message.contains("more bytes)"), "says that it was cut")
    }

    @Test func emptyDetailAddsNothing() {
        #expect(HTTPOutcome.classify(HTTPResponse(status: 400), origin: Self.origin, detail: " \n ") == .permanent(message: "HTTP 400 from \(Self.origin)"))
    }

    // MARK: secrets

    static let secret = "R0UTINGKEY0123456789abcdefABCDEF"

    @Test func secretInDetailNeverReachesTheMessage() {
        let secrets = SecretSafe.prepared([Self.secret])
        var messages: [String] = []
        for status in [202, 301, 400, 401, 429, 500] {
            // Echoed whole, at the edge of the cap (where a cap-then-redact would leave half), and in JSON.
            let padding = String(repeating: "x", count: HTTPOutcome.detailLimit - 10)
            for detail in ["invalid routing key \(Self.secret)", padding + Self.secret, #"{"errors":["key \#(Self.secret) unknown"]}"#] {
                messages.append(Self.message(HTTPOutcome.classify(HTTPResponse(status: status), origin: Self.origin, detail: detail, secrets: secrets)))
            }
        }
        assertNoSecret(Self.secret, in: messages, named: "message")
        // Half a secret is a leak too.
        #expect(!messages.contains { $0.contains(Self.secret.prefix(12)) }, "no fragment of the secret")
        #expect(messages.filter { $0.contains(SecretSafe.placeholder) }.count >= 12, "the secret was replaced, not the detail dropped")
    }

    @Test func secretInOriginIsRedactedToo() {
        let secrets = SecretSafe.prepared(["tenant-\(Self.secret)"])
        let result = HTTPOutcome.classify(HTTPResponse(status: 500), origin: "https://tenant-\(Self.secret).example.com", secrets: secrets)
        assertNoSecret(Self.secret, in: [LeakSurface("message", Self.message(result))])
    }

    // MARK: transport errors

    @Test(arguments: [
        (HTTPClientError.Code.timeout, Decision.retry),
        (.connectionFailed, .retry),
        (.tls, .retry),
        (.other, .retry),
        (.responseTooLarge, .permanent),
    ])
    func transportErrors(code: HTTPClientError.Code, expected: Decision) {
        let error = HTTPClientError(code, "something went wrong", host: Self.origin)
        let result = HTTPOutcome.classify(error)
        #expect(Self.decision(result) == expected, "\(code)")
        #expect(Self.message(result) == "\(code) talking to \(Self.origin): something went wrong")
        if case .retry(let after, _) = result { #expect(after == nil) }
    }

    @Test func transportErrorTextIsRedactedAndCapped() {
        let secrets = SecretSafe.prepared([Self.secret])
        let error = HTTPClientError(.connectionFailed, "proxy said: Authorization: Bearer \(Self.secret)\n" + String(repeating: "z", count: 10_000), host: Self.origin)
        let message = Self.message(HTTPOutcome.classify(error, secrets: secrets))
        assertNoSecret(Self.secret, in: [LeakSurface("transport message", message)])
        #expect(message.contains("Bearer \(SecretSafe.placeholder)"))
        #expect(message.utf8.count <= HTTPOutcome.detailLimit + 32)
        #expect(!message.contains("\n"))
    }
}
