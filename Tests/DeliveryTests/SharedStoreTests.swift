import CanoSDK
import Collector
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

/// The shared engine in process: two pipelines (outbox + engine), each with its own
/// connection pool to one real PostgreSQL database, stand for two replicas. The process
/// tests (SharedStateProcessTests) run the same promises with real binaries; these pin the
/// rules down one at a time.
@Suite struct SharedStoreTests {
    /// Records what it was called with; answers delivered with reference "ref-<fingerprint>".
    final class RecordingDestination: Destination, @unchecked Sendable {
        struct Call: Sendable {
            var fingerprint: String
            var status: IssueStatus
            var reference: String?
        }
        let name: String
        let calls = Mutex<[Call]>([])
        /// While set, calls block (a delivery in flight); cleared by `release()`.
        private let gate = NSCondition()
        private var held: Bool

        init(name: String, held: Bool = false) {
            self.name = name
            self.held = held
        }

        func deliver(issueJSON: [UInt8], context: DeliveryContext) -> DeliveryOutcome {
            let issue = try? IssueCoding.decode(Issue.self, from: issueJSON)
            calls.withLock {
                $0.append(Call(fingerprint: issue?.fingerprint ?? "?", status: issue?.status ?? .firing,
                               reference: context.reference.map { String(decoding: $0, as: UTF8.self) }))
            }
            gate.lock()
            while held { gate.wait() }
            gate.unlock()
            return DeliveryOutcome(.delivered, message: "ok", reference: Array("ref-\(issue?.fingerprint ?? "?")".utf8))
        }

        func release() {
            gate.lock()
            held = false
            gate.broadcast()
            gate.unlock()
        }

        var recorded: [Call] { calls.withLock { $0 } }
    }

    /// A replica: its own pool to the shared database, its own name on claims.
    func replica(_ name: String, url: String, destination: RecordingDestination, lease: Duration = .seconds(5)) async throws -> Pipeline {
        let config = PostgresStorageConfig(url: Secret(url))
        let database = try PostgreSQLDatabase(config: config, logger: Logger(label: "test"))
        try await BlockingThread.run(name: "test-check-db") { try database.checkAvailable() }
        return try Pipeline(destinations: [destination], policy: fastPolicy(), database: database, replicaID: name, claimLease: lease)
    }

    @Test func theSameAlertsSubmittedToTwoReplicasAtOnceAreQueuedAndDeliveredOnce() async throws {
        let url = try await PostgresServer.shared.makeDatabase(prefix: "shared")
        let (hookA, hookB) = (RecordingDestination(name: "hook"), RecordingDestination(name: "hook"))
        let a = try await replica("a", url: url, destination: hookA)
        let b = try await replica("b", url: url, destination: hookB)
        let issues = (0..<50).map { alert(String(format: "%016x", 0x5000 + $0)) }
        async let first = a.outbox.submit(issues)
        async let second = b.outbox.submit(issues)
        let receipts = try await [first, second]
        #expect(receipts.map(\.queued).reduce(0, +) == 50)
        #expect(receipts.map(\.duplicates).reduce(0, +) == 50)
        try await a.waitUntilSettled()
        let delivered = (hookA.recorded + hookB.recorded).map(\.fingerprint)
        #expect(delivered.count == 50)
        #expect(Set(delivered) == Set(issues.map(\.fingerprint)))
        await a.shutdown()
        await b.shutdown()
    }

    @Test func aResolveQueuedOnTheOtherReplicaWaitsForTheFiringInFlightAndGetsItsReference() async throws {
        let url = try await PostgresServer.shared.makeDatabase(prefix: "shared")
        let hookA = RecordingDestination(name: "hook", held: true)
        let hookB = RecordingDestination(name: "hook", held: true)
        let a = try await replica("a", url: url, destination: hookA)
        let b = try await replica("b", url: url, destination: hookB)
        _ = try await a.outbox.submit([alert("00000000000000f1")])
        // Either replica may claim the firing (both are woken); it is then in its call.
        try await waitUntil("a replica delivering the firing") { hookA.recorded.count + hookB.recorded.count == 1 }
        let (holder, holderHook, other, otherHook) = hookA.recorded.isEmpty ? ("b", hookB, a, hookA) : ("a", hookA, b, hookB)
        _ = try await other.outbox.submit([alert("00000000000000f1", .resolved)])
        // Only the holder of the firing may claim the resolve queued on the other replica.
        try await waitUntil("the holder to claim the resolve", timeout: .seconds(10)) {
            try await PostgresServer.shared.psql(url, "SELECT claimed_by FROM deliveries WHERE status = 'resolved'") == holder
        }
        #expect(otherHook.recorded.isEmpty, "the other replica took the resolve while the firing was in flight")
        hookA.release()
        hookB.release()
        try await a.waitUntilSettled()
        #expect(holderHook.recorded.map(\.status) == [.firing, .resolved])
        #expect(holderHook.recorded.last?.reference == "ref-00000000000000f1", "the resolve carries the firing's reference")
        await a.shutdown()
        await b.shutdown()
    }

    @Test func aReplicaThatStopsHandsItsClaimedWorkOverAtOnce() async throws {
        let url = try await PostgresServer.shared.makeDatabase(prefix: "shared")
        let hookA = RecordingDestination(name: "hook", held: true)
        // A long lease: taking over only after it would show as a wait of 30 s.
        let a = try await replica("a", url: url, destination: hookA, lease: .seconds(30))
        let issues = (0..<5).map { alert(String(format: "%016x", 0x6000 + $0)) }
        _ = try await a.outbox.submit(issues)
        try await waitUntil("A delivering") { hookA.recorded.count >= 1 }
        // A stops (a rollout): its calls are abandoned at the deadline and its claims released.
        _ = await a.engine.drain(deadline: .now + .milliseconds(300))
        await a.outbox.close()
        let hookB = RecordingDestination(name: "hook")
        // B must not wait for A's 30 s lease: the deadline is shorter.
        let b = try await replica("b", url: url, destination: hookB, lease: .seconds(30))
        try await waitUntil("B delivering everything before A's lease would lapse", timeout: .seconds(20)) {
            Set(hookB.recorded.map(\.fingerprint)) == Set(issues.map(\.fingerprint))
        }
        hookA.release()
        a.database.close()
        await b.shutdown()
    }
}

/// Upgrading a collector over today's SQLite file keeps its queue and its references, and
/// both engines' migrations end at the same tables and columns (the statements are shared).
@Suite struct SchemaUpgradeTests {
    @Test func bothEnginesEndAtTheSameColumns() async throws {
        let sqlite = try CollectorSchema.open(path: CollectorSchema.path(inDataDirectory: try makeTemporaryDirectory()))
        let url = try await PostgresServer.shared.makeDatabase(prefix: "schema")
        let postgres = try PostgreSQLDatabase(config: PostgresStorageConfig(url: Secret(url)), logger: Logger(label: "test"))
        try await BlockingThread.run(name: "test-schema") { try postgres.checkAvailable() }
        for table in ["deliveries", "plugin_kv", "source_state"] {
            let sqliteColumns = try sqlite.read("columns") { c in
                var names: Set<String> = []
                try c.query("SELECT name FROM pragma_table_info(?)", [.text(table)], operation: "columns") { names.insert($0.text(0) ?? "") }
                return names
            }
            let postgresColumns = try await BlockingThread.run(name: "test-schema") {
                try postgres.read("columns") { c in
                    var names: Set<String> = []
                    try c.query("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [.text(table)], operation: "columns") {
                        names.insert($0.text(0) ?? "")
                    }
                    return names
                }
            }
            #expect(!sqliteColumns.isEmpty)
            #expect(sqliteColumns == postgresColumns, "\(table): SQLite \(sqliteColumns.sorted()) vs PostgreSQL \(postgresColumns.sorted())")
        }
        sqlite.close()
        postgres.close()
    }

    @Test func aDatabaseAtSchemaVersion2KeepsPendingDeliveriesAndReferences() async throws {
        let directory = try makeTemporaryDirectory()
        let path = CollectorSchema.path(inDataDirectory: directory)
        // The schema the previous release wrote (migrations 1 and 2), with a delivered firing
        // (its reference) and its pending resolve.
        let old = try Database(path: path, migrations: Array(CollectorSchema.migrations.prefix(2)))
        try old.write("seed") { c in
            try c.run(
                """
                INSERT INTO deliveries (destination, fingerprint, status, starts_at_ms, idempotency_key, payload, state, attempts,
                                        next_attempt_ms, queued_ms, updated_ms, reference)
                VALUES ('hook', 'fp-old', 'firing', 1790000000000, 'k1', NULL, 'delivered', 1, 0, 0, 0, ?)
                """, [.blob(Array("ref-old".utf8))], operation: "seed delivered")
            try c.run(
                """
                INSERT INTO deliveries (destination, fingerprint, status, starts_at_ms, idempotency_key, payload, state, attempts,
                                        next_attempt_ms, queued_ms, updated_ms)
                VALUES ('hook', 'fp-old', 'resolved', 1790000000000, 'k2', ?, 'pending', 0, 0, 0, 0)
                """, [.blob(try IssueCoding.encode(alert("fp-old", .resolved)))], operation: "seed pending")
        }
        old.close()
        let hook = SharedStoreTests.RecordingDestination(name: "hook")
        let pipeline = try Pipeline(directory: directory, destinations: [hook], policy: fastPolicy())
        try await pipeline.waitUntilSettled()
        #expect(hook.recorded.count == 1)
        #expect(hook.recorded.first?.status == .resolved)
        #expect(hook.recorded.first?.reference == "ref-old")
        await pipeline.shutdown()
    }
}
