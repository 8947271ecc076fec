import CanoSDK
import Foundation

/// An Alertmanager-style silence: while it is in force, Issues that satisfy every one of its
/// matchers are recorded and counted but not delivered (the dispatcher holds them and
/// delivers those still firing when the silence ends).
///
/// Times are kept to the millisecond, as the store keeps them, so a silence read back equals
/// the one written. The window is half-open, `[startsAt, endsAt)`: a silence expired "now"
/// no longer silences at that same millisecond (Alertmanager counts `endsAt` itself as
/// active; at millisecond resolution the difference is only observable in tests, and the
/// half-open window is what lets ``SilenceStore/expire(id:now:)`` release held Issues at
/// once).
public struct Silence: Sendable, Equatable {
    /// Where a silence is in its life, as Alertmanager names it.
    public enum State: String, Sendable, CaseIterable, Codable {
        /// `startsAt` is in the future.
        case pending
        /// In force: `startsAt <= now < endsAt`.
        case active
        /// `endsAt` has passed (expired silences are kept for ``SilenceStore/retention``).
        case expired
    }

    /// Limits on what one silence may hold, so one request cannot bloat the store or every
    /// dispatcher transaction that reads the active silences.
    public enum Limits {
        /// The most matchers in one silence.
        public static let matchers = 64
        /// The longest matcher, as rendered (`name="value"`), in UTF-8 bytes.
        public static let matcherBytes = 1024
        /// The longest `createdBy`, in UTF-8 bytes.
        public static let createdByBytes = 256
        /// The longest `comment`, in UTF-8 bytes.
        public static let commentBytes = 4096
        /// The latest end: 9999-12-31T23:59:59.999Z, the last instant RFC 3339's four-digit
        /// year can write (a later one would be unreadable to the API's clients).
        public static let latestEnd = Date(timeIntervalSince1970: 253_402_300_799.999)
    }

    /// The silence's id: a lowercase UUID string, chosen when it is created.
    public var id: String
    /// All must match an Issue for the silence to apply to it (Alertmanager's AND).
    public var matchers: [Matcher]
    /// When the silence begins (millisecond precision).
    public var startsAt: Date
    /// When it ends; from this instant on it is expired (millisecond precision).
    public var endsAt: Date
    /// Who created it (free text: a name or an email address).
    public var createdBy: String
    /// Why (free text, required as in Alertmanager).
    public var comment: String
    /// When it was created or last changed (millisecond precision).
    public var updatedAt: Date

    /// A silence; dates are truncated to the millisecond. No validation happens here:
    /// ``validate(now:)`` does it (and ``SilenceStore/add(_:now:)`` calls it).
    public init(id: String = Silence.newID(), matchers: [Matcher], startsAt: Date, endsAt: Date,
                createdBy: String, comment: String, updatedAt: Date = Date()) {
        self.id = id
        self.matchers = matchers
        self.startsAt = Self.truncated(startsAt)
        self.endsAt = Self.truncated(endsAt)
        self.createdBy = createdBy
        self.comment = comment
        self.updatedAt = Self.truncated(updatedAt)
    }

    /// A fresh silence id (a lowercase UUID).
    public static func newID() -> String { UUID().uuidString.lowercased() }

    /// Pending before `startsAt`, active until `endsAt` (exclusive), then expired.
    public func state(at now: Date) -> State {
        let now = Self.millis(now)
        if now < Self.millis(startsAt) { return .pending }
        if now >= Self.millis(endsAt) { return .expired }
        return .active
    }

    /// Whether `issue` satisfies every matcher. Time is not considered (the caller asks
    /// for the silences in force, ``SilenceStore/active(now:)``); a silence without matchers
    /// is invalid and matches nothing.
    public func matches(_ issue: Issue) -> Bool {
        !matchers.isEmpty && matchers.allSatisfy { $0.matches(issue) }
    }

    /// The matchers as Alertmanager writes them (`namespace="payments"`), in order.
    public var matcherStrings: [String] { matchers.map(\.description) }

    /// Checks what Alertmanager checks before storing a new silence, plus size limits.
    /// - Throws: ``SilenceError`` naming the first problem found: no matchers, too many or an
    ///   over-long one, matchers that all match the empty string (the silence would match
    ///   nearly everything), `endsAt` not after `startsAt` or not in the future, an empty or
    ///   over-long `createdBy` or `comment`.
    public func validate(now: Date) throws(SilenceError) {
        guard !matchers.isEmpty else { throw .noMatchers }
        if matchers.count > Limits.matchers { throw .tooManyMatchers(limit: Limits.matchers, actual: matchers.count) }
        for matcher in matchers where matcher.description.utf8.count > Limits.matcherBytes {
            throw .tooLong(field: "matchers", limit: Limits.matcherBytes, actual: matcher.description.utf8.count)
        }
        // Alertmanager: "at least one matcher must not match the empty string". Every
        // Issue lacks most labels, so such a silence would silence nearly everything.
        if matchers.allSatisfy({ $0.matches("") }) { throw .matchesEverything(matcherStrings) }
        // A past end first: with the start defaulted to now it is the clearer message.
        guard Self.millis(endsAt) > Self.millis(now) else { throw .endsInPast(endsAt: endsAt, now: Self.truncated(now)) }
        guard Self.millis(endsAt) > Self.millis(startsAt) else { throw .endsBeforeStart(startsAt: startsAt, endsAt: endsAt) }
        if Self.millis(endsAt) > Self.millis(Limits.latestEnd) {
            throw .invalidField(field: "endsAt", reason: "the end is past the latest a silence can have, 9999-12-31T23:59:59.999Z; give a shorter duration")
        }
        try Self.checkText("createdBy", createdBy, limit: Limits.createdByBytes)
        try Self.checkText("comment", comment, limit: Limits.commentBytes)
    }

    private static func checkText(_ field: String, _ value: String, limit: Int) throws(SilenceError) {
        if value.allSatisfy(\.isWhitespace) { throw .empty(field: field) }
        if value.utf8.count > limit { throw .tooLong(field: field, limit: limit, actual: value.utf8.count) }
    }

    /// Milliseconds since the Unix epoch, rounded down: what the store keeps.
    public static func millis(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// The date `millis` milliseconds after the Unix epoch.
    public static func date(millis: Int64) -> Date {
        Date(timeIntervalSince1970: Double(millis) / 1000)
    }

    static func truncated(_ date: Date) -> Date { self.date(millis: millis(date)) }
}

/// Why a silence cannot be created, changed or found. Each case names the field at fault
/// (``field``: the JSON name the API uses) and says why in ``description``.
public enum SilenceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A silence needs at least one matcher.
    case noMatchers
    /// More than ``Silence/Limits/matchers`` matchers.
    case tooManyMatchers(limit: Int, actual: Int)
    /// Every matcher matches the empty string (`foo=""`, `foo=~".*"`): the silence would
    /// apply to nearly every Issue.
    case matchesEverything([String])
    /// A matcher that does not parse or whose regex is refused.
    case invalidMatcher(MatcherError)
    /// `endsAt` is not after `startsAt`.
    case endsBeforeStart(startsAt: Date, endsAt: Date)
    /// `endsAt` is not in the future.
    case endsInPast(endsAt: Date, now: Date)
    /// A required text field is empty or only whitespace.
    case empty(field: String)
    /// A field is longer than its limit (UTF-8 bytes).
    case tooLong(field: String, limit: Int, actual: Int)
    /// A request field is missing or malformed (the API's and CLI's parsing).
    case invalidField(field: String, reason: String)
    /// No silence has this id.
    case notFound(id: String)
    /// The silence has already ended (expiring it again is an error, as in Alertmanager).
    case alreadyExpired(id: String, endedAt: Date)
    /// A stored row could not be read back (written by another version, or edited by hand).
    case unreadable(id: String, reason: String)

    /// The field at fault, as the HTTP API names it (`matchers`, `startsAt`, `endsAt`,
    /// `createdBy`, `comment`, `id`).
    public var field: String {
        switch self {
        case .noMatchers, .tooManyMatchers, .matchesEverything, .invalidMatcher: "matchers"
        case .endsBeforeStart, .endsInPast: "endsAt"
        case .empty(let field), .tooLong(let field, _, _), .invalidField(let field, _): field
        case .notFound, .alreadyExpired, .unreadable: "id"
        }
    }

    public var description: String {
        switch self {
        case .noMatchers:
            "matchers: a silence needs at least one matcher, e.g. namespace=\"payments\""
        case .tooManyMatchers(let limit, let actual):
            "matchers: \(actual) matchers, at most \(limit) are allowed"
        case .matchesEverything(let matchers):
            "matchers: \(matchers.joined(separator: ", ")) all match the empty string, so the silence would match nearly every Issue; add a matcher that requires a value, e.g. namespace=\"payments\""
        case .invalidMatcher(let error):
            "matchers: \(error.description)"
        case .endsBeforeStart(let start, let end):
            "endsAt: \(RFC3339.format(end)) is not after startsAt \(RFC3339.format(start))"
        case .endsInPast(let end, let now):
            "endsAt: \(RFC3339.format(end)) is not in the future (now is \(RFC3339.format(now)))"
        case .empty(let field):
            "\(field): must not be empty"
        case .tooLong(let field, let limit, let actual):
            "\(field): \(actual) bytes, at most \(limit) are allowed"
        case .invalidField(let field, let reason):
            "\(field): \(reason)"
        case .notFound(let id):
            "no silence with id \(id)"
        case .alreadyExpired(let id, let endedAt):
            "silence \(id) already expired at \(RFC3339.format(endedAt))"
        case .unreadable(let id, let reason):
            "silence \(id) cannot be read from the store: \(reason)"
        }
    }
}

extension Silence {
    /// Builds a new silence from what a person or a client gives (the CLI's options, the
    /// API's JSON), as Alertmanager does: `startsAt` defaults to `now`, and a start in the
    /// past becomes `now`; the end is `endsAt`, or `duration` after the start (exactly one
    /// of them). Each `matcherLines` entry is one matcher or a comma-separated list
    /// (``Matcher/parseList(_:)``). The result is validated (``validate(now:)``).
    /// - Throws: ``SilenceError`` naming the field at fault, with the matcher text and why
    ///   for a matcher that does not parse.
    public static func make(
        matcherLines: [String], startsAt: String?, endsAt: String?, duration: String?,
        createdBy: String, comment: String, now: Date = Date(), id: String = Silence.newID()
    ) throws(SilenceError) -> Silence {
        var matchers: [Matcher] = []
        for line in matcherLines {
            do throws(MatcherError) { matchers += try Matcher.parseList(line) } catch { throw .invalidMatcher(error) }
        }
        return try make(matchers: matchers, startsAt: startsAt, endsAt: endsAt, duration: duration,
                        createdBy: createdBy, comment: comment, now: now, id: id)
    }

    /// ``make(matcherLines:startsAt:endsAt:duration:createdBy:comment:now:id:)`` with matchers
    /// already built.
    public static func make(
        matchers: [Matcher], startsAt: String?, endsAt: String?, duration: String?,
        createdBy: String, comment: String, now: Date = Date(), id: String = Silence.newID()
    ) throws(SilenceError) -> Silence {
        var start = now
        if let startsAt {
            guard let parsed = RFC3339.parse(startsAt) else {
                throw .invalidField(field: "startsAt", reason: "\"\(startsAt.prefix(64))\" is not an RFC 3339 time such as 2026-03-01T14:00:00Z")
            }
            // Kept as given: a start in the past becomes now only when the silence is stored
            // as new (SilenceStore), after the in-place check compared it, as Alertmanager does.
            start = parsed
        }
        let end: Date
        switch (endsAt, duration) {
        case (let text?, nil):
            guard let parsed = RFC3339.parse(text) else {
                throw .invalidField(field: "endsAt", reason: "\"\(text.prefix(64))\" is not an RFC 3339 time such as 2026-03-01T16:00:00Z")
            }
            end = parsed
        case (nil, let text?):
            guard let length = parseDuration(text), length > .zero else {
                throw .invalidField(field: "duration", reason: "\"\(text.prefix(64))\" is not a positive duration such as 90m, 2h or 1d12h")
            }
            end = start.addingTimeInterval(Double(length.components.seconds) + Double(length.components.attoseconds) / 1e18)
        case (nil, nil):
            throw .invalidField(field: "endsAt", reason: "give endsAt (an RFC 3339 time) or duration (such as 2h)")
        case (_?, _?):
            throw .invalidField(field: "duration", reason: "give endsAt or duration, not both")
        }
        let silence = Silence(id: id, matchers: matchers, startsAt: start, endsAt: end, createdBy: createdBy, comment: comment, updatedAt: now)
        try silence.validate(now: now)
        return silence
    }

    /// A duration written like the config's (`90s`, `15m`, `2h`, `1d12h`), or nil.
    public static func parseDuration(_ text: String) -> Duration? {
        YAMLReader.parseDuration(text.trimmingCharacters(in: .whitespaces))
    }
}
