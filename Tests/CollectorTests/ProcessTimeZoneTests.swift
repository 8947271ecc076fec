@testable import Collector
import Foundation
import Testing

/// ``ProcessTimeZone``: a UTC host is named GMT for Foundation, nothing else is touched.
@Suite struct ProcessTimeZoneTests {
    @Test(arguments: [
        (tz: String?.none, isUTC: true, expected: String?.some("GMT")),
        (tz: nil, isUTC: false, expected: nil),       // a local zone that is not UTC stays
        (tz: "UTC", isUTC: true, expected: nil),      // a TZ the user set is theirs
        (tz: "Europe/Paris", isUTC: false, expected: nil),
        (tz: "", isUTC: true, expected: nil),
    ])
    func pinsOnlyAnUnsetUTCZone(tz: String?, isUTC: Bool, expected: String?) {
        #expect(ProcessTimeZone.pinned(tz: tz, isUTC: isUTC) == expected)
    }

    /// The C library's answer agrees with Foundation's own model of the local zone, at the
    /// same two instants (now and half a year on, so a zone that is UTC in winter only,
    /// Europe/London, does not count).
    @Test func localZoneIsUTCAgreesWithFoundation() {
        let now = Date()
        let zone = TimeZone.current
        let foundation = [now, now.addingTimeInterval(182 * 24 * 3600)].allSatisfy {
            zone.secondsFromGMT(for: $0) == 0 && !zone.isDaylightSavingTime(for: $0)
        }
        #expect(ProcessTimeZone.localZoneIsUTC(now: time_t(now.timeIntervalSince1970)) == foundation)
    }
}
