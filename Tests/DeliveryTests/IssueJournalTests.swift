import CanoSDK
import Collector
import Foundation
import Logging
import Testing
import TestSupport

/// The console's journal (IssueJournal): every Issue the outbox is handed, routed or not,
/// with what routing did with it, written in the intake's transaction.
@Suite struct IssueJournalTests {
    /// Routes: `payments` to "chat" (grouped by Alertmanager's group), `team-b` to "pager";
    /// nothing else is routed. `database`: a shared store instead of a SQLite file.
    static func bench(keep: Int = 1000, database shared: (any SQLDatabase)? = nil) throws -> (directory: String, database: any SQLDatabase, outbox: Outbox, journal: IssueJournal) {
        let directory = try makeTemporaryDirectory()
        let database = try shared ?? CollectorSchema.open(path: CollectorSchema.path(inDataDirectory: directory))
        let logger = Logger(label: "journal-test")
        let metrics = Metrics()
        let routes = [
            RouteConfig(name: "payments", matchers: [try Matcher.parse("namespace=\"payments\"")], destinations: ["chat"]),
            RouteConfig(name: "team-b", matchers: [try Matcher.parse("namespace=\"team-b\"")], destinations: ["pager"]),
        ]
        let router = IssueRouter(routes: routes, defaultDestinations: [])
        let policies = ["chat": DeliveryPolicy(), "pager": DeliveryPolicy()]
        let dispatcher = Dispatcher(database: database, routePolicies: router.policies, timeIntervals: [:], deliveryPolicies: policies,
                                    storms: [:], metrics: metrics, logger: logger, groupDestinations: ["chat"])
        let journal = IssueJournal(database: database, keep: keep)
        let outbox = Outbox(database: database, router: router, policies: policies, metrics: metrics, logger: logger,
                            dispatcher: dispatcher, journal: journal)
        return (directory, database, outbox, journal)
    }

    static func issue(_ fingerprint: String, namespace: String, alertname: String = "KubePodCrashLooping", groupKey: String? = nil) -> CanoSDK.Issue {
        var issue = CanoSDK.Issue(type: .alert, source: .prometheus, severity: .high, status: .firing, title: alertname,
                                  aggregationKey: alertname, fingerprint: fingerprint,
                                  subject: Subject(kind: "Pod", name: "pod-" + fingerprint, namespace: namespace,
                                                   labels: ["alertname": alertname, "namespace": namespace]),
                                  startsAt: Date(timeIntervalSince1970: 1_790_000_000))
        issue.groupKey = groupKey
        return issue
    }

    @Test func everyIssueIsRecordedWithWhatRoutingDidWithIt() async throws {
        try await Self.recordsEveryIssue(try Self.bench())
    }

    /// The journal scenario on `b`: five Issues (queued, grouped, unrouted, silenced, grouped and silenced) and a
    /// resend, read back newest first with their routing, filters and deliveries.
    static func recordsEveryIssue(_ b: (directory: String, database: any SQLDatabase, outbox: Outbox, journal: IssueJournal)) async throws {
        defer { try? FileManager.default.removeItem(atPath: b.directory) }
        _ = try SilenceStore(database: b.database).add(Silence(
            matchers: [try Matcher.parse("alertname=\"Silenced\"")], startsAt: Date().addingTimeInterval(-60), endsAt: Date().addingTimeInterval(3600),
            createdBy: "test", comment: "test"))

        _ = try await b.outbox.submit([
            Self.issue("queued", namespace: "team-b"),
            Self.issue("grouped", namespace: "payments", groupKey: "{}:{alertname=\"KubePodCrashLooping\"}"),
            Self.issue("nowhere", namespace: "kube-system"),
            Self.issue("silenced", namespace: "team-b", alertname: "Silenced"),
            Self.issue("grouped-silenced", namespace: "payments", alertname: "Silenced", groupKey: "{}:{alertname=\"Silenced\"}"),
        ])
        _ = try await b.outbox.submit([Self.issue("queued", namespace: "team-b")])  // Alertmanager's resend
        await b.outbox.close()

        let entries = try b.journal.recent()
        try #require(entries.count == 6)
        #expect(entries.map(\.fingerprint) == ["queued", "grouped-silenced", "silenced", "nowhere", "grouped", "queued"], "newest first")
        #expect(entries[0].routing == [JournalRouting(destination: "pager", route: "route:team-b", outcome: .duplicate)])
        #expect(entries[1].routing.first?.outcome == .silenced && entries[1].routing.first?.silence != nil,
                "held in its group, and silenced: the silence is what keeps it from being notified")
        #expect(entries[2].routing.first?.outcome == .silenced && entries[2].routing.first?.silence != nil)
        #expect(entries[3].routing.isEmpty, "matched no route: recorded, with nothing routed")
        #expect(entries[4].routing.first?.outcome == .grouped && entries[4].routing.first?.notification != "grouped",
                "held in its group; the group's notification carries it")
        #expect(entries[5].routing == [JournalRouting(destination: "pager", route: "route:team-b", outcome: .queued)])

        // Filters, and the delivery rows of the queued one.
        #expect(try b.journal.recent(JournalFilter(destination: "chat")).map(\.fingerprint) == ["grouped-silenced", "grouped"])
        #expect(try b.journal.recent(JournalFilter(namespace: "kube-system")).map(\.fingerprint) == ["nowhere"])
        let records = try DeliveryStore(database: b.database).records(of: entries[5])
        #expect(records.map(\.destination) == ["pager"] && records.first?.state == .pending)
        let (entry, stored) = try #require(try b.journal.entry(id: entries[5].id))
        #expect(entry == entries[5] && stored?.fingerprint == "queued")
        b.database.close()
    }

    @Test func onlyTheNewestEntriesAreKept() async throws {
        let b = try Self.bench(keep: 10)
        defer { try? FileManager.default.removeItem(atPath: b.directory) }
        for round in 0..<3 {
            _ = try await b.outbox.submit((0..<7).map { Self.issue("r\(round)-\($0)", namespace: "team-b") })
        }
        await b.outbox.close()
        let entries = try b.journal.recent()
        #expect(entries.count == 10)
        #expect(entries.first?.fingerprint == "r2-6" && entries.last?.fingerprint == "r1-4")
        b.database.close()
    }

    @Test func withoutAJournalNothingIsWritten() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try CollectorSchema.open(path: CollectorSchema.path(inDataDirectory: directory))
        let outbox = Outbox(database: database, router: IssueRouter(routes: [], defaultDestinations: ["pager"]), policies: [:],
                            metrics: Metrics(), logger: Logger(label: "journal-test"))
        _ = try await outbox.submit([Self.issue("a", namespace: "team-b")])
        await outbox.close()
        #expect(try IssueJournal(database: database, keep: 10).recent().isEmpty)
        database.close()
    }
}

/// The journal on PostgreSQL, where every replica's console reads the same rows.
@Suite(.serialized) struct IssueJournalSharedStoreTests {
    @Test func everyIssueIsRecordedOnTheSharedStore() async throws {
        let url = try await PostgresServer.shared.makeDatabase(prefix: "journal")
        let database = try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret(url)), logger: Logger(label: "test"))
        try await IssueJournalTests.recordsEveryIssue(try IssueJournalTests.bench(database: database))
    }
}
