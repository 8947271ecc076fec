@testable import Collector
import CanoSDK
import Foundation
import Logging
import TestSupport
import Testing

/// Fixed instants, so state transitions are checked at exact boundaries.
private let t0 = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
private func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

private func issue(namespace: String = "payments", labels: [String: String] = [:], source: IssueSource = .kubernetes) -> CanoSDK.Issue {
    CanoSDK.Issue(type: .alert, source: source, severity: .high, status: .firing, title: "CrashLoop", aggregationKey: "CrashLoop", fingerprint: "f",
                  subject: Subject(kind: "Pod", name: "api-1", namespace: namespace, labels: labels), startsAt: t0)
}

private func silence(_ matchers: String..., start: Double = 0, end: Double = 3600, id: String = Silence.newID()) throws -> Silence {
    Silence(id: id, matchers: try matchers.flatMap { try Matcher.parseList($0) }, startsAt: at(start), endsAt: at(end),
            createdBy: "alice", comment: "maintenance", updatedAt: at(start))
}

@Suite struct SilenceTests {
    // MARK: - Model

    @Test func stateFollowsTheHalfOpenWindow() throws {
        let s = try silence(#"namespace="payments""#, start: 100, end: 200)
        #expect(s.state(at: at(99.999)) == .pending)
        #expect(s.state(at: at(100)) == .active)
        #expect(s.state(at: at(199.999)) == .active)
        #expect(s.state(at: at(200)) == .expired)
        #expect(s.state(at: at(10_000)) == .expired)
    }

    @Test func matchesOnlyWhenEveryMatcherMatches() throws {
        let s = try silence(#"namespace="payments""#, #"team=~"db|core""#)
        #expect(s.matches(issue(labels: ["team": "db"])))
        #expect(s.matches(issue(labels: ["team": "core"])))
        #expect(!s.matches(issue(labels: ["team": "dbx"])), "regexes are anchored, as in Alertmanager")
        #expect(!s.matches(issue(namespace: "shop", labels: ["team": "db"])))
        #expect(!s.matches(issue()))
        let negative = try silence(#"{namespace="payments", severity!="INFO", alertname!~"Watchdog|Info.*"}"#)
        #expect(negative.matches(issue()))
        #expect(!Silence(matchers: [], startsAt: t0, endsAt: at(60), createdBy: "a", comment: "c").matches(issue()),
                "a silence without matchers matches nothing")
    }

    @Test func validationNamesTheProblem() throws {
        func problem(_ s: Silence, now: Date = t0) -> SilenceError? {
            do throws(SilenceError) { try s.validate(now: now); return nil } catch { return error }
        }
        #expect(problem(try silence(#"namespace="payments""#)) == nil)
        var s = try silence(#"namespace="payments""#)
        s.matchers = []
        #expect(problem(s) == .noMatchers)
        #expect(problem(try silence(#"foo="""#)) == .matchesEverything([#"foo="""#]))
        #expect(problem(try silence(#"foo=~".*""#)) == .matchesEverything([#"foo=~".*""#]))
        #expect(problem(try silence(#"foo="", bar!="x""#))?.field == "matchers")
        #expect(problem(try silence(#"foo="", bar="x""#)) == nil, "one matcher that needs a value is enough")
        #expect(problem(try silence(#"a="b""#, start: 100, end: 50)) == .endsBeforeStart(startsAt: at(100), endsAt: at(50)))
        #expect(problem(try silence(#"a="b""#, start: 100, end: 100))?.field == "endsAt")
        #expect(problem(try silence(#"a="b""#, start: -100, end: -50)) == .endsInPast(endsAt: at(-50), now: t0))
        s = try silence(#"a="b""#)
        s.createdBy = "  "
        #expect(problem(s) == .empty(field: "createdBy"))
        s.createdBy = "alice"
        s.comment = ""
        #expect(problem(s) == .empty(field: "comment"))
        s.comment = String(repeating: "x", count: Silence.Limits.commentBytes + 1)
        #expect(problem(s) == .tooLong(field: "comment", limit: Silence.Limits.commentBytes, actual: Silence.Limits.commentBytes + 1))
        s.comment = "ok"
        s.matchers = Array(repeating: try Matcher.parse(#"a="b""#), count: Silence.Limits.matchers + 1)
        #expect(problem(s)?.field == "matchers")
        #expect("\(SilenceError.matchesEverything([#"foo="""#]))".contains(#"foo="""#))
    }

    @Test func makeParsesWhatPeopleType() throws {
        let s = try Silence.make(matcherLines: [#"namespace="payments""#, #"{team="db", pod=~"api-.*"}"#], startsAt: nil, endsAt: nil,
                                 duration: "1h30m", createdBy: "alice", comment: "deploy", now: t0)
        #expect(s.matcherStrings == [#"namespace="payments""#, #"team="db""#, #"pod=~"api-.*""#])
        #expect(s.startsAt == t0)
        #expect(s.endsAt == at(5400))
        // A start in the past is kept as given: the store moves it to now when it stores the
        // silence as new (storeMovesAPastStartToNowButEditsAnActiveSilenceInPlace).
        let past = try Silence.make(matcherLines: [#"a="b""#], startsAt: RFC3339.format(at(-600)), endsAt: RFC3339.format(at(600)),
                                    duration: nil, createdBy: "a", comment: "c", now: t0)
        #expect(past.startsAt == at(-600))
        // An end a four-digit year cannot write is refused (found by a newcomer: 100000000h
        // was stored and listed as year 13434, which RFC 3339 clients cannot parse); a
        // duration past 10,000 years is not a duration at all.
        #expect(problem([#"a="b""#], duration: "9000y")?.field == "endsAt")
        #expect(problem([#"a="b""#], duration: "100000000h")?.field == "duration")
        func problem(_ lines: [String], end: String? = nil, duration: String? = "1h", start: String? = nil) -> SilenceError? {
            do throws(SilenceError) {
                _ = try Silence.make(matcherLines: lines, startsAt: start, endsAt: end, duration: duration, createdBy: "a", comment: "c", now: t0)
                return nil
            } catch { return error }
        }
        let bad = problem([#"namespace=~"(""#])
        #expect(bad?.field == "matchers")
        #expect(bad.map { "\($0)" }?.contains(#"namespace=~"(""#) == true, "the message shows the matcher")
        #expect(problem([#"a="b""#], duration: "soon") == .invalidField(field: "duration", reason: #""soon" is not a positive duration such as 90m, 2h or 1d12h"#))
        #expect(problem([#"a="b""#], duration: nil)?.field == "endsAt")
        #expect(problem([#"a="b""#], end: "2026-13-99", duration: nil)?.field == "endsAt")
        #expect(problem([#"a="b""#], end: RFC3339.format(at(60)), duration: "1h")?.field == "duration")
        #expect(problem([#"a="b""#], start: "yesterday")?.field == "startsAt")
    }

    // MARK: - Store (SQLite)

    func withStore(_ body: (SilenceStore, Database) throws -> Void) throws {
        let directory = try TemporaryDirectory(prefix: "cano-silences")
        defer { directory.remove() }
        let database = try CollectorSchema.open(path: directory.file("cano-collector.db"))
        defer { database.close() }
        try body(SilenceStore(database: database), database)
    }

    @Test func storeRoundTripsAndLists() throws {
        try withStore { store, _ in
            let a = try silence(#"namespace="payments""#, #""service.name"=~"api|web""#, start: 0, end: 3600)
            let b = try silence(#"team="db""#, start: 600, end: 1800)
            #expect(try store.add(a, now: t0) == a.id)
            try store.add(b, now: t0)
            let read = try #require(try store.get(a.id))
            #expect(read == a, "matchers, times and text survive the store")
            #expect(try store.get("no-such-id") == nil)
            #expect(try store.list(now: t0).map(\.id) == [b.id, a.id], "soonest end first")
            #expect(try store.active(now: at(0)).map(\.id) == [a.id])
            #expect(Set(try store.active(now: at(700)).map(\.id)) == [a.id, b.id])
            #expect(try store.active(now: at(1800)).map(\.id) == [a.id])
            #expect(try store.list(includeExpired: false, now: at(2000)).map(\.id) == [a.id])
            #expect(try store.counts(now: at(2000)) == [.active: 1, .pending: 0, .expired: 1])
            // The store refuses what validation refuses.
            #expect(throws: SilenceError.matchesEverything([#"foo="""#])) { try store.add(try silence(#"foo="""#), now: t0) }
        }
    }

    /// Alertmanager's order: the in-place check compares the start as the client sent it
    /// (GET, edit, POST back), and only a silence stored as new has a past start moved to
    /// now. Found by a newcomer: extending an active silence gave it a new id every time.
    @Test func storeMovesAPastStartToNowButEditsAnActiveSilenceInPlace() throws {
        try withStore { store, _ in
            let first = try Silence.make(matcherLines: [#"a="b""#], startsAt: RFC3339.format(at(-600)), endsAt: RFC3339.format(at(600)),
                                         duration: nil, createdBy: "a", comment: "c", now: t0)
            let id = try store.add(first, now: t0)
            let stored = try #require(try store.get(id))
            #expect(stored.startsAt == t0, "a past start becomes now")
            // Later, the client posts back what it read, with a new end and comment.
            let edit = try Silence.make(matcherLines: [#"a="b""#], startsAt: RFC3339.format(stored.startsAt), endsAt: RFC3339.format(at(7200)),
                                        duration: nil, createdBy: "a", comment: "longer", now: at(60))
            #expect(try store.replace(id: id, with: edit, now: at(60)) == id, "the same silence, extended in place")
            #expect(try store.get(id)?.endsAt == at(7200))
            #expect(try store.get(id)?.comment == "longer")
            // A changed start is a new silence, and the old one ends.
            let moved = try Silence.make(matcherLines: [#"a="b""#], startsAt: RFC3339.format(at(30)), endsAt: RFC3339.format(at(7200)),
                                         duration: nil, createdBy: "a", comment: "moved", now: at(60))
            let newID = try store.replace(id: id, with: moved, now: at(60))
            #expect(newID != id)
            #expect(try store.get(newID)?.startsAt == at(60), "its past start became now")
            #expect(try store.get(id)?.state(at: at(61)) == .expired)
        }
    }

    @Test func expireEndsActiveAndPendingSilencesAndWakesHeldGroups() throws {
        try withStore { store, database in
            let active = try silence(#"a="1""#, start: 0, end: 3600)
            let pending = try silence(#"a="2""#, start: 600, end: 3600)
            try store.add(active, now: t0)
            try store.add(pending, now: t0)
            // Two groups wait (held until the old end, and a later one); one has nothing pending.
            try database.write("groups") { c in
                for (key, next) in [("held", SQLValue.integer(Silence.millis(at(3600)))), ("idle", .null), ("past", .integer(Silence.millis(at(-1))))] {
                    try c.run("INSERT INTO notify_groups (destination, group_key, route, kind, fingerprint, labels, created_ms, next_flush_ms) VALUES ('d', ?, 'r', 'single', 'f', ?, 0, ?)",
                              [.text(key), .blob(Array("{}".utf8)), next], operation: "insert group")
                }
            }
            let ended = try store.expire(id: active.id, now: at(60))
            #expect(ended.endsAt == at(60))
            #expect(ended.state(at: at(60)) == .expired, "expired at once: the dispatcher must not see it in force at that instant")
            #expect(try store.get(active.id)?.endsAt == at(60), "kept, expired")
            let next = try database.read("read groups") { c in
                var found: [String: Int64?] = [:]
                try c.query("SELECT group_key, next_flush_ms FROM notify_groups", operation: "read") { row in
                    found[row.text(0)!] = row[1] == .null ? nil : row.int(1)
                }
                return found
            }
            #expect(next["held"] == Silence.millis(at(60)), "the held group is looked at again now")
            #expect(next["idle"] == .some(nil), "a group with nothing pending stays idle")
            #expect(next["past"] == Silence.millis(at(-1)), "an already-due flush is left alone")

            let endedPending = try store.expire(id: pending.id, now: at(120))
            #expect(endedPending.startsAt == at(120) && endedPending.endsAt == at(120), "a pending silence never applies")
            #expect(throws: SilenceError.alreadyExpired(id: active.id, endedAt: at(60))) { try store.expire(id: active.id, now: at(200)) }
            #expect(throws: SilenceError.notFound(id: "nope")) { try store.expire(id: "nope", now: at(200)) }
            #expect(try store.active(now: at(200)).isEmpty)
        }
    }

    @Test func expiredSilencesArePrunedAfterRetentionWhenOneIsAdded() throws {
        try withStore { store, _ in
            let old = try silence(#"a="1""#, start: 0, end: 60)
            try store.add(old, now: t0)
            let day = 24.0 * 3600
            try store.add(try silence(#"a="2""#, start: 4 * day, end: 4 * day + 60), now: at(4 * day))
            #expect(try store.get(old.id) != nil, "kept for 5 days")
            try store.add(try silence(#"a="3""#, start: 6 * day, end: 6 * day + 60), now: at(6 * day))
            #expect(try store.get(old.id) == nil, "pruned on add after 5 days")
            #expect(try store.prune(expiredBefore: at(100 * day)) == 2)
        }
    }

    @Test func replaceUpdatesInPlaceOrExpiresAndCreates() throws {
        try withStore { store, _ in
            let s = try silence(#"a="1""#, start: 0, end: 3600)
            try store.add(s, now: t0)
            // Only the end and comment change: same id.
            var longer = s
            longer.endsAt = at(7200)
            longer.comment = "longer"
            #expect(try store.replace(id: s.id, with: longer, now: at(10)) == s.id)
            #expect(try store.get(s.id)?.endsAt == at(7200))
            // New matchers: the old one is expired and a new one created.
            let other = try silence(#"a="2""#, start: 20, end: 3600)
            let newID = try store.replace(id: s.id, with: other, now: at(20))
            #expect(newID != s.id)
            #expect(try store.get(s.id)?.state(at: at(20)) == .expired)
            #expect(try store.active(now: at(20)).map(\.id) == [newID])
            #expect(throws: SilenceError.notFound(id: "nope")) { try store.replace(id: "nope", with: other, now: at(20)) }
        }
    }

    @Test func activeSkipsAnUnreadableRowButListReportsIt() throws {
        try withStore { store, database in
            try store.add(try silence(#"a="1""#), now: t0)
            try database.write("corrupt") { c in
                try c.run("INSERT INTO silences (id, matchers, starts_at_ms, ends_at_ms, created_by, comment, updated_ms) VALUES ('bad', '[\"a=~\\\"(\\\"\"]', 0, ?, 'x', 'y', 0)",
                          [.integer(Silence.millis(at(3600)))], operation: "insert")
            }
            #expect(try store.active(now: at(10)).count == 1, "delivery must not stall on one bad row")
            #expect(throws: SilenceError.self) { try store.list(now: at(10)) }
        }
    }

    // MARK: - Link

    @Test func silenceLinkEncodesMatchers() throws {
        let link = try #require(SilencesAPI.silenceLink(externalURL: "https://cano.example/", labels: [("namespace", "pay ments"), ("alertname", "a&b")]))
        #expect(link == "https://cano.example/silences/new?matchers=%7Balertname%3D%22a%26b%22%2Cnamespace%3D%22pay%20ments%22%7D")
        #expect(SilencesAPI.silenceLink(externalURL: "https://x", labels: []) == nil)
        #expect(HTML.escape(#"<a href="x">'&"#) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;")
    }

    @Test func kubernetesIssuesGetTheCollectorsSilenceLinkWhenExternalURLIsSet() throws {
        let tail = "\ndestinations: [{name: out, type: file, config: {path: \"-\"}}]\ndefault_destinations: [out]\n"
        var config = try ConfigLoader.parse("server: {external_url: \"https://cano.example/\"}" + tail)
        #expect(config.server.externalURL == "https://cano.example")
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("server: {external_url: \"cano.example\"}" + tail) }
        config = try ConfigLoader.parse("cluster: prod" + tail)
        #expect(config.server.externalURL == nil)

        var k8s = issue()
        k8s.cluster = "prod"
        k8s.subject.container = "api"
        let enrichments = try AlertLabelsEnricher(externalURL: "https://cano.example").enrich(k8s, parameters: EnricherParameters(), deadline: .now + .seconds(1))
        let links = enrichments.flatMap(\.blocks).flatMap { block -> [Link] in if case .links(let l) = block { l } else { [] } }
        let url = try #require(links.first { $0.title == "Silence" }?.url)
        let query = try #require(URLComponents(string: url)?.queryItems?.first { $0.name == "matchers" }?.value)
        #expect(url.hasPrefix("https://cano.example/silences/new?matchers="))
        // The prefilled matchers parse, and silence exactly this Issue.
        let matchers = try Matcher.parseList(query)
        #expect(Set(matchers.map(\.field)) == ["aggregation_key", "cluster", "namespace", "kind", "name", "container"])
        let s = Silence(matchers: matchers, startsAt: t0, endsAt: at(60), createdBy: "a", comment: "c")
        #expect(s.matches(k8s))
        #expect(!s.matches(issue(namespace: "shop")))
        #expect(try AlertLabelsEnricher().enrich(k8s, parameters: EnricherParameters(), deadline: .now + .seconds(1)).isEmpty, "no external_url, no link")
    }
}

/// The CLI, through the built binary, on a data directory's SQLite file.
@Suite struct SilencesCLITests {
    @Test func addListExpireThroughTheBinary() async throws {
        let directory = try TemporaryDirectory(prefix: "cano-silences-cli")
        defer { directory.remove() }
        try CollectorSchema.open(path: CollectorSchema.path(inDataDirectory: directory.path)).close()
        let store = ["--data-dir", directory.path]

        let added = try await CollectorCLI.run(["silences", "add", "--matcher", #"namespace="payments""#, "--matcher", #"team=~"db|core""#,
                                                "--duration", "2h", "--author", "alice", "--comment", "db maintenance"] + store)
        #expect(added.status == 0, "\(added.output)")
        let id = added.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(UUID(uuidString: id) != nil, "prints the new id: \(added.output)")

        let listed = try await CollectorCLI.run(["silences", "list"] + store)
        #expect(listed.status == 0)
        #expect(listed.output.contains(id) && listed.output.contains("active") && listed.output.contains(#"namespace="payments",team=~"db|core""#), "\(listed.output)")

        let json = try await CollectorCLI.run(["silences", "list", "--json"] + store, standardError: false)
        let items = try IssueCoding.decode(JSONValue.self, from: Array(json.output.utf8)).arrayValue ?? []
        #expect(items.first?["id"]?.stringValue == id)
        #expect(items.first?["status"]?["state"]?.stringValue == "active")

        let expired = try await CollectorCLI.run(["silences", "expire", id] + store)
        #expect(expired.status == 0 && expired.output.contains("expired \(id)"), "\(expired.output)")
        // Failed once in a loaded CI-like run, with no output recorded: status and output now.
        let afterExpiry = try await CollectorCLI.run(["silences", "list"] + store)
        #expect(afterExpiry.status == 0 && afterExpiry.output.contains("no active or pending silences"), "\(afterExpiry)")
        let withExpired = try await CollectorCLI.run(["silences", "list", "--expired"] + store).output
        #expect(withExpired.contains(id), "\(withExpired)")

        let again = try await CollectorCLI.run(["silences", "expire", id, "no-such-id"] + store)
        #expect(again.status != 0)
        #expect(again.output.contains("already expired") && again.output.contains("no silence with id no-such-id"), "\(again.output)")

        let badMatcher = try await CollectorCLI.run(["silences", "add", "--matcher", #"namespace=~"(""#, "--duration", "1h",
                                                     "--author", "a", "--comment", "c"] + store)
        #expect(badMatcher.status != 0)
        #expect(badMatcher.output.contains("--matcher") && badMatcher.output.contains(#"namespace=~"(""#), "\(badMatcher.output)")
        let everything = try await CollectorCLI.run(["silences", "add", "--matcher", #"foo=~".*""#, "--duration", "1h",
                                                     "--author", "a", "--comment", "c"] + store)
        #expect(everything.status != 0 && everything.output.contains("match the empty string"), "\(everything.output)")
        let noDir = try await CollectorCLI.run(["silences", "list", "--data-dir", directory.file("missing")])
        #expect(noDir.status != 0 && noDir.output.contains("no collector database"), "\(noDir.output)")
    }
}
