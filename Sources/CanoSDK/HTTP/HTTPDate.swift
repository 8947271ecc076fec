#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// HTTP-date (RFC 9110 §5.6.7), as `Retry-After` may carry it. Recipients must accept all
/// three forms; senders use the first:
/// - IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
/// - RFC 850:     `Sunday, 06-Nov-94 08:49:37 GMT`
/// - asctime:     `Sun Nov  6 08:49:37 1994`
///
/// Written by hand: a date formatter would pull ICU into every plugin for three fixed,
/// English-only layouts.
public enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// The instant `text` names, or nil when it is none of the three forms.
    public static func parse(_ text: String) -> Date? {
        // Split on blanks, commas and dashes: every form becomes day-name, then the fields.
        let fields = text.split { $0 == " " || $0 == "," || $0 == "-" }.map(String.init)
        guard fields.count >= 5 else { return nil }
        var day: Int?, month: Int?, year: Int?, clock: String?
        if let m = monthIndex(fields[1]) {
            // asctime: Sun Nov 6 08:49:37 1994
            month = m; day = Int(fields[2]); clock = fields[3]; year = Int(fields[4])
        } else if fields.count >= 6 {
            // IMF-fixdate and RFC 850: day, month, year, time, "GMT"
            day = Int(fields[1]); month = monthIndex(fields[2]); year = Int(fields[3]); clock = fields[4]
            guard fields[5] == "GMT" else { return nil }
            // RFC 850's two-digit year: a year more than 50 years ahead is in the past (§5.6.7).
            if let y = year, fields[3].count == 2 { year = y + (y < 70 ? 2000 : 1900) }
        }
        // The year bound keeps the day arithmetic far from overflow: a remote header must
        // never be able to trap the host (`Sun, 06 Nov 1000000000000 ...`).
        guard let day, let month, let year, let clock, (1...31).contains(day), (1...9999).contains(year) else { return nil }
        let hms = clock.split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3, (0...23).contains(hms[0]), (0...59).contains(hms[1]), (0...60).contains(hms[2]) else { return nil }
        let days = daysFromCivil(year: year, month: month + 1, day: day)
        return Date(timeIntervalSince1970: Double(days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2]))
    }

    private static func monthIndex(_ name: String) -> Int? {
        months.firstIndex(of: name.lowercased())
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
