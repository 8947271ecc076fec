import CanoSDK
import Collector
import Foundation
import Synchronization
import Testing
import TestSupport

/// Issue #19 in process: one destination's trouble stays its own. A full queue dead-letters
/// only its own overflow, a resend revives a dead letter (not a quarantined one), and a
/// delivery in a plugin call during an unclean exit is counted and quarantined after two.
@Suite struct BlastRadiusTests {
    /// Returns scripted outcomes in order (then `.delivered`), counting calls.
    final class ScriptedDestination: Destination, @unchecked Sendable {
        let name: String
        private let script: Mutex<[DeliveryOutcome]>
        let calls = Mutex<[String]>([])

        init(name: String, _ outcomes: [DeliveryOutcome]) {
            self.name = name
            script = Mutex(outcomes)
        }

        func deliver(issueJSON: [UInt8], context: DeliveryContext) -> DeliveryOutcome {
            let fingerprint = (try? IssueCoding.decode(Issue.self, from: issueJSON))?.fingerprint ?? "?"
            calls.withLock { $0.append(fingerprint) }
            return script.withLock { $0.isEmpty ? DeliveryOutcome(.delivered, message: "ok") : $0.removeFirst() }
        }

        var fingerprints: [String] { calls.withLock { $0 } }
    }

    @Test func aFullQueueDeadLettersOnlyItsOwnOverflowAndTheOtherDestinationGetsEverything() async throws {
        let stuck = GateDestination(name: "stuck")
        let healthy = ScriptedDestination(name: "healthy", [])
        var small = fastPolicy(workers: 1, queueLimit: 3)
        small.maxAttempts = nil
        let pipeline = try Pipeline(destinations: [stuck, healthy], policy: fastPolicy(), overrides: ["stuck": small])
        let fingerprints = (0..<10).map { "over\($0)" }
        // One webhook with more alerts than the stuck queue holds: accepted, never refused.
        let receipt = try await pipeline.outbox.submit(fingerprints.map { alert($0) })
        #expect(receipt.queued == 3 + 10)
        try await waitUntil("the healthy destination got every alert") { Set(healthy.fingerprints) == Set(fingerprints) }
        // Later single alerts still go through for the healthy one.
        _ = try await pipeline.outbox.submit([alert("over10")])
        try await waitUntil("a later alert delivered") { healthy.fingerprints.contains("over10") }

        let dead = try pipeline.records(.dead)
        #expect(dead.count == 8)
        #expect(dead.allSatisfy { $0.destination == "stuck" && $0.deadCause == .overflow })
        #expect(dead.allSatisfy { $0.lastMessage?.contains("queue full") == true && $0.lastMessage?.contains("queue_limit 3") == true })
        #expect(pipeline.metrics.counter("cano_queue_overflow_total", ["destination": "stuck"]) == 8)
        #expect(pipeline.logs.lines.joined(separator: "\n").contains("queue full"))
        stuck.release()
        await pipeline.shutdown()
    }

    @Test func aResendRevivesADeadLetterOnceItsQueueHasRoom() async throws {
        let destination = ScriptedDestination(name: "hook", [DeliveryOutcome(.permanent, message: "HTTP 400: bad")])
        let pipeline = try Pipeline(destinations: [destination], policy: fastPolicy())
        _ = try await pipeline.outbox.submit([alert("rev1")])
        try await waitUntil("the first try dead-lettered") { try pipeline.records(.dead).count == 1 }
        #expect(try pipeline.records(.dead).first?.deadCause == .failed)

        // Alertmanager resends the still-firing alert: it is queued again and delivered.
        let receipt = try await pipeline.outbox.submit([alert("rev1")])
        #expect(receipt == SubmitReceipt(queued: 1, duplicates: 0))
        try await pipeline.waitUntilSettled()
        #expect(destination.fingerprints == ["rev1", "rev1"])
        #expect(try pipeline.records(.dead).isEmpty)
        #expect(pipeline.metrics.counter("cano_dead_letters_revived_total", ["destination": "hook"]) == 1)
        // Once delivered, a resend is a duplicate again.
        #expect(try await pipeline.outbox.submit([alert("rev1")]) == SubmitReceipt(queued: 0, duplicates: 1))
        await pipeline.shutdown()
    }

    @Test func aResendDoesNotReviveAFiringBehindItsResolve() async throws {
        let destination = ScriptedDestination(name: "hook", [DeliveryOutcome(.permanent, message: "HTTP 400")])
        let pipeline = try Pipeline(destinations: [destination], policy: fastPolicy())
        _ = try await pipeline.outbox.submit([alert("rev2")])
        try await waitUntil("the firing dead-lettered") { try pipeline.records(.dead).count == 1 }
        _ = try await pipeline.outbox.submit([alert("rev2", .resolved)])
        try await pipeline.waitUntilSettled()
        // A late resend of the firing must not post a stale "firing" after the resolve.
        #expect(try await pipeline.outbox.submit([alert("rev2")]) == SubmitReceipt(queued: 0, duplicates: 1))
        #expect(try pipeline.records(.dead).count == 1)
        await pipeline.shutdown()
    }

    @Test func anIsolatedPluginThatCrashesTwiceOnOneIssueQuarantinesItAndAResendDoesNotReviveIt() async throws {
        let crash = DeliveryOutcome(.retry, message: "plugin process crashed (signal 11)", crashed: true)
        let destination = ScriptedDestination(name: "iso", [crash, crash])
        let pipeline = try Pipeline(destinations: [destination], policy: fastPolicy())
        _ = try await pipeline.outbox.submit([alert("poison")])
        try await waitUntil("the poison Issue quarantined") { try pipeline.records(.dead).count == 1 }
        let dead = try #require(try pipeline.records(.dead).first)
        #expect(dead.deadCause == .quarantined)
        #expect(dead.crashes == 2)
        #expect(dead.lastMessage?.contains("the plugin crashed the process on this Issue (2 times)") == true)
        #expect(pipeline.quarantined.values.map(\.0) == ["iso"])
        #expect(pipeline.metrics.gauge("cano_destination_suspect", ["destination": "iso"]) == 1)
        #expect(try await pipeline.outbox.submit([alert("poison")]) == SubmitReceipt(queued: 0, duplicates: 1))
        #expect(destination.fingerprints.count == 2)
        await pipeline.shutdown()
    }

    /// An unclean exit during a plugin call, without crashing the test process: the call is
    /// left blocked in a gate and the pipeline abandoned (no drain), as a crash leaves it.
    @Test func aCallInterruptedByTwoUncleanExitsIsQuarantinedAtTheNextStart() async throws {
        let directory = try makeTemporaryDirectory()
        var abandoned: [(Pipeline, GateDestination)] = []
        for run in 1...2 {
            let gate = GateDestination(name: "crashy")
            let pipeline = try Pipeline(directory: directory, destinations: [gate], policy: fastPolicy(workers: 1), start: false)
            try pipeline.engine.start(crashReport: nil)
            if run == 1 { _ = try await pipeline.outbox.submit([alert("poison")]) }
            try await waitUntil("the call in flight (run \(run))") { gate.blockedCalls == 1 }
            abandoned.append((pipeline, gate))
        }
        let gate = GateDestination(name: "crashy")
        let third = try Pipeline(directory: directory, destinations: [gate], policy: fastPolicy(workers: 1), start: false)
        try third.engine.start(crashReport: nil)
        let dead = try third.records(.dead)
        #expect(dead.count == 1)
        #expect(dead.first?.deadCause == .quarantined)
        #expect(dead.first?.crashes == 2)
        #expect(third.quarantined.values.map(\.0) == ["crashy"])
        #expect(third.metrics.counter("cano_deliveries_quarantined_total", ["destination": "crashy"]) == 1)
        #expect(gate.callCount == 0)
        for (pipeline, gate) in abandoned {
            pipeline.database.close()
            gate.release()
        }
        gate.release()
        await third.shutdown()
    }

    @Test func onlyTheDeliveryTheCrashHandlerSawIsBlamed() async throws {
        let directory = try makeTemporaryDirectory()
        let gateA = GateDestination(name: "a")
        let gateB = GateDestination(name: "b")
        let first = try Pipeline(directory: directory, destinations: [gateA, gateB], policy: fastPolicy(workers: 1))
        _ = try await first.outbox.submit([alert("blame")])
        try await waitUntil("both calls in flight") { gateA.blockedCalls == 1 && gateB.blockedCalls == 1 }
        let inA = try #require(try first.records(.pending).first { $0.destination == "a" })

        // The handler saw destination a's call crash: b's call was only interrupted.
        var policy = fastPolicy(workers: 1)
        policy.quarantineAfterCrashes = 1
        let strict = try Pipeline(directory: directory, destinations: [], routeTo: ["a", "b"], policy: policy, start: false)
        try strict.engine.start(crashReport: CrashGuard.Report(deliveryIDs: [inA.id], signals: [11]))
        let records = try strict.records()
        #expect(records.first { $0.destination == "a" }?.deadCause == .quarantined)
        #expect(records.first { $0.destination == "b" }?.state == .pending)
        #expect(records.first { $0.destination == "b" }?.crashes == 0)
        #expect(strict.logs.lines.joined(separator: "\n").contains("fatal signal"))
        first.database.close()
        gateA.release()
        gateB.release()
        await strict.shutdown()
    }

    @Test func deliveryThreadsAreNamedAfterTheirDestination() async throws {
        let gate = GateDestination(name: "tn")
        let pipeline = try Pipeline(destinations: [gate], policy: fastPolicy(workers: 1))
        // A thread names itself as it starts: wait for it rather than race it.
        try await waitUntil("a thread named cano-deliver-tn") {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").contains { tid in
                (try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) == "cano-deliver-tn"
            }
        }
        gate.release()
        await pipeline.shutdown()
    }
}
