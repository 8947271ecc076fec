#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(FoundationInternationalization)
// FoundationEssentials alone knows only fixed GMT offsets; IANA names such as
// "Europe/Berlin" are resolved by the ICU-backed time zones of this module.
import FoundationInternationalization
#endif
import Yams

/// One entry of the top-level `time_intervals` list, by name: Alertmanager's
/// `time_intervals[].time_intervals`. A moment is in the set when any of its intervals
/// contains it; a set without intervals contains nothing.
public struct TimeIntervalSet: Sendable, Equatable {
    /// The intervals, in file order; any one of them suffices.
    public var intervals: [TimeIntervalRule]

    /// A set of `intervals`.
    public init(intervals: [TimeIntervalRule]) { self.intervals = intervals }

    /// True when any interval contains `date`.
    public func contains(_ date: Date) -> Bool { intervals.contains { $0.contains(date) } }

    /// The earliest instant after `date` at which ``contains(_:)`` changes value, or nil
    /// when it keeps its value for `limit` seconds after `date` (or `limit` is not
    /// positive). The noise-control dispatcher uses it to know when a mute ends or an
    /// active window begins.
    ///
    /// Not a minute-by-minute scan: membership can only change where some interval's
    /// local wall clock crosses one of its `times` boundaries or midnight, or where its
    /// location's UTC offset changes (a DST switch), so only those instants are looked at:
    /// one per interval per day on days its date fields exclude, a few on the others
    /// well under a millisecond for a week, even in a debug build (see the tests).
    public func nextChange(after date: Date, within limit: TimeInterval = 8 * 86400) -> Date? {
        guard limit > 0, !intervals.isEmpty else { return nil }
        let initial = contains(date)
        let end = date.addingTimeInterval(limit)
        var t = date
        while true {
            // Between t and the nearest boundary of any interval, every interval keeps its
            // value, so the set does too: the first boundary where it differs is the answer.
            var nearest: Date?
            for interval in intervals {
                if let boundary = interval.nextBoundary(after: t), nearest.map({ boundary < $0 }) ?? true { nearest = boundary }
            }
            guard let next = nearest, next <= end else { return nil }
            if contains(next) != initial { return next }
            t = next
        }
    }
}

/// One Alertmanager time interval (`timeinterval.TimeInterval`): weekdays, times of day,
/// days of the month, months and years, read on the wall clock of `location`.
///
/// Every field that is set must hold; a field that is nil (absent or null in YAML)
/// matches everything. As in Alertmanager, a field set to an empty list (`weekdays: []`)
/// matches nothing. Within a field, any one range suffices.
public struct TimeIntervalRule: Sendable, Equatable {
    /// A range of whole numbers with both ends included, as Alertmanager's
    /// `InclusiveRange`. `begin` may exceed `end` only for days of the month counted from
    /// both ends (`1:-1`).
    public struct InclusiveRange: Sendable, Equatable {
        /// The first value included.
        public var begin: Int
        /// The last value included.
        public var end: Int
        /// `begin` to `end`, both included.
        public init(_ begin: Int, _ end: Int) {
            self.begin = begin
            self.end = end
        }
    }

    /// A range of minutes of the day, `start` included and `end` excluded:
    /// 09:00–17:00 is 540..<1020; the end may be 1440 (24:00).
    public struct MinuteRange: Sendable, Equatable {
        /// Minutes after local midnight, 0 to 1439.
        public var start: Int
        /// Minutes after local midnight, 1 to 1440; the first minute not included.
        public var end: Int
        /// `start` included to `end` excluded, in minutes after midnight.
        public init(start: Int, end: Int) {
            self.start = start
            self.end = end
        }
    }

    /// Times of the day (`times`).
    public var times: [MinuteRange]?
    /// Days of the week, 0 = Sunday to 6 = Saturday (`weekdays`).
    public var weekdays: [InclusiveRange]?
    /// Days of the month, 1 to 31, or -1 (the last day) to -31 counted from the month's
    /// end (`days_of_month`); clamped to the month's length as in Alertmanager.
    public var daysOfMonth: [InclusiveRange]?
    /// Months, 1 = January to 12 = December (`months`).
    public var months: [InclusiveRange]?
    /// Years, e.g. 2020...2022 (`years`).
    public var years: [InclusiveRange]?
    /// The time zone whose wall clock the fields are read on (`location`); UTC by default.
    public var location: TimeZone

    /// An interval; with no arguments it contains every moment.
    public init(
        times: [MinuteRange]? = nil, weekdays: [InclusiveRange]? = nil, daysOfMonth: [InclusiveRange]? = nil,
        months: [InclusiveRange]? = nil, years: [InclusiveRange]? = nil, location: TimeZone = TimeIntervalRule.utc
    ) {
        self.times = times
        self.weekdays = weekdays
        self.daysOfMonth = daysOfMonth
        self.months = months
        self.years = years
        self.location = location
    }

    /// UTC, the default location.
    public static let utc = TimeZone(secondsFromGMT: 0)!

    /// True when `date`, read on `location`'s wall clock to the minute, satisfies every
    /// field that is set (Alertmanager's `ContainsTime`).
    public func contains(_ date: Date) -> Bool {
        let t = WallClock(date, in: location)
        return timeHolds(t) && dateHolds(t)
    }

    /// The `times` part of ``contains(_:)``.
    private func timeHolds(_ t: WallClock) -> Bool {
        times?.contains { t.minuteOfDay >= $0.start && t.minuteOfDay < $0.end } ?? true
    }

    /// Everything but `times`: what is the same all (local) day long.
    private func dateHolds(_ t: WallClock) -> Bool {
        if let daysOfMonth, !daysOfMonth.contains(where: { Self.dayOfMonth(t, in: $0) }) { return false }
        if let months, !months.contains(where: { t.month >= $0.begin && t.month <= $0.end }) { return false }
        if let weekdays, !weekdays.contains(where: { t.weekday >= $0.begin && t.weekday <= $0.end }) { return false }
        if let years, !years.contains(where: { t.year >= $0.begin && t.year <= $0.end }) { return false }
        return true
    }

    /// Alertmanager's day-of-month test: negative ends count from the month's end, a
    /// range starting after the month's last day holds on no day of it, and the ends are
    /// clamped to the month (so `-31:31` is the whole of any month).
    private static func dayOfMonth(_ t: WallClock, in range: InclusiveRange) -> Bool {
        let length = t.daysInMonth
        let begin = range.begin < 0 ? length + range.begin + 1 : range.begin
        let end = range.end < 0 ? length + range.end + 1 : range.end
        guard begin <= length else { return false }
        let lower = min(max(begin, -length), length), upper = min(max(end, -length), length)
        return t.day >= lower && t.day <= upper
    }

    /// True when no field is set: the interval contains every moment and never changes.
    var isUnconstrained: Bool { times == nil && weekdays == nil && daysOfMonth == nil && months == nil && years == nil }

    /// The earliest instant after `date` at which ``contains(_:)`` may change: the next
    /// `times` boundary or midnight on `location`'s wall clock, or the next change of its
    /// UTC offset if that comes first. Nil when the interval never changes.
    func nextBoundary(after date: Date) -> Date? {
        guard !isUnconstrained else { return nil }
        let offset = location.secondsFromGMT(for: date)
        let wall = WallClock(date, offset: offset)
        // Midnight (1440) always qualifies: the date fields change there. On a day the date
        // fields exclude, the interval stays out until then whatever the time of day.
        var next = 1440
        if let times, dateHolds(wall) {
            for range in times {
                if range.start > wall.minuteOfDay && range.start < next { next = range.start }
                if range.end > wall.minuteOfDay && range.end < next { next = range.end }
            }
        }
        let local = date.timeIntervalSince1970 + Double(offset)
        let midnight = (local / 86400).rounded(.down) * 86400
        let candidate = midnight + Double(next * 60) - Double(offset)
        guard location.secondsFromGMT(for: Date(timeIntervalSince1970: candidate)) != offset else {
            return Date(timeIntervalSince1970: candidate)
        }
        // The offset changes before the candidate: find the first second it differs
        // (offsets change on whole seconds; the wall clock jumps there). A second change
        // back to the same offset within one day is not looked for: no zone has one.
        var lower = date.timeIntervalSince1970.rounded(.down), upper = candidate
        while upper - lower > 1 {
            let middle = ((lower + upper) / 2).rounded(.down)
            if location.secondsFromGMT(for: Date(timeIntervalSince1970: middle)) == offset { lower = middle } else { upper = middle }
        }
        return Date(timeIntervalSince1970: upper)
    }
}

/// A moment as read on a time zone's wall clock, to the minute: the fields Alertmanager's
/// `ContainsTime` looks at. Computed with integer calendar arithmetic (proleptic
/// Gregorian), not `Calendar`, because ``TimeIntervalSet/nextChange(after:within:)``
/// evaluates many moments per flush.
struct WallClock: Equatable {
    var year: Int
    /// 1 = January.
    var month: Int
    /// 1 to 31.
    var day: Int
    /// 0 = Sunday.
    var weekday: Int
    /// 0 to 1439.
    var minuteOfDay: Int
    var daysInMonth: Int

    /// `date` on `zone`'s wall clock (seconds are dropped, as the fields are minute-granular).
    init(_ date: Date, in zone: TimeZone) {
        self.init(date, offset: zone.secondsFromGMT(for: date))
    }

    /// `date` on a wall clock `offset` seconds ahead of UTC.
    init(_ date: Date, offset: Int) {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down)) + offset
        let (days, secondOfDay) = seconds.quotientAndFloorRemainder(dividingBy: 86400)
        minuteOfDay = secondOfDay / 60
        // 1970-01-01 was a Thursday (4).
        weekday = days.quotientAndFloorRemainder(dividingBy: 7).remainder.advanced(by: 4) % 7
        (year, month, day) = Self.civil(fromDays: days)
        daysInMonth = Self.daysIn(month: month, year: year)
    }

    /// Year, month and day of the `days`-th day after 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`, which counts in 400-year eras of 146097 days).
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468  // days since 0000-03-01
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // from March 1st
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // 0 = March
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

private extension Int {
    /// Division rounding towards minus infinity, so times before 1970 fall on the right day.
    func quotientAndFloorRemainder(dividingBy divisor: Int) -> (quotient: Int, remainder: Int) {
        let (q, r) = quotientAndRemainder(dividingBy: divisor)
        return r < 0 ? (q - 1, r + divisor) : (q, r)
    }
}

/// Why one value of a time interval is refused; each case carries the text as written,
/// and ``description`` says what is wrong with it. The same inputs Alertmanager's
/// `timeinterval` package refuses, plus month numbers outside 1…12 and years before 1,
/// which it accepts but which can never (or only partly) match.
enum TimeIntervalSyntaxError: Error, Equatable, CustomStringConvertible {
    /// More than one `:` (or a range with empty ends where a value is required).
    case badRange(String)
    case unknownWeekday(String, in: String)
    case weekdaysReversed(String)
    case badDayOfMonth(String, in: String)
    case dayOfMonthOutOfRange(Int, in: String)
    case dayOfMonthSigns(String)
    case daysOfMonthReversed(String)
    case unknownMonth(String, in: String)
    case monthsReversed(String)
    case badYear(String, in: String)
    case yearsReversed(String)
    /// A `start_time` or `end_time` not in HH:MM form between 00:00 and 24:00.
    case badTime(String)
    /// `times` entry without `start_time` or `end_time`.
    case missingTime
    case emptyTimeRange(start: String, end: String)
    case unknownLocation(String)

    /// The wrapping range `start:end` as the two ranges that say the same: `start:last`
    /// and `first:end` (a range of one value written once), quoted.
    static func split(_ text: String, last: String, first: String) -> String {
        let parts = text.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { return "start:\(last) and \(first):end" }
        func range(_ a: String, _ b: String) -> String { "\"" + (a.lowercased() == b.lowercased() ? a : "\(a):\(b)") + "\"" }
        return range(parts[0], last) + " and " + range(first, parts[1])
    }

    var description: String {
        switch self {
        case .badRange(let text):
            return "invalid range \"\(text)\"; expected one value or start:end"
        case .unknownWeekday(let value, let text):
            let hint = Suggestion.closest(to: value, in: TimeIntervalParser.weekdayNames).map { "; did you mean \"\($0)\"?" }
                ?? "; expected a day name, sunday to saturday"
            return "\"\(value)\" is not a weekday (in \"\(text)\")\(hint)"
        case .weekdaysReversed(let text):
            return "weekday range \"\(text)\" ends before it starts; write it as two ranges: \(Self.split(text, last: "saturday", first: "sunday"))"
        case .badDayOfMonth(let value, let text):
            return "\"\(value)\" is not a day of the month (in \"\(text)\"); expected 1 to 31 or -1 to -31 (counted from the month's end)"
        case .dayOfMonthOutOfRange(let day, let text):
            return "day of the month \(day) is out of range (in \"\(text)\"); expected 1 to 31 or -1 to -31 (counted from the month's end)"
        case .dayOfMonthSigns(let text):
            return "days_of_month range \"\(text)\": the end day must be negative when the start day is"
        case .daysOfMonthReversed(let text):
            return "days_of_month range \"\(text)\": the end day is always before the start day"
        case .unknownMonth(let value, let text):
            let hint = Suggestion.closest(to: value, in: TimeIntervalParser.monthNames).map { "; did you mean \"\($0)\"?" }
                ?? "; expected a month name or 1 to 12"
            return "\"\(value)\" is not a month (in \"\(text)\")\(hint)"
        case .monthsReversed(let text):
            return "month range \"\(text)\" ends before it starts; write it as two ranges: \(Self.split(text, last: "december", first: "january"))"
        case .badYear(let value, let text):
            return "\"\(value)\" is not a year (in \"\(text)\"); expected a year such as 2025"
        case .yearsReversed(let text):
            return "year range \"\(text)\" ends before it starts"
        case .badTime(let text):
            return "invalid time \"\(text)\"; expected HH:MM from 00:00 to 24:00 (two digits each)"
        case .missingTime:
            return "a times entry needs both start_time and end_time"
        case .emptyTimeRange(let start, let end):
            return "time range \(start) to \(end) is empty: end_time must be after start_time (the end is excluded; 24:00 is the end of the day)"
        case .unknownLocation(let name):
            return "unknown time zone location \"\(name)\" (is tzdata installed?); expected an IANA name such as \"Europe/Berlin\", \"UTC\" or \"Local\""
        }
    }
}

/// Reads the top-level `time_intervals` list, in Alertmanager's shape:
///
/// ```yaml
/// time_intervals:
///   - name: business-hours
///     time_intervals:
///       - weekdays: ['monday:friday']
///         times: [{start_time: '09:00', end_time: '17:00'}]
///         location: Europe/Berlin
/// ```
enum TimeIntervalParser {
    /// `name` → its intervals. Every problem (unknown key, bad value, empty or repeated
    /// name) is reported through `r` at the offending node; a named set is kept even when
    /// its intervals are wrong, so routes naming it get no second, misleading error.
    static func parse(_ at: YAMLReader.Located, _ r: YAMLReader) -> [String: TimeIntervalSet] {
        var sets: [String: TimeIntervalSet] = [:]
        var firstLocation: [String: String] = [:]
        for entry in r.sequence(at) {
            guard case .mapping = entry.node else {
                r.problem(entry, "expected a mapping with name and time_intervals")
                continue
            }
            var name: String?
            var nameAt: YAMLReader.Located?
            var rules: [TimeIntervalRule] = []
            for (key, value) in r.mapping(entry, allowed: ["name", "time_intervals"]) {
                switch key {
                case "name":
                    name = r.string(value)
                    nameAt = value
                case "time_intervals":
                    rules = r.sequence(value).compactMap { rule($0, r) }
                default: break
                }
            }
            guard let name, !name.isEmpty else {
                r.problem(nameAt ?? entry, "a time interval needs a non-empty name")
                continue
            }
            if let first = firstLocation[name] {
                r.problem(nameAt ?? entry, "time interval \"\(name)\" is defined more than once (first at \(first))")
                continue
            }
            firstLocation[name] = (nameAt ?? entry).location
            sets[name] = TimeIntervalSet(intervals: rules)
        }
        return sets
    }

    /// One interval of a set; nil (with problems reported) when any value is refused.
    static func rule(_ at: YAMLReader.Located, _ r: YAMLReader) -> TimeIntervalRule? {
        let before = r.problems.count
        var rule = TimeIntervalRule()
        for (key, value) in r.mapping(at, allowed: ["times", "weekdays", "days_of_month", "months", "years", "location"]) {
            // null leaves the field unset (matches everything), as Alertmanager's YAML does;
            // an empty list sets it to nothing (matches nothing).
            guard !r.isNull(value.node) else { continue }
            switch key {
            case "times": rule.times = r.sequence(value).compactMap { timeRange($0, r) }
            case "weekdays": rule.weekdays = ranges(value, r, weekdays)
            case "days_of_month": rule.daysOfMonth = ranges(value, r, daysOfMonth)
            case "months": rule.months = ranges(value, r, months)
            case "years": rule.years = ranges(value, r, years)
            case "location":
                guard let text = r.string(value) else { break }
                do throws(TimeIntervalSyntaxError) { rule.location = try location(text) } catch { r.problem(value, error.description) }
            default: break
            }
        }
        return r.problems.count == before ? rule : nil
    }

    /// Each element of a list read by `parse`; a refused one is a problem at its node.
    private static func ranges(
        _ at: YAMLReader.Located, _ r: YAMLReader,
        _ parse: (String) throws(TimeIntervalSyntaxError) -> TimeIntervalRule.InclusiveRange
    ) -> [TimeIntervalRule.InclusiveRange] {
        r.sequence(at).compactMap { item in
            guard let text = r.string(item) else { return nil }
            do throws(TimeIntervalSyntaxError) { return try parse(text) } catch {
                r.problem(item, error.description)
                return nil
            }
        }
    }

    /// A `{start_time, end_time}` mapping.
    private static func timeRange(_ at: YAMLReader.Located, _ r: YAMLReader) -> TimeIntervalRule.MinuteRange? {
        var start: String?, end: String?
        for (key, value) in r.mapping(at, allowed: ["start_time", "end_time"]) {
            if key == "start_time" { start = r.string(value) } else { end = r.string(value) }
        }
        do throws(TimeIntervalSyntaxError) { return try timeRange(start: start, end: end) } catch {
            r.problem(at, error.description)
            return nil
        }
    }

    // MARK: - Values (Alertmanager's stringableRangeFromString and the Unmarshal checks)

    static let weekdayNames = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
    static let monthNames = ["january", "february", "march", "april", "may", "june", "july",
                             "august", "september", "october", "november", "december"]

    /// A times entry: both ends required, HH:MM, the end after the start.
    static func timeRange(start: String?, end: String?) throws(TimeIntervalSyntaxError) -> TimeIntervalRule.MinuteRange {
        guard let start, let end, !start.isEmpty, !end.isEmpty else { throw .missingTime }
        let from = try minutes(start), to = try minutes(end)
        guard from < to else { throw .emptyTimeRange(start: start, end: end) }
        return .init(start: from, end: to)
    }

    /// "HH:MM" → minutes after midnight: 00:00 to 23:59, or 24:00 (Alertmanager's
    /// `^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$)`).
    static func minutes(_ text: String) throws(TimeIntervalSyntaxError) -> Int {
        let c = Array(text.utf8)
        func digit(_ i: Int) -> Int? { ("0"..."9").contains(UnicodeScalar(c[i])) ? Int(c[i] - UInt8(ascii: "0")) : nil }
        guard c.count == 5, c[2] == UInt8(ascii: ":"), let h1 = digit(0), let h2 = digit(1), let m1 = digit(3), let m2 = digit(4) else {
            throw .badTime(text)
        }
        let hours = h1 * 10 + h2, minutes = m1 * 10 + m2
        guard (hours < 24 && minutes < 60) || (hours == 24 && minutes == 0) else { throw .badTime(text) }
        return hours * 60 + minutes
    }

    /// "monday" or "monday:friday", names only, in any case.
    static func weekdays(_ text: String) throws(TimeIntervalSyntaxError) -> TimeIntervalRule.InclusiveRange {
        let range = try split(text) { (value) throws(TimeIntervalSyntaxError) -> Int in
            guard let day = weekdayNames.firstIndex(of: value) else { throw .unknownWeekday(value, in: text) }
            return day
        }
        guard range.begin <= range.end else { throw .weekdaysReversed(text) }
        return range
    }

    /// "5", "1:5", "-3:-1" or "1:-1": days counted from the month's start (1…31) or
    /// end (-1…-31), refused when the end always comes before the start (judged on a
    /// 28-day month, as Alertmanager does).
    static func daysOfMonth(_ text: String) throws(TimeIntervalSyntaxError) -> TimeIntervalRule.InclusiveRange {
        let range = try split(text) { (value) throws(TimeIntervalSyntaxError) -> Int in
            guard let day = Int(value) else { throw .badDayOfMonth(value, in: text) }
            return day
        }
        for day in [range.begin, range.end] where day == 0 || day < -31 || day > 31 {
            throw .dayOfMonthOutOfRange(day, in: text)
        }
        guard !(range.begin < 0 && range.end > 0) else { throw .dayOfMonthSigns(text) }
        let begin = range.begin < 0 ? 28 + range.begin : range.begin
        let end = range.end < 0 ? 28 + range.end : range.end
        guard begin <= end else { throw .daysOfMonthReversed(text) }
        return range
    }

    /// "march", "3", "january:march" or "1:3", in any case.
    static func months(_ text: String) throws(TimeIntervalSyntaxError) -> TimeIntervalRule.InclusiveRange {
        let range = try split(text) { (value) throws(TimeIntervalSyntaxError) -> Int in
            if let index = monthNames.firstIndex(of: value) { return index + 1 }
            // Alertmanager takes any number; one outside 1…12 never matches, so it is refused.
            guard let month = Int(value), (1...12).contains(month) else { throw .unknownMonth(value, in: text) }
            return month
        }
        guard range.begin <= range.end else { throw .monthsReversed(text) }
        return range
    }

    /// "2024" or "2020:2022".
    static func years(_ text: String) throws(TimeIntervalSyntaxError) -> TimeIntervalRule.InclusiveRange {
        let range = try split(text) { (value) throws(TimeIntervalSyntaxError) -> Int in
            guard let year = Int(value), year >= 1 else { throw .badYear(value, in: text) }
            return year
        }
        guard range.begin <= range.end else { throw .yearsReversed(text) }
        return range
    }

    /// An IANA time zone name; "" and "UTC" are UTC and "Local" the machine's zone, as for
    /// Go's `time.LoadLocation`.
    static func location(_ name: String) throws(TimeIntervalSyntaxError) -> TimeZone {
        switch name {
        case "", "UTC": return TimeIntervalRule.utc
        case "Local": return TimeZone.current
        default: break
        }
        // Foundation also reads "GMT+2" or "UTC+1" as offsets: not IANA names, and "GMT+2"
        // there is UTC+2 while IANA's Etc/GMT+2 is UTC−2. Only names it resolves as given
        // are taken (an alias such as US/Eastern keeps its name).
        guard let zone = TimeZone(identifier: name), zone.identifier == name,
              !(name.hasPrefix("GMT+") || name.hasPrefix("GMT-")) || zone.secondsFromGMT(for: Date(timeIntervalSince1970: 0)) == 0
        else { throw .unknownLocation(name) }
        return zone
    }

    /// "a" or "a:b", lower-cased, each end read by `member`.
    private static func split(
        _ text: String, _ member: (String) throws(TimeIntervalSyntaxError) -> Int
    ) throws(TimeIntervalSyntaxError) -> TimeIntervalRule.InclusiveRange {
        let parts = text.lowercased().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1:
            let value = try member(parts[0])
            return .init(value, value)
        case 2: return .init(try member(parts[0]), try member(parts[1]))
        default: throw .badRange(text)
        }
    }
}
