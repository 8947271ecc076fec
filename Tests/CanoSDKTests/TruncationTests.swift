import CanoSDK
import Testing

/// Truncation by Unicode scalars (Go runes) and UTF-8 bytes, as Alertmanager tests
/// `TruncateInRunes` / `TruncateInBytes` (notify/util_test.go), plus the grapheme cases Go
/// does not handle: a cut never leaves half a character, flag or emoji sequence.
@Suite struct TruncationTests {
    typealias Unit = Truncation.Unit

    static func length(_ s: String, _ unit: Unit) -> Int {
        switch unit {
        case .unicodeScalars: s.unicodeScalars.count
        case .utf8Bytes: s.utf8.count
        case .utf16CodeUnits: s.utf16.count
        }
    }

    // MARK: fixed cases

    @Test(arguments: [
        // (text, limit, unit, expected)
        ("abcde", 5, Unit.unicodeScalars, "abcde"),           // fits exactly: unchanged
        ("abcde", 4, .unicodeScalars, "abc…"),                 // marker counts in the limit
        ("abcde", 1, .unicodeScalars, "…"),
        ("abcde", 0, .unicodeScalars, ""),
        ("abcde", -3, .unicodeScalars, ""),
        ("abcde", 4, .utf8Bytes, "a…"),                        // "…" is 3 bytes
        ("abcde", 2, .utf8Bytes, ""),                          // the marker itself does not fit
        ("", 10, .utf8Bytes, ""),
        // CJK: 1 scalar, 3 bytes each.
        ("日本語のテキスト", 5, .unicodeScalars, "日本語の…"),
        ("日本語のテキスト", 10, .utf8Bytes, "日本…"),           // 6 + 3; a third 日 would make 12
        ("日本語のテキスト", 11, .utf8Bytes, "日本…"),           // 2 bytes of 語 never appear
        // Combining marks: "é" as e + U+0301 is 2 scalars, 3 bytes, one Character.
        ("e\u{301}e\u{301}e\u{301}", 4, .unicodeScalars, "e\u{301}…"),
        ("e\u{301}e\u{301}e\u{301}", 3, .unicodeScalars, "e\u{301}…"),
        ("e\u{301}e\u{301}e\u{301}", 2, .unicodeScalars, "…"),  // "e" without its accent would be wrong
        ("e\u{301}e\u{301}e\u{301}", 7, .utf8Bytes, "e\u{301}…"),
        // Emoji: 😀 is 1 scalar and 4 bytes.
        ("😀😀😀", 2, .unicodeScalars, "😀…"),
        ("😀😀😀", 7, .utf8Bytes, "😀…"),
        ("😀😀😀", 6, .utf8Bytes, "…"),
        // ZWJ family 👩‍👩‍👧: 5 scalars, 18 bytes, one Character.
        ("👩\u{200D}👩\u{200D}👧 ok", 6, .unicodeScalars, "👩\u{200D}👩\u{200D}👧…"),
        ("👩\u{200D}👩\u{200D}👧 ok", 5, .unicodeScalars, "…"),   // never 👩‍👩 (a different picture)
        ("👩\u{200D}👩\u{200D}👧 okay", 20, .utf8Bytes, "…"),      // 18 + 3 > 20
        ("👩\u{200D}👩\u{200D}👧 okay", 21, .utf8Bytes, "👩\u{200D}👩\u{200D}👧…"),
        ("👩\u{200D}👩\u{200D}👧 ok", 21, .utf8Bytes, "👩\u{200D}👩\u{200D}👧 ok"),  // exactly 21: unchanged
        // Flags: two regional indicators, never one.
        ("🇩🇪🇫🇷", 3, .unicodeScalars, "🇩🇪…"),
        ("🇩🇪🇫🇷", 2, .unicodeScalars, "…"),
        // Skin tone modifier stays with its base.
        ("👍🏽👍🏽", 3, .unicodeScalars, "👍🏽…"),
        ("👍🏽👍🏽", 2, .unicodeScalars, "…"),
    ])
    func fixedCases(text: String, limit: Int, unit: Unit, expected: String) {
        let result = Truncation.truncate(text, to: limit, in: unit)
        #expect(result == expected, "\(unit) \(limit): \(Array(result.unicodeScalars)) ≠ \(Array(expected.unicodeScalars))")
        #expect(Self.length(result, unit) <= max(0, limit))
    }

    @Test func customMarker() {
        #expect(Truncation.truncate("0123456789", to: 8, in: .utf8Bytes, marker: "[...]") == "012[...]")
        #expect(Truncation.truncate("0123456789", to: 8, in: .utf8Bytes, marker: "") == "01234567")
        #expect(Truncation.truncate("0123456789", to: 3, in: .utf8Bytes, marker: "[...]") == "[..", "as much of the marker as fits")
    }

    @Test func lengthCountsTheUnit() {
        let text = "e\u{301}日😀👩\u{200D}👧"
        #expect(Truncation.length(of: text, in: .unicodeScalars) == 2 + 1 + 1 + 3)
        #expect(Truncation.length(of: text, in: .utf8Bytes) == 3 + 3 + 4 + 11)
    }

    /// Java and JavaScript count UTF-16 units (Jira's summary): a flag is 4, an emoji 2.
    @Test func utf16CountsAsJavaDoes() {
        let flags = String(repeating: "🇩🇪", count: 100)
        let cut = Truncation.truncate(flags, to: 255, in: .utf16CodeUnits)
        #expect(cut == String(repeating: "🇩🇪", count: 63) + "…", "whole flags only: 63 × 4 + 1 ≤ 255")
        #expect(Truncation.length(of: "a😀", in: .utf16CodeUnits) == 3)
    }

    /// A log keeps its end, where the error is; the marker says the start was cut.
    @Test func tailKeepsTheEnd() {
        let log = "line 1\nline 2\npanic: boom 👩\u{200D}👧"
        let cut = Truncation.truncate(log, to: 20, in: .utf8Bytes, marker: "…", keep: .tail)
        #expect(cut == "… boom 👩\u{200D}👧", "the last 17 bytes of whole Characters: \(cut)")
        #expect(cut.utf8.count <= 20)
        // Never starts inside a Character: the ZWJ family is whole or absent.
        let tiny = Truncation.truncate(log, to: 12, in: .utf8Bytes, marker: "…", keep: .tail)
        #expect(tiny == "…", "the 11-byte family does not fit in the 9 bytes the marker leaves: \(tiny)")
    }

    @Test func pagerDutySummaryLimit() {
        let summary = String(repeating: "日", count: 2000)
        let cut = Truncation.truncate(summary, to: 1024, in: .unicodeScalars)
        #expect(cut.unicodeScalars.count == 1024)
        #expect(cut.hasSuffix("…"))
        #expect(cut.dropLast().allSatisfy { $0 == "日" })
    }

    // MARK: every cut of mixed text

    /// Text mixing every hard case; every limit from 0 past its length must give a result
    /// that fits, is a prefix of whole Characters plus the marker, and is valid UTF-8.
    static let mixed = "Pod e\u{301}tcd-0 日本 😀 👩\u{200D}👩\u{200D}👧\u{200D}👦 🇯🇵 👍🏽 a\u{308}\u{323} é ok"

    @Test(arguments: [Unit.unicodeScalars, .utf8Bytes])
    func everyLimitGivesAValidPrefix(unit: Unit) {
        let characters = Array(Self.mixed)
        let total = Self.length(Self.mixed, unit)
        for limit in 0...(total + 2) {
            let result = Truncation.truncate(Self.mixed, to: limit, in: unit)
            #expect(Self.length(result, unit) <= limit, "limit \(limit): over the limit")
            // Valid UTF-8: decoding the bytes back gives the same string, nothing replaced.
            #expect(String(decoding: Array(result.utf8), as: UTF8.self) == result)
            #expect(!result.unicodeScalars.contains("\u{FFFD}"))
            if limit >= total {
                #expect(result == Self.mixed, "limit \(limit): nothing to cut")
                continue
            }
            guard limit >= Self.length("…", unit) else { continue }
            #expect(result.hasSuffix("…"), "limit \(limit): says it was cut")
            let kept = Array(result.dropLast())
            #expect(Array(characters.prefix(kept.count)) == kept, "limit \(limit): a prefix of whole Characters")
            // Longest: one more Character would not fit.
            if kept.count < characters.count {
                let longer = String(characters.prefix(kept.count + 1)) + "…"
                #expect(Self.length(longer, unit) > limit, "limit \(limit): cut more than needed")
            }
        }
    }
}
