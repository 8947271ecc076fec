import CanoSDK
import Collector
import Foundation
import Logging
import Testing
import TestSupport

/// Host log fields keep their JSON type (issue 15, §5): before, every metadata value was
/// written as a string, so `"attempt":1` came out as `"attempt":"1"`.
@Suite("JSON log numbers")
struct JSONLogNumbersTests {
    private func line(_ metadata: Logger.Metadata) throws -> [String: Any] {
        let capture = LogCapture()
        let logger = Logger(label: "cano.test") { JSONLogHandler(label: $0, level: .debug, output: .capture(capture)) }
        logger.info("delivery failed", metadata: metadata)
        let text = try #require(capture.lines.last)
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func numbersAndBoolsStayTyped() throws {
        let object = try line([
            "attempt": "\(1)",  // an interpolated string stays a string
            "attempts": .stringConvertible(3),
            "retry_after_ms": .stringConvertible(Int64(1500)),
            "bytes": .stringConvertible(UInt32(64)),
            "seconds": .stringConvertible(0.25),
            "crashed": .stringConvertible(true),
            "destination": "pager",
        ])
        #expect(object["attempts"] as? Int == 3)
        #expect(object["retry_after_ms"] as? Int == 1500)
        #expect(object["bytes"] as? Int == 64)
        #expect(object["seconds"] as? Double == 0.25)
        #expect(object["crashed"] as? Bool == true)
        #expect(object["attempt"] as? String == "1")
        #expect(object["destination"] as? String == "pager")
    }

    @Test func rawLineHasNoQuotedNumbers() throws {
        let capture = LogCapture()
        let logger = Logger(label: "cano.test") { JSONLogHandler(label: $0, level: .debug, output: .capture(capture)) }
        logger.warning("retrying", metadata: ["attempt": .stringConvertible(1), "ready": .stringConvertible(false)])
        let text = try #require(capture.lines.last)
        #expect(text.contains("\"attempt\":1"), "\(text)")
        #expect(!text.contains("\"attempt\":\"1\""))
        #expect(text.contains("\"ready\":false"))
    }

    /// Integers a JSON reader cannot hold exactly, and NaN, stay strings; a number equal to
    /// a registered secret is still redacted.
    @Test func edgeCasesStayStrings() throws {
        let object = try line([
            "huge": .stringConvertible(UInt64.max),
            "nan": .stringConvertible(Double.nan),
        ])
        #expect(object["huge"] as? String == "\(UInt64.max)")
        #expect(object["nan"] as? String == "nan")
        let secret = 9_183_726_450_112
        SecretScrubber.shared.register(["\(secret)"])
        let redacted = try line(["pin": .stringConvertible(secret)])
        #expect(redacted["pin"] as? String != nil && "\(redacted["pin"]!)" != "\(secret)")
    }
}
