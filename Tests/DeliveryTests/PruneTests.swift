@testable import Collector
import Foundation
import Testing
import TestSupport

/// Delivered rows are the dedup record: kept while the alert keeps being resent, pruned
/// after the retention since it was last seen.
@Suite struct PruneTests {
    @Test func resendsKeepTheDedupRecordAndPruningForgetsOnlyStaleOnes() async throws {
        let gate = GateDestination(name: "gate")
        gate.release()
        let pipeline = try Pipeline(destinations: [gate], policy: fastPolicy())
        _ = try await pipeline.outbox.submit([alert("old"), alert("resent")])
        try await pipeline.waitUntilSettled()
        #expect(try pipeline.records(.delivered).count == 2)

        // Both were last seen an hour ago; then Alertmanager resends one of them.
        let hourAgo = unixMillis() - 3_600_000
        try pipeline.database.write("age rows") { c in
            try c.run("UPDATE deliveries SET updated_ms = ?", [.integer(hourAgo)], operation: "age rows")
        }
        #expect(try await pipeline.outbox.submit([alert("resent")]) == SubmitReceipt(queued: 0, duplicates: 1))

        let pruned = try pipeline.store.pruneDelivered(before: unixMillis() - 60_000)
        #expect(pruned == 1)
        #expect(try pipeline.records(.delivered).map(\.fingerprint) == ["resent"])
        // Past the retention the alert is new again (Alertmanager stopped sending it long ago).
        #expect(try await pipeline.outbox.submit([alert("old")]) == SubmitReceipt(queued: 1, duplicates: 0))
        #expect(try await pipeline.outbox.submit([alert("resent")]) == SubmitReceipt(queued: 0, duplicates: 1))
        try await pipeline.waitUntilSettled()
        #expect(gate.callCount == 3)
        await pipeline.shutdown()
    }

    @Test func pendingAndDeadRowsAreNeverPruned() async throws {
        // No destination: the delivery stays pending.
        let pipeline = try Pipeline(destinations: [], routeTo: ["nowhere"], policy: fastPolicy())
        _ = try await pipeline.outbox.submit([alert("waiting")])
        try pipeline.database.write("age rows") { c in
            try c.run("UPDATE deliveries SET updated_ms = 0, queued_ms = 0", operation: "age rows")
        }
        #expect(try pipeline.store.pruneDelivered(before: unixMillis()) == 0)
        #expect(try pipeline.records(.pending).count == 1)
        await pipeline.shutdown()
    }
}
