@testable import Collector
import Testing
import Yams
#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation

/// Time intervals against Alertmanager's own tables (timeinterval/timeinterval_test.go at
/// prometheus/alertmanager 68fb2d5), ported case by case, plus the parts Alertmanager does
/// not have: nextChange, the config loader, and problems with their line:column.
///
/// Dates are fixed values built with Foundation's `Calendar` (an implementation independent
/// of the integer calendar arithmetic under test), never the wall clock.
@Suite struct TimeIntervalTests {
    // MARK: - Helpers

    static let utc = TimeZone(secondsFromGMT: 0)!
    static func zone(_ name: String) -> TimeZone { TimeZone(identifier: name)! }

    /// A wall-clock moment in `zone`, through Foundation's Gregorian calendar.
    static func date(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0,
                     in zone: TimeZone = utc) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))!
    }

    /// Go's `time.RFC822Z` layout as the Alertmanager tests write it: "02 Jan 06 15:04 -0700".
    static func rfc822z(_ text: String) -> Date {
        let parts = text.split(separator: " ").map(String.init)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let yy = Int(parts[2])!
        let hm = parts[3].split(separator: ":").map { Int($0)! }
        let zone = parts[4]
        let sign = zone.hasPrefix("-") ? -1 : 1
        let digits = Int(zone.dropFirst())!
        let offset = sign * ((digits / 100) * 3600 + (digits % 100) * 60)
        return date(yy >= 69 ? 1900 + yy : 2000 + yy, months.firstIndex(of: parts[1])! + 1, Int(parts[0])!, hm[0], hm[1],
                    in: TimeZone(secondsFromGMT: offset)!)
    }

    typealias R = TimeIntervalRule.InclusiveRange
    typealias M = TimeIntervalRule.MinuteRange

    /// The intervals of a YAML list (one set's `time_intervals`), and the problems.
    static func parseList(_ yaml: String) throws -> (rules: [TimeIntervalRule], problems: [String]) {
        let root = try #require(try Yams.compose(yaml: yaml))
        let reader = YAMLReader(environment: [:]) { _ in throw CocoaError(.fileNoSuchFile) }
        let rules = reader.sequence(.init(node: root, path: "")).compactMap { TimeIntervalParser.rule($0, reader) }
        return (rules, reader.problems.map(\.description))
    }

    static func parseOne(_ yaml: String) throws -> TimeIntervalRule {
        let root = try #require(try Yams.compose(yaml: yaml))
        let reader = YAMLReader(environment: [:]) { _ in throw CocoaError(.fileNoSuchFile) }
        let rule = TimeIntervalParser.rule(.init(node: root, path: ""), reader)
        #expect(reader.problems.isEmpty, "\(reader.problems)")
        return try #require(rule)
    }

    // MARK: - Alertmanager's timeIntervalTestCases (TestContainsTime)

    struct MembershipCase: Sendable {
        let name: String
        let rule: TimeIntervalRule
        let valid: [String]
        let invalid: [String]
    }

    static let membershipCases: [MembershipCase] = [
        .init(name: "empty interval contains everything", rule: .init(),
              valid: ["02 Jan 06 15:04 +0000", "03 Jan 07 10:04 +0000", "04 Jan 06 09:04 +0000"], invalid: []),
        .init(name: "9am to 5pm, monday to friday",
              rule: .init(times: [M(start: 540, end: 1020)], weekdays: [R(1, 5)]),
              valid: ["04 May 20 15:04 +0000", "05 May 20 10:04 +0000", "09 Jun 20 09:04 +0000"],
              invalid: ["03 May 20 15:04 +0000", "04 May 20 08:59 +0000", "05 May 20 05:00 +0000"]),
        .init(name: "Easter 2020",
              rule: .init(daysOfMonth: [R(4, 6)], months: [R(4, 4)], years: [R(2020, 2020)]),
              valid: ["04 Apr 20 15:04 +0000", "05 Apr 20 00:00 +0000", "06 Apr 20 23:05 +0000"],
              invalid: ["03 May 18 15:04 +0000", "03 Apr 20 23:59 +0000", "04 Jun 20 23:59 +0000", "06 Apr 19 23:59 +0000",
                        "07 Apr 20 00:00 +0000"]),
        .init(name: "negative days of month: last 3 days of each month",
              rule: .init(daysOfMonth: [R(-3, -1)]),
              valid: ["31 Jan 20 15:04 +0000", "30 Jan 20 15:04 +0000", "29 Jan 20 15:04 +0000", "30 Jun 20 00:00 +0000",
                      "29 Feb 20 23:05 +0000"],
              invalid: ["03 May 18 15:04 +0000", "27 Jan 20 15:04 +0000", "03 Apr 20 23:59 +0000", "04 Jun 20 23:59 +0000",
                        "06 Apr 19 23:59 +0000", "07 Apr 20 00:00 +0000", "01 Mar 20 00:00 +0000"]),
        .init(name: "out of bound days are clamped to month boundaries",
              rule: .init(daysOfMonth: [R(-31, 31)], months: [R(6, 6)]),
              valid: ["30 Jun 20 00:00 +0000", "01 Jun 20 00:00 +0000"],
              // Go reads "1 Jul" (one digit) as a parse error, the zero time; here it is July 1st: excluded either way.
              invalid: ["31 May 20 00:00 +0000", "1 Jul 20 00:00 +0000"]),
        .init(name: "alternative time zone: AEST 9am to 5pm, monday to friday",
              rule: .init(times: [M(start: 540, end: 1020)], weekdays: [R(1, 5)], location: zone("Australia/Sydney")),
              valid: ["06 Apr 21 13:00 +1000"], invalid: ["06 Apr 21 13:00 +0000"]),
        .init(name: "alternative time zone during daylight saving time",
              rule: .init(times: [M(start: 540, end: 1020)], weekdays: [R(1, 5)], months: [R(11, 11)], location: zone("Australia/Sydney")),
              valid: ["01 Nov 21 09:00 +1100", "31 Oct 21 22:00 +0000"], invalid: ["31 Oct 21 21:00 +0000"]),
        .init(name: "last-day mutes do not shift during spring-forward months",
              rule: .init(daysOfMonth: [R(-1, -1)], location: zone("America/New_York")),
              valid: ["31 Mar 21 12:00 -0400"], invalid: ["30 Mar 21 12:00 -0400"]),
    ]

    @Test(arguments: membershipCases)
    func containsTime(_ c: MembershipCase) {
        for text in c.valid { #expect(c.rule.contains(Self.rfc822z(text)), "\(c.name): expected to contain \(text)") }
        for text in c.invalid { #expect(!c.rule.contains(Self.rfc822z(text)), "\(c.name): expected to exclude \(text)") }
    }

    // MARK: - Alertmanager's timeStringTestCases (TestParseTimeString)

    @Test func parseTimeString() throws {
        let cases: [(yaml: String, expected: M?)] = [
            ("{'start_time': '00:00', 'end_time': '24:00'}", M(start: 0, end: 1440)),
            ("{'start_time': '01:35', 'end_time': '17:39'}", M(start: 95, end: 1059)),
            ("{'start_time': '09:35', 'end_time': '09:39'}", M(start: 575, end: 579)),
            ("{'start_time': '17:31', 'end_time': '17:31'}", nil),  // begin and end the same
            ("{'start_time': '12:30', 'end_time': '24:01'}", nil),  // end out of range
            ("{'start_time': '09:30', 'end_time': '07:41'}", nil),  // start after end
            ("{'start_time': '24:00', 'end_time': '17:41'}", nil),  // start out of range and after end
            ("{'start_time': '14:03'}", nil),  // no end
        ]
        for c in cases {
            let (rules, problems) = try Self.parseList("- times: [\(c.yaml)]")
            if let expected = c.expected {
                #expect(problems.isEmpty, "\(c.yaml): \(problems)")
                #expect(rules.first?.times == [expected], "\(c.yaml)")
            } else {
                #expect(rules.isEmpty && problems.count == 1, "\(c.yaml) must be refused: \(problems)")
            }
        }
    }

    // MARK: - Alertmanager's yamlUnmarshalTestCases (TestYamlUnmarshal)

    struct UnmarshalCase: Sendable {
        let yaml: String
        var intervals: [TimeIntervalRule]? = nil
        var contains: [String] = []
        var excludes: [String] = []
        /// Alertmanager's error text, for reference.
        var amError: String? = nil
        /// What our message must contain.
        var error: String? = nil
    }

    static let unmarshalCases: [UnmarshalCase] = [
        .init(yaml: """
            ---
            - weekdays: ['monday:friday']
              times:
                - start_time: '09:00'
                  end_time: '17:00'
            """,
              intervals: [.init(times: [M(start: 540, end: 1020)], weekdays: [R(1, 5)])],
              contains: ["08 Jul 20 09:00 +0000", "08 Jul 20 16:59 +0000"],
              excludes: ["08 Jul 20 05:00 +0000", "08 Jul 20 08:59 +0000"]),
        .init(yaml: """
            ---
              # Last week, excluding Saturday, of the first quarter of the year during business hours from 2020 to 2025 and 2030-2035
            - weekdays: ['monday:friday', 'sunday']
              months: ['january:march']
              days_of_month: ['-7:-1']
              years: ['2020:2025', '2030:2035']
              times:
                - start_time: '09:00'
                  end_time: '17:00'
            """,
              intervals: [.init(times: [M(start: 540, end: 1020)], weekdays: [R(1, 5), R(0, 0)], daysOfMonth: [R(-7, -1)],
                                months: [R(1, 3)], years: [R(2020, 2025), R(2030, 2035)])],
              contains: ["27 Jan 21 09:00 +0000", "28 Jan 21 16:59 +0000", "29 Jan 21 13:00 +0000", "31 Mar 25 13:00 +0000",
                         "31 Mar 25 13:00 +0000", "31 Jan 35 13:00 +0000"],
              excludes: ["30 Jan 21 13:00 +0000", "01 Apr 21 13:00 +0000", "30 Jan 26 13:00 +0000", "31 Jan 35 17:01 +0000"]),
        .init(yaml: """
            ---
            - weekdays: ['monday:friday']
              times:
                - start_time: '09:00'
                  end_time: '17:00'
            """,
              intervals: [.init(times: [M(start: 540, end: 1020)], weekdays: [R(1, 5)])],
              contains: ["01 Apr 21 13:00 +0000"]),
        .init(yaml: "- times:\n    - start_time: '01:99'\n      end_time: '23:59'",
              amError: "couldn't parse timestamp 01:99, invalid format", error: "invalid time \"01:99\""),
        .init(yaml: "- times:\n    - start_time: '00:00'\n      end_time: '99:99'",
              amError: "couldn't parse timestamp 99:99, invalid format", error: "invalid time \"99:99\""),
        .init(yaml: "- weekdays: ['friday:monday']",
              amError: "start day cannot be before end day", error: "weekday range \"friday:monday\" ends before it starts"),
        .init(yaml: "- weekdays: ['blurgsday:flurgsday']",
              amError: "blurgsday is not a valid weekday", error: "\"blurgsday\" is not a weekday (in \"blurgsday:flurgsday\")"),
        .init(yaml: "- weekdays: ['1:3']", amError: "1 is not a valid weekday", error: "\"1\" is not a weekday"),
        .init(yaml: "- weekdays: ['-2:-1']", amError: "-2 is not a valid weekday", error: "\"-2\" is not a weekday"),
        .init(yaml: "- days_of_month: ['0']",
              amError: "0 is not a valid day of the month: out of range", error: "day of the month 0 is out of range"),
        .init(yaml: "- days_of_month: ['-50:-20']",
              amError: "-50 is not a valid day of the month: out of range", error: "day of the month -50 is out of range"),
        .init(yaml: "- days_of_month: ['1:50']",
              amError: "50 is not a valid day of the month: out of range", error: "day of the month 50 is out of range"),
        .init(yaml: "- days_of_month: ['1:-1']", intervals: [.init(daysOfMonth: [R(1, -1)])]),
        .init(yaml: "- days_of_month: ['-15:5']",
              amError: "end day must be negative if start day is negative", error: "the end day must be negative when the start day is"),
        .init(yaml: "- days_of_month: ['10:-25']",
              amError: "end day -25 is always before start day 10", error: "\"10:-25\": the end day is always before the start day"),
        .init(yaml: "- months: ['January:december']", intervals: [.init(months: [R(1, 12)])]),
        .init(yaml: "- years: ['2020:2022']\n  location: 'Australia/Sydney'",
              intervals: [.init(years: [R(2020, 2022)], location: zone("Australia/Sydney"))]),
        .init(yaml: "- months: ['martius:june']", amError: "martius is not a valid month", error: "\"martius\" is not a month"),
        .init(yaml: "- months: ['march:junius']", amError: "junius is not a valid month", error: "\"junius\" is not a month"),
        .init(yaml: "- months: ['december:january']",
              amError: "end month january is before start month december", error: "month range \"december:january\" ends before it starts"),
        .init(yaml: "- years: ['2022:2020']",
              amError: "end year 2020 is before start year 2022", error: "year range \"2022:2020\" ends before it starts"),
    ]

    @Test(arguments: unmarshalCases)
    func yamlUnmarshal(_ c: UnmarshalCase) throws {
        let (rules, problems) = try Self.parseList(c.yaml)
        if let error = c.error {
            #expect(problems.count == 1 && problems[0].contains(error), "Alertmanager: \(c.amError ?? ""); got \(problems)")
            #expect(rules.isEmpty)
            return
        }
        #expect(problems.isEmpty, "\(problems)")
        if let intervals = c.intervals { #expect(rules == intervals) }
        let set = TimeIntervalSet(intervals: rules)
        for text in c.contains { #expect(set.contains(Self.rfc822z(text)), "expected to contain \(text)") }
        for text in c.excludes { #expect(!set.contains(Self.rfc822z(text)), "expected to exclude \(text)") }
    }

    // MARK: - Alertmanager's completeTestCases (TestTimeIntervalComplete)

    @Test func timeIntervalComplete() throws {
        let interval = try Self.parseOne("""
            ---
            weekdays: ['monday:wednesday', 'saturday', 'sunday']
            times:
              - start_time: '13:00'
                end_time: '15:00'
            days_of_month: ['1', '10', '20:-1']
            years: ['2020:2023']
            months: ['january:march']
            """)
        for text in ["10 Jan 21 13:00 +0000", "30 Jan 21 14:24 +0000"] { #expect(interval.contains(Self.rfc822z(text)), "\(text)") }
        for text in ["09 Jan 21 13:00 +0000", "20 Jan 21 12:59 +0000", "02 Feb 21 13:00 +0000"] {
            #expect(!interval.contains(Self.rfc822z(text)), "\(text)")
        }
        // Broken clamping (a begin date after the end of the month clamped onto its end).
        let february = try Self.parseOne("days_of_month: ['30:31']\nyears: ['2020:2023']\nmonths: ['february']")
        #expect(!february.contains(Self.rfc822z("28 Feb 21 13:00 +0000")))
    }

    // MARK: - Alertmanager's TestIntervener_Mutes

    @Test func intervenerMutes() {
        let sydney = Self.zone("Australia/Sydney")
        let sets: [String: TimeIntervalSet] = [
            "evenings": .init(intervals: [.init(times: [M(start: 0, end: 540), M(start: 1020, end: 1440)], location: sydney)]),
            "weekends": .init(intervals: [.init(weekdays: [R(6, 6), R(0, 0)], location: sydney)]),
        ]
        let cases: [(String, Date, [String])] = [
            ("muted outside working hours", Self.date(2024, 1, 1, 0, 0, in: sydney), ["evenings"]),
            ("not muted during working hours", Self.date(2024, 1, 1, 9, 0, in: sydney), []),
            ("muted during weekends", Self.date(2024, 1, 6, 10, 0, in: sydney), ["weekends"]),
            ("muted during weekend evenings", Self.date(2024, 1, 6, 17, 0, in: sydney), ["evenings", "weekends"]),
            ("muted at 10:00 UTC on a weekday", Self.date(2024, 1, 1, 10, 0), ["evenings"]),
            ("muted at 10:00 UTC on a weekend", Self.date(2024, 1, 6, 10, 0), ["evenings", "weekends"]),
        ]
        for (name, now, mutedBy) in cases {
            #expect(sets.keys.sorted().filter { sets[$0]!.contains(now) } == mutedBy, "\(name)")
        }
    }

    // MARK: - Our own membership and parsing edges

    @Test func emptyListMatchesNothingAndNullMatchesEverything() throws {
        // As Alertmanager's YAML decoding: `weekdays: []` is a set field with no range.
        let empty = try Self.parseOne("weekdays: []")
        #expect(empty.weekdays == [])
        #expect(!empty.contains(Self.date(2024, 1, 1, 12)))
        let null = try Self.parseOne("weekdays:\nmonths: ~")
        #expect(null == TimeIntervalRule())
        #expect(null.contains(Self.date(2024, 1, 1, 12)))
    }

    @Test func endOfDayAndMinuteGranularity() {
        let evening = TimeIntervalRule(times: [M(start: 1020, end: 1440)])
        #expect(evening.contains(Self.date(2024, 1, 1, 23, 59, 59)))
        #expect(!evening.contains(Self.date(2024, 1, 2, 0, 0, 0)))
        #expect(!evening.contains(Self.date(2024, 1, 1, 16, 59, 59)))
        #expect(evening.contains(Self.date(2024, 1, 1, 17, 0, 0)))
    }

    @Test func datesBefore1970AndLeapYears() {
        // Integer calendar arithmetic against Foundation's calendar, from 1614 to 4160 (before
        // 1582 Foundation's Gregorian calendar turns Julian; Go's and ours stay proleptic).
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = Self.utc
        for days in stride(from: -130_000, through: 800_000, by: 997) {
            let date = Date(timeIntervalSince1970: Double(days) * 86400 + 3723)
            let c = calendar.dateComponents([.year, .month, .day, .weekday, .hour, .minute], from: date)
            let wall = WallClock(date, in: Self.utc)
            #expect(wall.year == c.year && wall.month == c.month && wall.day == c.day, "\(date)")
            #expect(wall.weekday == c.weekday! - 1 && wall.minuteOfDay == 62, "\(date)")
            #expect(wall.daysInMonth == calendar.range(of: .day, in: .month, for: date)?.count, "\(date)")
        }
        #expect(TimeIntervalRule(daysOfMonth: [R(29, 29)], months: [R(2, 2)]).contains(Self.date(2000, 2, 29, 12)))
        #expect(TimeIntervalRule(daysOfMonth: [R(-1, -1)]).contains(Self.date(1900, 2, 28, 12)))
    }

    @Test func locations() throws {
        #expect(try TimeIntervalParser.location("") == TimeIntervalRule.utc)
        #expect(try TimeIntervalParser.location("UTC") == TimeIntervalRule.utc)
        #expect(try TimeIntervalParser.location("Local") == TimeZone.current)
        #expect(try TimeIntervalParser.location("Europe/Berlin").identifier == "Europe/Berlin")
        #expect(try TimeIntervalParser.location("US/Eastern").identifier == "US/Eastern")
        #expect(try TimeIntervalParser.location("Etc/GMT+2").secondsFromGMT(for: Self.date(2024, 1, 1)) == -7200)
        // Not IANA names (and "GMT+2" would be UTC+2 to Foundation, UTC−2 to IANA), or unknown.
        for name in ["GMT+2", "UTC+1", "GMT+0200", "Mars/Olympus", "utc", "europe/berlin"] {
            #expect(throws: TimeIntervalSyntaxError.unknownLocation(name)) { try TimeIntervalParser.location(name) }
        }
        #expect(TimeIntervalSyntaxError.unknownLocation("X").description.hasPrefix("unknown time zone location \"X\" (is tzdata installed?)"))
    }

    @Test func valueSyntax() throws {
        #expect(try TimeIntervalParser.minutes("24:00") == 1440)
        #expect(try TimeIntervalParser.minutes("00:00") == 0)
        #expect(try TimeIntervalParser.minutes("23:59") == 1439)
        for bad in ["25:00", "9:00", "09:60", "24:30", "0900", "09:00:00", "", "٠٩:٠٠", " 9:00"] {
            #expect(throws: TimeIntervalSyntaxError.badTime(bad)) { try TimeIntervalParser.minutes(bad) }
        }
        #expect(try TimeIntervalParser.weekdays("Saturday") == R(6, 6))
        #expect(try TimeIntervalParser.months("2:4") == R(2, 4))
        #expect(try TimeIntervalParser.months("MARCH") == R(3, 3))
        #expect(try TimeIntervalParser.daysOfMonth("-3:-1") == R(-3, -1))
        #expect(try TimeIntervalParser.daysOfMonth("+5") == R(5, 5))  // Go's Atoi takes a sign
        #expect(throws: TimeIntervalSyntaxError.badRange("monday:tuesday:friday")) { try TimeIntervalParser.weekdays("monday:tuesday:friday") }
        #expect(throws: TimeIntervalSyntaxError.unknownWeekday("", in: "monday:")) { try TimeIntervalParser.weekdays("monday:") }
        // Stricter than Alertmanager, which accepts them but never (or only partly) matches.
        #expect(throws: TimeIntervalSyntaxError.unknownMonth("13", in: "13")) { try TimeIntervalParser.months("13") }
        #expect(throws: TimeIntervalSyntaxError.unknownMonth("0", in: "0:3")) { try TimeIntervalParser.months("0:3") }
        #expect(throws: TimeIntervalSyntaxError.badYear("0", in: "0")) { try TimeIntervalParser.years("0") }
        #expect(TimeIntervalSyntaxError.unknownWeekday("fryday", in: "monday:fryday").description.contains("did you mean \"friday\"?"))
        // A wrapping range: the fix offered is the user's own range split at the year's
        // (week's) end, not a fixed example (found by a newcomer).
        #expect(TimeIntervalSyntaxError.monthsReversed("october:march").description.hasSuffix(#""october:december" and "january:march""#))
        #expect(TimeIntervalSyntaxError.weekdaysReversed("saturday:tuesday").description.hasSuffix(#""saturday" and "sunday:tuesday""#))
    }

    // MARK: - nextChange

    static let businessHours = TimeIntervalSet(intervals: [.init(times: [M(start: 540, end: 1020)], weekdays: [R(1, 5)])])

    @Test func nextChangeBusinessHours() {
        let set = Self.businessHours
        // 2024-01-01 is a Monday.
        #expect(set.nextChange(after: Self.date(2024, 1, 1, 8, 30)) == Self.date(2024, 1, 1, 9, 0))
        #expect(set.nextChange(after: Self.date(2024, 1, 1, 8, 59, 59).addingTimeInterval(0.5)) == Self.date(2024, 1, 1, 9, 0))
        // At a boundary the change is the next one, strictly after.
        #expect(set.nextChange(after: Self.date(2024, 1, 1, 9, 0)) == Self.date(2024, 1, 1, 17, 0))
        #expect(set.nextChange(after: Self.date(2024, 1, 1, 12, 0)) == Self.date(2024, 1, 1, 17, 0))
        // Friday evening → Monday morning, across midnights where nothing changes.
        #expect(set.nextChange(after: Self.date(2024, 1, 5, 17, 0)) == Self.date(2024, 1, 8, 9, 0))
        #expect(set.nextChange(after: Self.date(2024, 1, 6, 3, 0)) == Self.date(2024, 1, 8, 9, 0))
        // Not within the limit.
        #expect(set.nextChange(after: Self.date(2024, 1, 5, 17, 0), within: 86400) == nil)
        #expect(set.nextChange(after: Self.date(2024, 1, 5, 17, 0), within: 0) == nil)
        // Exactly at the limit still counts.
        #expect(set.nextChange(after: Self.date(2024, 1, 1, 8, 0), within: 3600) == Self.date(2024, 1, 1, 9, 0))
    }

    @Test func nextChangeWhenNothingChanges() {
        #expect(TimeIntervalSet(intervals: []).nextChange(after: Self.date(2024, 1, 1)) == nil)
        #expect(TimeIntervalSet(intervals: [.init()]).nextChange(after: Self.date(2024, 1, 1)) == nil)
        let past = TimeIntervalSet(intervals: [.init(times: [M(start: 60, end: 120)], years: [R(2020, 2020)])])
        #expect(past.nextChange(after: Self.date(2024, 1, 1)) == nil)
        // A far window is found with a larger limit.
        let newYear = TimeIntervalSet(intervals: [.init(daysOfMonth: [R(1, 1)], months: [R(1, 1)])])
        #expect(newYear.nextChange(after: Self.date(2024, 3, 1)) == nil)
        #expect(newYear.nextChange(after: Self.date(2024, 3, 1), within: 400 * 86400) == Self.date(2025, 1, 1))
        #expect(newYear.nextChange(after: Self.date(2025, 1, 1, 5)) == Self.date(2025, 1, 2))
    }

    @Test func nextChangeAcrossIntervalsAndZones() {
        // Two intervals that overlap and touch: the set changes only where the union does.
        let set = TimeIntervalSet(intervals: [
            .init(times: [M(start: 600, end: 720)]),
            .init(times: [M(start: 720, end: 780), M(start: 700, end: 710)]),
            .init(times: [M(start: 540, end: 600)], location: Self.zone("Europe/Berlin")),  // 08:00–09:00 UTC in winter
        ])
        #expect(set.nextChange(after: Self.date(2024, 1, 10, 7, 0)) == Self.date(2024, 1, 10, 8, 0))
        #expect(set.nextChange(after: Self.date(2024, 1, 10, 8, 0)) == Self.date(2024, 1, 10, 9, 0))
        #expect(set.nextChange(after: Self.date(2024, 1, 10, 9, 0)) == Self.date(2024, 1, 10, 10, 0))
        #expect(set.nextChange(after: Self.date(2024, 1, 10, 10, 0)) == Self.date(2024, 1, 10, 13, 0))
    }

    @Test func nextChangeAcrossDaylightSavingTime() {
        let berlin = Self.zone("Europe/Berlin")
        // 02:00–03:00 does not exist in Berlin on 2024-03-31 (01:00 UTC: 02:00 CET → 03:00 CEST).
        let night = TimeIntervalSet(intervals: [.init(times: [M(start: 120, end: 180)], location: berlin)])
        #expect(night.nextChange(after: Self.date(2024, 3, 30, 23, 30)) == Self.date(2024, 4, 1, 0, 0))
        #expect(night.nextChange(after: Self.date(2024, 3, 29, 23, 30)) == Self.date(2024, 3, 30, 1, 0))
        // Before spring-forward the local 03:00 boundary falls on the jump itself.
        let early = TimeIntervalSet(intervals: [.init(times: [M(start: 60, end: 150)], location: berlin)])
        #expect(early.nextChange(after: Self.date(2024, 3, 31, 0, 30)) == Self.date(2024, 3, 31, 1, 0))
        // 01:30–01:45 happens twice in New York on 2024-11-03 (06:00 UTC: 02:00 EDT → 01:00 EST).
        let ny = TimeIntervalSet(intervals: [.init(times: [M(start: 90, end: 105)], location: Self.zone("America/New_York"))])
        var t = Self.date(2024, 11, 3, 5, 0)
        var changes: [Date] = []
        for _ in 0..<4 {
            guard let next = ny.nextChange(after: t) else { break }
            changes.append(next)
            t = next
        }
        #expect(changes == [Self.date(2024, 11, 3, 5, 30), Self.date(2024, 11, 3, 5, 45),
                            Self.date(2024, 11, 3, 6, 30), Self.date(2024, 11, 3, 6, 45)])
        // The Sydney case of Alertmanager's table: the window opens at 09:00 AEDT (22:00 UTC).
        let sydney = TimeIntervalSet(intervals: [.init(times: [M(start: 540, end: 1020)], weekdays: [R(1, 5)], months: [R(11, 11)],
                                                       location: Self.zone("Australia/Sydney"))])
        #expect(sydney.nextChange(after: Self.rfc822z("31 Oct 21 21:00 +0000")) == Self.rfc822z("31 Oct 21 22:00 +0000"))
    }

    /// A deterministic pseudo-random generator (no wall clock, no system randomness).
    struct LCG {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    /// nextChange against a minute-by-minute scan (which is obviously right), over random
    /// rules in zones with half-hour offsets and DST (Lord Howe shifts by 30 minutes), and
    /// random starts around DST switches.
    @Test func nextChangeAgreesWithMinuteScan() {
        var random = LCG(state: 12)
        let zones = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Asia/Kathmandu",
                     "Australia/Lord_Howe", "America/Santiago"].map { $0 == "UTC" ? Self.utc : Self.zone($0) }
        let starts = [Self.date(2024, 3, 29), Self.date(2024, 10, 25), Self.date(2024, 4, 4), Self.date(2024, 2, 27), Self.date(2023, 12, 29)]
        let window: TimeInterval = 3 * 86400
        for _ in 0..<60 {
            var intervals: [TimeIntervalRule] = []
            for _ in 0..<(1 + random.next(2)) {
                var rule = TimeIntervalRule(location: zones[random.next(zones.count)])
                if random.next(3) > 0 {
                    rule.times = (0..<(1 + random.next(2))).map { _ in
                        let start = random.next(1440)
                        return M(start: start, end: start + 1 + random.next(1440 - start))
                    }
                }
                if random.next(2) == 0 { let d = random.next(7); rule.weekdays = [R(d, d + random.next(7 - d))] }
                if random.next(3) == 0 { rule.daysOfMonth = [random.next(2) == 0 ? R(1 + random.next(31), 31) : R(-1 - random.next(5), -1)] }
                if random.next(4) == 0 { let m = 1 + random.next(12); rule.months = [R(m, m)] }
                intervals.append(rule)
            }
            let set = TimeIntervalSet(intervals: intervals)
            let start = starts[random.next(starts.count)].addingTimeInterval(Double(random.next(2 * 86400)) + 0.25)
            // The scan: every whole minute after start, within the window.
            var expected: Date?
            let initial = set.contains(start)
            var minute = (start.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60
            while minute <= start.timeIntervalSince1970 + window {
                let d = Date(timeIntervalSince1970: minute)
                if set.contains(d) != initial { expected = d; break }
                minute += 60
            }
            #expect(set.nextChange(after: start, within: window) == expected, "\(intervals) from \(start)")
        }
    }

    /// The dispatcher calls nextChange on every flush: the worst case (a full 8-day search
    /// that finds nothing, with boundaries every day in three zones) must stay far below
    /// 10 ms even in a debug build.
    @Test func nextChangeIsFast() {
        let set = TimeIntervalSet(intervals: [
            .init(times: [M(start: 540, end: 1020), M(start: 1200, end: 1260)], weekdays: [R(1, 5)], years: [R(2030, 2030)]),
            .init(times: [M(start: 0, end: 60)], years: [R(2031, 2031)], location: Self.zone("Europe/Berlin")),
            .init(times: [M(start: 600, end: 700)], months: [R(12, 12)], location: Self.zone("America/New_York")),
        ])
        let from = Self.date(2024, 3, 27)
        let clock = ContinuousClock()
        // The best of five batches: other work on a loaded machine only ever adds time.
        let perCall = (0..<5).map { batch in
            clock.measure {
                for i in 0..<10 { #expect(set.nextChange(after: from.addingTimeInterval(Double(batch * 10 + i))) == nil) }
            } / 10
        }.min()!
        #expect(perCall < .milliseconds(3), "nextChange took \(perCall) per call")
        print("TimeIntervalTests: nextChange worst case (8 days, 3 intervals) \(perCall) per call")
    }

    // MARK: - Through the config loader

    static let destinations = """
        destinations:
          - name: local
            type: file
            config: {path: "-"}
        default_destinations: [local]
        """

    @Test func loadsTimeIntervalsAndRoutesReferencingThem() throws {
        let yaml = Self.destinations + """

            time_intervals:
              - name: business-hours
                time_intervals:
                  - weekdays: ['monday:friday']
                    times:
                      - start_time: '09:00'
                        end_time: '17:00'
                    location: Europe/Berlin
              - name: maintenance
                time_intervals:
                  - days_of_month: ['-1']
                    months: ['january:march', '10:12']
                    times: [{start_time: '22:00', end_time: '24:00'}]
                  - years: ['2025']
                    weekdays: [saturday, Sunday]
            routes:
              - matchers: ['severity="HIGH"']
                destinations: [local]
                mute_time_intervals: [maintenance]
                active_time_intervals: [business-hours]
            default_notify:
              mute_time_intervals: [maintenance]
            """
        let config = try ConfigLoader.parse(yaml)
        let berlin = Self.zone("Europe/Berlin")
        #expect(config.timeIntervals == [
            "business-hours": .init(intervals: [.init(times: [M(start: 540, end: 1020)], weekdays: [R(1, 5)], location: berlin)]),
            "maintenance": .init(intervals: [
                .init(times: [M(start: 1320, end: 1440)], daysOfMonth: [R(-1, -1)], months: [R(1, 3), R(10, 12)]),
                .init(weekdays: [R(6, 6), R(0, 0)], years: [R(2025, 2025)]),
            ]),
        ])
        #expect(config.routes[0].notify.muteTimeIntervals == ["maintenance"])
        #expect(config.routes[0].notify.activeTimeIntervals == ["business-hours"])
        #expect(config.defaultNotify.muteTimeIntervals == ["maintenance"])
        // Matching reads the interval's own location: 08:30 UTC is 09:30 in Berlin in winter.
        let business = try #require(config.timeIntervals["business-hours"])
        #expect(business.contains(Self.date(2024, 1, 8, 8, 30)))
        #expect(!business.contains(Self.date(2024, 1, 8, 16, 30)))
        #expect(business.nextChange(after: Self.date(2024, 1, 8, 8, 30)) == Self.date(2024, 1, 8, 16, 0))
    }

    @Test func badTimeIntervalsAreProblemsWithLineAndColumn() {
        let yaml = Self.destinations + """

            time_intervals:
              - name: weekend
                time_intervals:
                  - weekdays: ['saturday:fryday']
                    times: [{start_time: '25:00', end_time: '26:00'}, {start_time: '10:00', end_time: '09:00'}, {start_time: '10:00'}]
                    days_of_month: ['0', '-3:-1']
                    months: [smarch]
                    years: ['2022:2020']
                    location: Mars/Olympus
                    hours: [1]
              - name: weekend
                time_intervals: []
              - name: ''
              - time_intervals: []
              - just a string
            routes:
              - destinations: [local]
                mute_time_intervals: [weekend, holidays]
            """
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml, file: "c.yaml") }
        let problems = error?.problems.map(\.description) ?? []
        let expected = [
            "9:20 time_intervals[0].time_intervals[0].weekdays[0]: \"fryday\" is not a weekday (in \"saturday:fryday\"); did you mean \"friday\"?",
            "10:17 time_intervals[0].time_intervals[0].times[0]: invalid time \"25:00\"; expected HH:MM",
            "10:59 time_intervals[0].time_intervals[0].times[1]: time range 10:00 to 09:00 is empty: end_time must be after start_time",
            "10:101 time_intervals[0].time_intervals[0].times[2]: a times entry needs both start_time and end_time",
            "11:25 time_intervals[0].time_intervals[0].days_of_month[0]: day of the month 0 is out of range (in \"0\")",
            "12:18 time_intervals[0].time_intervals[0].months[0]: \"smarch\" is not a month (in \"smarch\")",
            "13:17 time_intervals[0].time_intervals[0].years[0]: year range \"2022:2020\" ends before it starts",
            "14:19 time_intervals[0].time_intervals[0].location: unknown time zone location \"Mars/Olympus\" (is tzdata installed?)",
            "15:9 time_intervals[0].time_intervals[0].hours: unknown key \"hours\"",
            "16:11 time_intervals[1].name: time interval \"weekend\" is defined more than once (first at 7:11)",
            "18:11 time_intervals[2].name: a time interval needs a non-empty name",
            "19:5 time_intervals[3]: a time interval needs a non-empty name",
            "20:5 time_intervals[4]: expected a mapping with name and time_intervals",
            "routes[0].mute_time_intervals: unknown time interval \"holidays\"; defined: weekend",
        ]
        for line in expected {
            #expect(problems.contains { $0.hasPrefix(line) || ($0.contains(line) && !line.first!.isNumber) }, "missing: \(line)\nin:\n\(problems.joined(separator: "\n"))")
        }
        #expect(problems.count == expected.count, "\(problems.joined(separator: "\n"))")
        // A name whose intervals are refused still exists: no "unknown time interval \"weekend\"".
        #expect(!problems.contains { $0.contains("unknown time interval \"weekend\"") })
    }
}
