import CanoSDK
import Collector
import Foundation
import Logging
import Testing
import TestSupport

/// ``SilenceStore`` on PostgreSQL: the statements SilenceTests runs on SQLite, on the
/// shared engine, plus what only sharing shows (two replicas, one set of silences).
/// Needs PostgreSQL (`CANO_TEST_POSTGRES_URL`, or a server `scripts/postgres.sh` can start).
@Suite struct SilenceStorePostgresTests {
    private static let t0 = Date(timeIntervalSince1970: 1_767_225_600)
    private static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    private func replica(_ url: String) async throws -> PostgreSQLDatabase {
        let database = try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret(url)), logger: Logger(label: "test"))
        try await BlockingThread.run(name: "test-check-db") { try database.checkAvailable() }
        return database
    }

    private func silence(_ matcher: String, start: Double, end: Double) throws -> Silence {
        Silence(matchers: try Matcher.parseList(matcher), startsAt: Self.at(start), endsAt: Self.at(end), createdBy: "alice", comment: "maintenance")
    }

    @Test func addListExpireAndPruneAcrossReplicas() async throws {
        let url = try await PostgresServer.shared.makeDatabase(prefix: "silences")
        let one = try await replica(url)
        let two = try await replica(url)
        defer { one.close(); two.close() }
        let a = try silence(#"namespace="payments""#, start: 0, end: 3600)
        let b = try silence(#""service.name"=~"api|web""#, start: 600, end: 1800)
        let held = Silence.millis(Self.at(3600))
        try await BlockingThread.run(name: "test-silences") { () throws in
            let first = SilenceStore(database: one)
            let second = SilenceStore(database: two)
            try first.add(a, now: Self.t0)
            try first.add(b, now: Self.t0)
            // The other replica sees the same set, byte for byte.
            let read = try #require(try second.get(a.id))
            #expect(read.matchers == a.matchers && read.startsAt == a.startsAt && read.endsAt == a.endsAt
                    && read.createdBy == a.createdBy && read.comment == a.comment && read.updatedAt == Self.t0)
            #expect(try second.list(now: Self.t0).map(\.id) == [b.id, a.id])
            #expect(Set(try second.active(now: Self.at(700)).map(\.id)) == [a.id, b.id])
            #expect(try second.counts(now: Self.at(100)) == [.active: 1, .pending: 1, .expired: 0])
            // Inside another transaction, as the dispatcher reads them.
            let inTransaction = try two.write("dispatch") { c in try SilenceStore.active(c, now: Silence.millis(Self.at(700))) }
            #expect(inTransaction.count == 2)

            try one.write("groups") { c in
                try c.run("INSERT INTO notify_groups (destination, group_key, route, kind, fingerprint, labels, created_ms, next_flush_ms) VALUES ('d', 'g', 'r', 'single', 'f', ?, 0, ?)",
                          [.blob(Array("{}".utf8)), .integer(held)], operation: "insert group")
            }
            let ended = try second.expire(id: a.id, now: Self.at(60))
            #expect(ended.state(at: Self.at(60)) == .expired)
            let next = try one.read("read group") { c in try c.scalar("SELECT next_flush_ms FROM notify_groups", operation: "read") }
            #expect(next == .integer(Silence.millis(Self.at(60))), "the group a silence held is due now, for every replica")
            #expect(throws: SilenceError.alreadyExpired(id: a.id, endedAt: Self.at(60))) { try first.expire(id: a.id, now: Self.at(61)) }
            #expect(throws: SilenceError.notFound(id: "nope")) { try first.expire(id: "nope", now: Self.at(61)) }

            // Replace in place (same id) and by expire-and-create (new id).
            var longer = b
            longer.endsAt = Self.at(2400)
            #expect(try first.replace(id: b.id, with: longer, now: Self.at(700)) == b.id)
            let moved = try first.replace(id: b.id, with: try silence(#"team="db""#, start: 800, end: 2400), now: Self.at(800))
            #expect(moved != b.id)
            #expect(try second.active(now: Self.at(800)).map(\.id) == [moved])

            // Retention: expired silences go 5 days after their end, when a silence is added.
            let later = Self.at(6 * 24 * 3600)
            try second.add(try silence(#"team="web""#, start: 6 * 24 * 3600, end: 6 * 24 * 3600 + 60), now: later)
            #expect(try first.get(a.id) == nil)
            #expect(try first.get(b.id) == nil)
        }
    }
}
