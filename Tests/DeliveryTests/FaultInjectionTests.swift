import CanoSDK
import Collector
import Foundation
import Testing
import TestSupport

/// Delivery through real HTTP on loopback against a scripted double, with exact counts.
@Suite(.serialized) struct FaultInjectionTests {
    /// Starts a double, a destination pointing at it and a pipeline routed to it.
    func setUp(_ policy: DeliveryPolicy) async throws -> (ScriptedHTTPServer, HTTPTestDestination, Pipeline) {
        let server = try await ScriptedHTTPServer.start()
        let destination = HTTPTestDestination(name: "hook", url: server.url)
        let pipeline = try Pipeline(destinations: [destination], policy: policy)
        return (server, destination, pipeline)
    }

    @Test func burstOf5xxIsRetriedUntilDelivered() async throws {
        let (server, _, pipeline) = try await setUp(fastPolicy())
        server.enqueue([.status(503), .status(502), .status(500)])
        let receipt = try await pipeline.outbox.submit([alert("fp-1")])
        #expect(receipt == SubmitReceipt(queued: 1, duplicates: 0))
        try await pipeline.waitUntilSettled()

        let requests = server.requests
        #expect(requests.count == 4)
        #expect(requests.map { $0.header("X-Attempt") } == ["1", "2", "3", "4"])
        #expect(Set(requests.compactMap { $0.header("Idempotency-Key") }).count == 1)
        #expect(server.delivered.count == 1)
        #expect(pipeline.metrics.counter("cano_deliveries_total", ["destination": "hook", "result": "retry"]) == 3)
        #expect(pipeline.metrics.counter("cano_deliveries_total", ["destination": "hook", "result": "delivered"]) == 1)
        #expect(pipeline.metrics.counter("cano_delivery_retries_total", ["destination": "hook"]) == 3)
        #expect(pipeline.metrics.counter("cano_dead_letters_total", ["destination": "hook"]) == 0)
        let record = try #require(try pipeline.records(.delivered).first)
        #expect(record.attempts == 4)
        await pipeline.shutdown()
        await server.stop()
    }

    @Test func retryAfterIsHonouredAndNeverUndercut() async throws {
        // The policy's own backoff is a few ms; only Retry-After can make the gap a second.
        let (server, _, pipeline) = try await setUp(fastPolicy())
        server.enqueue([.status(429, retryAfter: "1"), .status(503, retryAfter: "1")])
        _ = try await pipeline.outbox.submit([alert("fp-429")])
        try await pipeline.waitUntilSettled()

        let requests = server.requests
        #expect(requests.count == 3)
        #expect(server.delivered.count == 1)
        for (earlier, later) in zip(requests, requests.dropFirst()) {
            #expect(later.arrival.timeIntervalSince(earlier.arrival) >= 1.0)
        }
        await pipeline.shutdown()
        await server.stop()
    }

    @Test func connectionResetsClosesAndTimeoutsAreRetried() async throws {
        // 1 s: long enough that a loaded machine answers the other steps in time (at 300 ms
        // a close and a 200 were seen to time out beside the whole suite), far below the
        // slow step's 3 s.
        let (server, _, pipeline) = try await setUp(fastPolicy(timeout: .seconds(1)))
        server.enqueue([.close, .reset, .slow(.seconds(3), status: 200)])
        _ = try await pipeline.outbox.submit([alert("fp-net")])
        try await pipeline.waitUntilSettled()

        #expect(server.requests.count == 4)
        #expect(server.requests.map(\.step) == [.close, .reset, .slow(.seconds(3), status: 200), .status(200)])
        // The slow answer came after the client gave up: it is not the delivery we count.
        #expect(pipeline.metrics.counter("cano_deliveries_total", ["destination": "hook", "result": "retry"]) == 3)
        #expect(pipeline.metrics.counter("cano_deliveries_total", ["destination": "hook", "result": "delivered"]) == 1)
        let messages = pipeline.logs.lines.filter { $0.contains("will retry") }
        #expect(messages.count == 3)
        // Transport failures, not HTTP answers: the double really dropped the connection.
        #expect(messages.filter { $0.contains("connectionFailed") }.count == 2)
        #expect(messages.filter { $0.contains("timeout") }.count == 1)
        #expect(!messages.contains { $0.contains("HTTP 500") })
        await pipeline.shutdown()
        await server.stop()
    }

    @Test func destinationDownForALongStretchThenBack() async throws {
        let (server, _, pipeline) = try await setUp(fastPolicy(maxAttempts: 10_000))
        server.setDefault(.status(503))
        let fingerprints = (1...10).map { "down-\($0)" }
        let receipt = try await pipeline.outbox.submit(fingerprints.map { alert($0) })
        #expect(receipt.queued == 10)
        try await waitUntil("many failed attempts", timeout: .seconds(30)) { server.requests.count >= 200 }
        #expect(server.delivered.isEmpty)
        #expect(pipeline.metrics.gauge("cano_queue_depth", ["destination": "hook"]) == 10)
        try await waitUntil("the oldest entry's age published") {
            (pipeline.metrics.gauge("cano_queue_oldest_age_seconds", ["destination": "hook"]) ?? 0) > 0
        }

        server.setDefault(.status(200))
        try await pipeline.waitUntilSettled(timeout: .seconds(30))
        let delivered = server.delivered
        #expect(delivered.count == 10)
        #expect(Set(delivered.compactMap { $0.issue?.fingerprint }) == Set(fingerprints))
        #expect(try pipeline.records(.dead).isEmpty)
        #expect(pipeline.metrics.counter("cano_deliveries_total", ["destination": "hook", "result": "delivered"]) == 10)
        try await waitUntil("the gauges back to an empty queue") {
            pipeline.metrics.gauge("cano_queue_depth", ["destination": "hook"]) == 0
                && pipeline.metrics.gauge("cano_queue_oldest_age_seconds", ["destination": "hook"]) == 0
        }
        await pipeline.shutdown()
        await server.stop()
    }

    @Test func permanentFailureIsDeadLetteredAndCanBeRetried() async throws {
        let (server, _, pipeline) = try await setUp(fastPolicy())
        server.enqueue([.status(400)])
        _ = try await pipeline.outbox.submit([alert("fp-bad")])
        try await pipeline.waitUntilSettled()
        let dead = try pipeline.engine.deadLetters()
        #expect(dead.count == 1)
        #expect(dead.first?.lastMessage?.hasPrefix("permanent failure: HTTP 400") == true)
        #expect(server.requests.count == 1)
        // Metrics and the log line follow the commit that the pending count shows.
        try await waitUntil("the dead letter counted") { pipeline.metrics.counter("cano_dead_letters_total", ["destination": "hook"]) == 1 }
        try await waitUntil("the dead letter logged") {
            pipeline.logs.lines.contains { $0.contains("dead-lettered") && $0.contains("\"destination\":\"hook\"") }
        }

        // An operator retry delivers it once. (A resend from Alertmanager would too: see
        // BlastRadiusTests' revive rule.)
        let requeued = try pipeline.engine.retryDeadLetters(ids: dead.map(\.id))
        #expect(requeued == dead.map(\.id))
        try await waitUntil("the retried dead letter is delivered") { server.delivered.count == 1 }
        try await pipeline.waitUntilSettled()
        #expect(try pipeline.engine.deadLetters().isEmpty)
        #expect(server.requests.count == 2)
        #expect(server.requests[0].header("Idempotency-Key") == server.requests[1].header("Idempotency-Key"))
        await pipeline.shutdown()
        await server.stop()
    }

    @Test func maxAttemptsDeadLetters() async throws {
        let (server, _, pipeline) = try await setUp(fastPolicy(maxAttempts: 3))
        server.setDefault(.status(500))
        _ = try await pipeline.outbox.submit([alert("fp-never")])
        try await pipeline.waitUntilSettled()
        #expect(server.requests.count == 3)
        let dead = try #require(try pipeline.engine.deadLetters().first)
        #expect(dead.attempts == 3)
        #expect(dead.lastMessage == "gave up after 3 attempts: HTTP 500")
        await pipeline.shutdown()
        await server.stop()
    }

    @Test func secretsInTheURLNeverReachLogsOrMetrics() async throws {
        let server = try await ScriptedHTTPServer.start()
        let secretURL = server.url + "?token=s3cr3t-t0ken"
        let destination = HTTPTestDestination(name: "hook", url: secretURL)
        let pipeline = try Pipeline(destinations: [destination], policy: fastPolicy())
        server.enqueue([.close, .status(503)])
        _ = try await pipeline.outbox.submit([alert("fp-secret")])
        try await pipeline.waitUntilSettled()
        #expect(server.delivered.count == 1)
        #expect(!pipeline.logs.lines.isEmpty)
        #expect(!pipeline.logs.lines.contains { $0.contains("s3cr3t") })
        #expect(!pipeline.metrics.render().contains("s3cr3t"))
        #expect(try !pipeline.records().contains { ($0.lastMessage ?? "").contains("s3cr3t") })
        await pipeline.shutdown()
        await server.stop()
    }
}
