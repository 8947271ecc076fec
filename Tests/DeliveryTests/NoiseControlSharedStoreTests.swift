import CanoSDK
import Collector
import Foundation
import Logging
import Testing
import TestSupport

/// Notify groups on the shared store: two replicas take in halves of one Alertmanager group
/// and flush at the same moment; the group is notified once, with every member.
@Suite(.serialized) struct NoiseControlSharedStoreTests {
    @Test func twoReplicasFlushingTogetherNotifyAGroupOnce() async throws {
        let url = try await PostgresServer.shared.makeDatabase(prefix: "noise")
        let database = try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret(url)), logger: Logger(label: "test"))
        let t = unixMillisNow()
        let a = try NoiseBench(database: database, accepts: ["chat": true], start: t)
        let b = try NoiseBench(database: database, accepts: ["chat": true], start: t)
        async let first = a.outbox.submit((0..<30).map { amAlert("a\($0)", groupKey: "g") })
        async let second = b.outbox.submit((30..<60).map { amAlert("a\($0)", groupKey: "g") })
        let receipts = try await [first, second]
        #expect(receipts.map(\.held) == [30, 30])
        let flushed = await withTaskGroup(of: Int.self) { group in
            for bench in [a, b] {
                group.addTask { await BlockingThread.run(name: "test-flush") { (try? bench.flushDue(now: t + 1000)) ?? -1 } }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(flushed.sorted() == [0, 1], "one replica notified, the other found nothing due")
        let sent = try await BlockingThread.run(name: "test-read") { try a.deliveries() }
        #expect(sent.count == 1 && sent.first?.issue.group?.members.count == 60)
        await a.close(keepDatabase: true)
        await b.close()
    }
}
