import CanoSDK
import Foundation
import Testing

/// `Retry-After` as CanoSDK reads it for every plugin: delay-seconds and the three
/// HTTP-date forms of RFC 9110 (§10.2.3, §5.6.7).
@Suite struct RetryAfterTests {
    /// 1994-11-06 08:49:37 UTC, RFC 9110's example instant.
    static let instant = Date(timeIntervalSince1970: 784_111_777)

    func delay(_ value: String, now: Date = instant) -> Duration? {
        HTTPResponse(status: 429, headers: [HTTPHeader(name: "Retry-After", value: value)]).retryAfter(now: now)
    }

    @Test(arguments: [
        ("120", Duration.seconds(120)),
        ("0", .zero),
        ("1.5", .milliseconds(1500)),
        (" 7\t", .seconds(7)),
        ("Sun, 06 Nov 1994 08:50:07 GMT", .seconds(30)),          // IMF-fixdate
        ("Sunday, 06-Nov-94 08:50:07 GMT", .seconds(30)),         // RFC 850
        ("Sun Nov  6 08:50:07 1994", .seconds(30)),               // asctime
        ("Sun, 06 Nov 1994 08:00:00 GMT", .zero),                 // already past: retry now
    ])
    func readsEveryForm(value: String, expected: Duration) {
        #expect(delay(value) == expected)
    }

    @Test(arguments: ["", "-5", "soon", "Sun, 06 Nov 1994 25:00:00 GMT", "Sun, 32 Nov 1994 08:00:00 GMT", "Sun, 06 Foo 1994 08:00:00 GMT",
                      "Sun, 06 Nov 1994 08:00:00 PST"])
    func rejectsWhatIsNotADelay(value: String) {
        #expect(delay(value) == nil)
    }

    @Test func aDateInAnotherYearAndMonthIsExact() {
        // 2026-03-01 00:00:00 UTC: a leap-year-free February and a month boundary.
        let now = Date(timeIntervalSince1970: 1_772_323_200 - 10)
        #expect(delay("Sun, 01 Mar 2026 00:00:00 GMT", now: now) == .seconds(10))
    }

    /// A remote header must not be able to trap the host (`Int64(inf)`) or park a queue for
    /// years: huge values are capped at one day, NaN is no hint.
    @Test(arguments: ["inf", "1e300", "99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
    func absurdValuesAreCappedNotATrap(value: String) {
        #expect(delay(value) == HTTPResponse.maxRetryAfter)
    }

    /// A year the day arithmetic cannot hold is no date (before, it trapped the host).
    @Test func anAbsurdYearIsNoDateNotATrap() {
        #expect(delay("Sun, 06 Nov 1000000000000 08:49:37 GMT") == nil)
        #expect(delay("Sun Nov  6 08:49:37 9223372036854775807") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 10000 08:49:37 GMT") == nil)
    }

    @Test func nanIsNoHint() {
        #expect(delay("nan") == nil)
    }

    @Test func noHeaderIsNil() {
        #expect(HTTPResponse(status: 503).retryAfter == nil)
    }
}
