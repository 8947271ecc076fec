import CanoSDK
import Collector
import Foundation
import Testing
import TestSupport

/// Intake semantics: dedup, updates with references, queue limits, ordering, restarts.
@Suite(.serialized) struct OutboxTests {
    @Test func sameBatchResentIsDeliveredOnce() async throws {
        let server = try await ScriptedHTTPServer.start()
        let pipeline = try Pipeline(destinations: [HTTPTestDestination(name: "hook", url: server.url)], policy: fastPolicy())
        let batch = [alert("a"), alert("b"), alert("c")]
        #expect(try await pipeline.outbox.submit(batch) == SubmitReceipt(queued: 3, duplicates: 0))
        #expect(try await pipeline.outbox.submit(batch) == SubmitReceipt(queued: 0, duplicates: 3))
        try await pipeline.waitUntilSettled()
        // Resent after delivery (Alertmanager's repeat_interval): still a duplicate.
        #expect(try await pipeline.outbox.submit(batch) == SubmitReceipt(queued: 0, duplicates: 3))
        // A duplicate inside one batch counts too.
        #expect(try await pipeline.outbox.submit([alert("d"), alert("d")]) == SubmitReceipt(queued: 1, duplicates: 1))
        try await pipeline.waitUntilSettled()
        #expect(server.requests.count == 4)
        #expect(pipeline.metrics.counter("cano_deliveries_duplicate_total", ["destination": "hook"]) == 7)
        await pipeline.shutdown()
        await server.stop()
    }

    /// The receipt counts Issues, as the sender does: an Issue routed to three destinations
    /// and resent is one duplicate, not three (the intake's `accepted` went negative).
    @Test func aResendToSeveralDestinationsIsOneDuplicate() async throws {
        let server = try await ScriptedHTTPServer.start()
        let pipeline = try Pipeline(destinations: ["a", "b", "c"].map { HTTPTestDestination(name: $0, url: server.url) }, policy: fastPolicy())
        #expect(try await pipeline.outbox.submit([alert("m")]) == SubmitReceipt(queued: 3, duplicates: 0))
        #expect(try await pipeline.outbox.submit([alert("m")]) == SubmitReceipt(queued: 0, duplicates: 1))
        await pipeline.shutdown()
        await server.stop()
    }

    @Test func resolveIsAnUpdateCarryingTheFirstReference() async throws {
        let server = try await ScriptedHTTPServer.start()
        let pipeline = try Pipeline(destinations: [HTTPTestDestination(name: "hook", url: server.url)], policy: fastPolicy())
        _ = try await pipeline.outbox.submit([alert("x")])
        try await pipeline.waitUntilSettled()
        #expect(try await pipeline.outbox.submit([alert("x", .resolved)]) == SubmitReceipt(queued: 1, duplicates: 0))
        try await pipeline.waitUntilSettled()
        // The resolve resent is a duplicate; a new occurrence (new start) is new.
        #expect(try await pipeline.outbox.submit([alert("x", .resolved)]) == SubmitReceipt(queued: 0, duplicates: 1))
        let later = Date(timeIntervalSince1970: 1_790_100_000)
        _ = try await pipeline.outbox.submit([alert("x", startsAt: later)])
        try await pipeline.waitUntilSettled()

        let requests = server.requests
        #expect(requests.count == 3)
        #expect(requests.map { $0.issue?.status } == [.firing, .resolved, .firing])
        #expect(requests[0].header("X-Reference") == nil)
        #expect(requests[1].header("X-Reference") == requests[0].header("X-Reference") ?? "ref-1")
        #expect(requests[1].header("X-Reference") == "ref-1")
        #expect(requests[2].header("X-Reference") == nil)
        #expect(requests[0].header("Idempotency-Key") != requests[1].header("Idempotency-Key"))
        await pipeline.shutdown()
        await server.stop()
    }

    /// A commit's deliveries reach their queue on the committing thread
    /// (``DeliveryEngine/loadCommitted()``), not through the feeder thread: with the feeder's
    /// poll an hour away and nothing waking it, the queue holds the delivery as soon as
    /// `loadCommitted` returns (its destination blocks the call, so it stays counted), and
    /// the outbox, which calls it after each commit, gets its Issues delivered.
    @Test func aCommitsDeliveriesReachTheirQueueWithoutTheFeeder() async throws {
        let gate = GateDestination(name: "hook")
        let pipeline = try Pipeline(destinations: [gate], policy: fastPolicy(workers: 1), pollInterval: .seconds(3600), handOff: false)
        _ = try await pipeline.outbox.submit([alert("h1")])
        #expect(pipeline.metrics.gauge("cano_queue_depth", ["destination": "hook"]) ?? 0 == 0)
        await BlockingThread.run(name: "test-committer") { pipeline.engine.loadCommitted() }
        #expect(pipeline.metrics.gauge("cano_queue_depth", ["destination": "hook"]) == 1)
        try await waitUntil("the loaded delivery is in its call") { gate.callCount == 1 }
        gate.release()
        try await pipeline.waitUntilSettled()
        await pipeline.shutdown()

        let wired = try Pipeline(destinations: [gate], policy: fastPolicy(workers: 1), pollInterval: .seconds(3600))
        _ = try await wired.outbox.submit([alert("h2")])
        try await waitUntil("the outbox's commit is delivered") { gate.callCount == 2 }
        try await wired.waitUntilSettled()
        await wired.shutdown()
    }

    @Test func resolveWaitsForItsFiringWhileThatRetries() async throws {
        let server = try await ScriptedHTTPServer.start()
        let pipeline = try Pipeline(destinations: [HTTPTestDestination(name: "hook", url: server.url)], policy: fastPolicy(workers: 4))
        server.enqueue([.status(503), .status(503), .status(503)])
        _ = try await pipeline.outbox.submit([alert("o")])
        _ = try await pipeline.outbox.submit([alert("o", .resolved)])
        try await pipeline.waitUntilSettled()
        let requests = server.requests
        #expect(requests.map { $0.issue?.status } == [.firing, .firing, .firing, .firing, .resolved])
        #expect(requests.last?.header("X-Reference") == "ref-1")
        await pipeline.shutdown()
        await server.stop()
    }

    @Test func orderPerFingerprintUnderConcurrency() async throws {
        let server = try await ScriptedHTTPServer.start()
        let pipeline = try Pipeline(destinations: [HTTPTestDestination(name: "hook", url: server.url)], policy: fastPolicy(workers: 4))
        // Every third request fails, so retries interleave with later work.
        server.enqueue((0..<60).map { $0 % 3 == 0 ? .status(503) : .status(200) })
        let fingerprints = (0..<20).map { "f\($0)" }
        _ = try await pipeline.outbox.submit(fingerprints.map { alert($0) })
        _ = try await pipeline.outbox.submit(fingerprints.map { alert($0, .resolved) })
        try await pipeline.waitUntilSettled(timeout: .seconds(30))
        let delivered = server.delivered
        #expect(delivered.count == 40)
        for fp in fingerprints {
            let seen = server.requests.filter { $0.issue?.fingerprint == fp }
            let firstResolve = try #require(seen.firstIndex { $0.issue?.status == .resolved })
            // No resolve request before the firing one succeeded.
            #expect(seen[..<firstResolve].contains { $0.issue?.status == .firing && $0.reference != nil })
            #expect(delivered.filter { $0.issue?.fingerprint == fp }.map { $0.issue?.status } == [.firing, .resolved])
        }
        await pipeline.shutdown()
        await server.stop()
    }

    @Test func aFullQueueDeadLettersTheOverflowAndAResendRevivesItOnceThereIsRoom() async throws {
        let server = try await ScriptedHTTPServer.start()
        let destination = HTTPTestDestination(name: "hook", url: server.url)
        // The engine is not started: the queue only fills.
        let pipeline = try Pipeline(destinations: [destination], policy: fastPolicy(queueLimit: 5), start: false)
        for i in 0..<4 { _ = try await pipeline.outbox.submit([alert("q\(i)")]) }
        // 4 queued + 2 > 5: the batch is accepted; what does not fit is kept as a dead letter.
        #expect(try await pipeline.outbox.submit([alert("q4"), alert("r1")]) == SubmitReceipt(queued: 1, duplicates: 0))
        #expect(try pipeline.records(.pending).count == 5)
        let dead = try pipeline.records(.dead)
        #expect(dead.map(\.fingerprint) == ["r1"])
        #expect(dead.first?.deadCause == .overflow)
        #expect(dead.first?.lastMessage?.contains("queue full: destination hook had 5 queued deliveries (queue_limit 5)") == true)
        // Duplicates need no room; a resend of the overflow while still full stays dead.
        #expect(try await pipeline.outbox.submit([alert("q0")]) == SubmitReceipt(queued: 0, duplicates: 1))
        #expect(try await pipeline.outbox.submit([alert("r1")]) == SubmitReceipt(queued: 0, duplicates: 1))
        #expect(pipeline.metrics.counter("cano_queue_overflow_total", ["destination": "hook"]) == 1)

        try pipeline.engine.start()
        try await pipeline.waitUntilSettled()
        // Alertmanager's next resend revives it once there is room.
        #expect(try await pipeline.outbox.submit([alert("r1")]) == SubmitReceipt(queued: 1, duplicates: 0))
        try await pipeline.waitUntilSettled()
        let delivered = server.delivered.compactMap { $0.issue?.fingerprint }
        #expect(delivered.sorted() == ["q0", "q1", "q2", "q3", "q4", "r1"])
        #expect(try pipeline.records(.dead).isEmpty)
        await pipeline.shutdown()
        await server.stop()
    }

    @Test func unreadyDestinationKeepsItsDeliveriesQueued() async throws {
        let server = try await ScriptedHTTPServer.start()
        let ready = HTTPTestDestination(name: "ready", url: server.url)
        // "broken" is routed to but has no Destination (its plugin failed to load).
        let pipeline = try Pipeline(destinations: [ready], routeTo: ["ready", "broken"], policy: fastPolicy())
        #expect(try await pipeline.outbox.submit([alert("u1"), alert("u2")]) == SubmitReceipt(queued: 4, duplicates: 0))
        // Settled = only the unready destination's deliveries are still pending.
        try await waitUntil("the ready destination's deliveries recorded") { try pipeline.store.pendingCounts() == ["broken": 2] }
        try await waitUntil("the broken queue gauge") { pipeline.metrics.gauge("cano_queue_depth", ["destination": "broken"]) == 2 }
        #expect(server.delivered.count == 2)
        #expect(try pipeline.records(.delivered).map(\.destination) == ["ready", "ready"])
        await pipeline.shutdown()
        await server.stop()
    }

    @Test func pendingDeliveriesResumeAfterRestart() async throws {
        let server = try await ScriptedHTTPServer.start()
        server.setDefault(.status(503))
        let first = try Pipeline(destinations: [HTTPTestDestination(name: "hook", url: server.url)], policy: fastPolicy(maxAttempts: 1000))
        _ = try await first.outbox.submit([alert("p1"), alert("p2"), alert("p1", .resolved)])
        try await waitUntil("both firing alerts failed twice") {
            let fps = server.requests.compactMap { $0.issue?.fingerprint }
            return fps.filter { $0 == "p1" }.count >= 2 && fps.filter { $0 == "p2" }.count >= 2
        }
        let drained = await first.engine.drain(deadline: .now + .seconds(5))
        #expect(drained.completed)
        await first.outbox.close()
        first.database.close()
        let attemptsBefore = server.requests.count

        server.setDefault(.status(200))
        let second = try Pipeline(directory: first.directory, destinations: [HTTPTestDestination(name: "hook", url: server.url)],
                                  policy: fastPolicy(maxAttempts: 1000))
        try await second.waitUntilSettled()
        let afterRestart = Array(server.requests.dropFirst(attemptsBefore))
        #expect(afterRestart.count == 3)
        #expect(afterRestart.allSatisfy { $0.reference != nil })
        #expect(afterRestart.compactMap { $0.issue.map { "\($0.fingerprint)/\($0.status.rawValue)" } } .sorted() == ["p1/firing", "p1/resolved", "p2/firing"])
        // Attempt numbers continue from the database, not from 1; the resolve never ran before.
        for request in afterRestart {
            let attempt = Int(request.header("X-Attempt") ?? "0") ?? 0
            #expect(request.issue?.status == .resolved ? attempt == 1 : attempt > 2)
        }
        await second.shutdown()
        await server.stop()
    }

    @Test func drainLetsInFlightCallsFinishAndLeavesTheRestQueued() async throws {
        let gate = GateDestination(name: "gate")
        var policy = fastPolicy(workers: 1)
        policy.workers = 1
        let pipeline = try Pipeline(destinations: [gate], policy: policy)
        _ = try await pipeline.outbox.submit([alert("g1"), alert("g2"), alert("g3")])
        try await waitUntil("a call in flight") { gate.blockedCalls == 1 }

        // Deadline passes while the call is still blocked: drain reports it.
        let early = await pipeline.engine.drain(deadline: .now + .milliseconds(100))
        #expect(!early.completed)
        #expect(early.inFlight == 1)
        gate.release()
        try await waitUntil("the in-flight call recorded") { try pipeline.records(.delivered).count == 1 }
        #expect(gate.callCount == 1)
        #expect(try pipeline.records(.pending).count == 2)
        await pipeline.outbox.close()
        do {
            _ = try await pipeline.outbox.submit([alert("late")])
            Issue.record("a closed outbox must refuse")
        } catch {
            #expect(error.code == .shuttingDown)
        }
        pipeline.database.close()
        try? FileManager.default.removeItem(atPath: pipeline.directory)
    }
}
