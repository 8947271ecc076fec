import CanoSDK
import Testing
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

@Suite struct RFC3339Tests {
    @Test func parsesAlertmanagerNanoseconds() throws {
        let date = try #require(RFC3339.parse("2026-11-26T15:23:12.041128967Z"))
        #expect(RFC3339.format(date) == "2026-11-26T15:23:12.041Z")
    }

    @Test func parsesOffsetsAndZeroTime() throws {
        let a = try #require(RFC3339.parse("2026-01-01T02:00:00+02:00"))
        #expect(RFC3339.format(a) == "2026-01-01T00:00:00.000Z")
        let zero = try #require(RFC3339.parse("0001-01-01T00:00:00Z"))
        #expect(zero.timeIntervalSince1970 < -62_000_000_000)
    }

    @Test(arguments: ["", "2026-11-26", "2026-13-01T00:00:00Z", "2026-11-26T15:23:12", "2026-11-26T15:23:12.Z", "2026-11-26T15:23:12Zjunk"])
    func rejectsMalformed(_ text: String) {
        #expect(RFC3339.parse(text) == nil)
    }
}
