import CanoSDK
import Collector
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `isolation: process`: plugins driven in a `cano-collector plugin-host` child. Each test
/// spawns the real binary (built by `swift build`), so what is tested is what runs.
///
/// Serialized, and every blocking step (compiling a fixture, spawning a child and waiting for
/// its hello, shutting it down) runs on a dedicated thread: blocking Swift's cooperative pool
/// (two threads on a 2-core machine) stalls every other test in the process.
@Suite("Process isolation", .serialized)
struct ProcessIsolationTests {
    /// An isolated destination for fixture `fixture`, with its services.
    func isolated(_ fixtures: FixturePlugins, _ fixture: String, name: String, test: TestServices = TestServices(),
                  backoff: Duration = IsolatedPluginDestination.initialRestartBackoff) async throws -> IsolatedPluginDestination {
        let path = try await fixtures.build(fixture)
        let result: Result<IsolatedPluginDestination, any Error> = await BlockingThread.run {
            Result {
                let plugin = try PluginLoader.load(path: path)
                return try IsolatedPluginDestination(name: name, plugin: plugin, config: Array("{}".utf8), services: test.services,
                                                     executable: try BuildProducts.collector(), initialRestartBackoff: backoff)
            }
        }
        return try result.get()
    }

    /// Shuts destinations down on a thread of their own (a `defer` cannot await).
    func shutDownLater(_ destinations: IsolatedPluginDestination...) {
        BlockingThread.start(name: "test-shutdown") { for d in destinations { d.shutdown() } }
    }

    /// The kernel names of the threads of `pid` (`/proc/PID/task/*/comm`).
    static func threadNames(_ pid: Int32) -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    func issue(_ title: String = "KubePodCrashLooping") throws -> [UInt8] {
        var issue = Samples.issue()
        issue.title = title
        return try Samples.json(issue)
    }

    @Test func aSegfaultKillsOnlyTheChildAndOtherDestinationsKeepWorking() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let crashing = try await isolated(fixtures, "crashes", name: "crashy")
        let good = try await isolated(fixtures, "valid", name: "good")
        defer { shutDownLater(crashing, good) }

        let outcome = await crashing.deliverOnThread(try issue(), Samples.context())
        #expect(outcome.status == .retry)
        #expect(outcome.crashed)
        #expect(outcome.message.contains("signal 11"), "names the signal: \(outcome.message)")
        #expect(outcome.message.contains("crashy"))

        // This process survived, and another isolated destination is unaffected.
        let other = await good.deliverOnThread(try issue(), Samples.context())
        #expect(other.status == .delivered)
        #expect(other.message == "delivered")
        #expect(!other.crashed)
    }

    @Test func aCrashedChildIsRestartedAfterBackoffAndItsStateSurvives() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let test = TestServices()
        // A backoff long enough that the call straight after the crash surely falls in it,
        // however loaded the machine.
        let destination = try await isolated(fixtures, "stateful", name: "stateful", test: test, backoff: .seconds(1))
        defer { shutDownLater(destination) }

        let first = await destination.deliverOnThread(try issue(), Samples.context())
        #expect(first.status == .delivered)
        #expect(first.reference == Array("count:1".utf8))
        let firstPID = try #require(destination.childPID)

        let crash = await destination.deliverOnThread(try issue("CRASH_ME"), Samples.context())
        #expect(crash.status == .retry && crash.crashed)
        #expect(destination.childPID == nil)

        // Straight after the crash the child is backing off: a retry with the remaining wait.
        let backingOff = await destination.deliverOnThread(try issue(), Samples.context())
        #expect(backingOff.status == .retry)
        #expect(!backingOff.crashed)
        let wait = try #require(backingOff.retryAfter)
        #expect(wait > .zero && wait <= .seconds(1))
        #expect(backingOff.message.contains("restarting"))

        // Once the backoff has passed, the next call starts a new child, which finds the
        // count the old one stored (the store is this process's).
        var restarted = DeliveryOutcome(.retry, message: "")
        try await waitUntil("a delivery after the restart backoff") {
            restarted = await destination.deliverOnThread(try issue(), Samples.context())
            return restarted.status != .retry || restarted.retryAfter == nil
        }
        #expect(restarted.status == .delivered)
        #expect(restarted.reference == Array("count:2".utf8))
        let secondPID = try #require(destination.childPID)
        #expect(secondPID != firstPID)
        #expect(try test.store.value(namespace: "stateful", key: "count") == Array("2".utf8))
    }

    @Test func aChildThatDiesBetweenCallsIsRestartedWithBackoffToo() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let destination = try await isolated(fixtures, "valid", name: "v", backoff: .seconds(1))
        defer { shutDownLater(destination) }
        let pid = try #require(destination.childPID)
        kill(pid, SIGKILL)
        try await waitUntil("the dead child noticed") { destination.childPID == nil }

        let backingOff = await destination.deliverOnThread(try issue(), Samples.context())
        #expect(backingOff.status == .retry)
        #expect(!backingOff.crashed, "no call was running: the Issue is not to blame")
        #expect(backingOff.retryAfter != nil)
        #expect(backingOff.message.contains("between calls"), "\(backingOff.message)")

        var later = backingOff
        try await waitUntil("a delivery after the restart backoff") {
            later = await destination.deliverOnThread(try issue(), Samples.context())
            return later.retryAfter == nil
        }
        #expect(later.status == .delivered)
        #expect(try #require(destination.childPID) != pid)
    }

    @Test func aHangIsKilledAtTheDeadlinePlusGrace() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let hanging = try await isolated(fixtures, "hangs", name: "stuck")
        defer { shutDownLater(hanging) }
        let pid = try #require(hanging.childPID)
        let (outcome, elapsed) = await hanging.timedDeliverOnThread(try issue(), Samples.context(timeout: .milliseconds(300)))
        #expect(outcome.status == .retry)
        #expect(outcome.crashed)
        #expect(outcome.message.contains("did not answer within"), "\(outcome.message)")
        #expect(elapsed >= .milliseconds(300))
        #expect(elapsed < .milliseconds(300) + IsolatedPluginDestination.deadlineGrace + .seconds(1))
        // Killed at once; reaped by the destination's reader thread moments later.
        try await waitUntil("the hung child killed and reaped", timeout: .seconds(2)) { kill(pid, 0) != 0 }
    }

    @Test func shutdownIsBoundedEvenWhenThePluginIsStuckInACall() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let hanging = try await isolated(fixtures, "hangs", name: "stuck")
        let pid = try #require(hanging.childPID)
        let json = try issue()
        async let inFlight = hanging.deliverOnThread(json, Samples.context(timeout: .seconds(60)))
        // The child runs each call on a thread of its own, named for it: once it exists, the
        // plugin is stuck in deliver().
        try await waitUntil("the child to enter deliver()") { Self.threadNames(pid).contains("plugin-deliver") }
        // Timed on the thread that shuts down, not across the pool's resumption.
        let took = await BlockingThread.run { ContinuousClock().measure { hanging.shutdown() } }
        #expect(took < .milliseconds(1500))
        let outcome = await inFlight
        #expect(outcome.status == .retry)
        #expect(!outcome.crashed, "stopped by shutdown, not by the Issue")
        #expect(kill(pid, 0) != 0)
        let after = await hanging.deliverOnThread(json, Samples.context())
        #expect(after.message.contains("shut down"))
    }

    @Test func hostServicesAreTheParentsStoreLogsAndCounters() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let test = TestServices()
        try test.store.setValue(Array("41".utf8), namespace: "audit", key: "count")
        let destination = try await isolated(fixtures, "stateful", name: "audit", test: test)
        defer { shutDownLater(destination) }

        let outcome = await destination.deliverOnThread(try issue(), Samples.context())
        #expect(outcome.status == .delivered, "\(outcome.message)")
        #expect(outcome.message == "stored", "stdout of the plugin did not corrupt the frames")
        #expect(outcome.reference == Array("count:42".utf8), "the child read the parent's value")
        #expect(try test.store.value(namespace: "audit", key: "count") == Array("42".utf8), "and wrote it back there")
        #expect(test.metrics.counter("cano_plugin_stateful_deliveries_total", ["destination": "audit"]) == 1)
        let line = try #require(test.logs.lines.first { $0.contains("stateful delivering") })
        #expect(line.contains("\"destination\":\"audit\""))
        #expect(line.contains("\"plugin\":\"stateful\""))
        #expect(line.contains("\"step\":\"deliver\""))
        // Typed across the frame too (issue 15 §5): before, the child sent every field as a string.
        #expect(line.contains("\"attempt\":1") && line.contains("\"first\":true"), "\(line)")
    }

    @Test func aFailingCreateIsASetupError() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let error = await #expect(throws: DestinationSetupError.self) { _ = try await isolated(fixtures, "create_fails", name: "broken") }
        #expect(error?.code == .createFailed)
        #expect(error?.reason.contains("missing required key \"endpoint\"") == true)
        #expect(error?.retryable == false)
    }

    @Test func theFactoryIsolatesThirdPartyPluginsByDefaultAndShippedOnesNot() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        var catalog = PluginCatalog()
        catalog.add(try await fixtures.build("valid"))
        catalog.add(try await fixtures.build("valid", as: "shipped", defines: [#"FIXTURE_NAME="webhook""#]))
        let test = TestServices()
        let factory = DestinationFactory(catalog: catalog, services: test.services, pluginHostExecutable: try BuildProducts.collector())
        let set = factory.make([
            DestinationConfig(name: "third", type: "valid"),
            DestinationConfig(name: "shipped", type: "webhook"),
            DestinationConfig(name: "forced", type: "webhook", isolation: .process),
            DestinationConfig(name: "trusted", type: "valid", isolation: .inProcess),
        ])
        defer { for d in set.ready.values { (d as? any ShutdownableDestination)?.shutdown() } }
        #expect(set.failures.isEmpty)
        #expect(set.ready["third"] is IsolatedPluginDestination)
        #expect(set.ready["shipped"] is PluginDestination)
        #expect(set.ready["forced"] is IsolatedPluginDestination)
        #expect(set.ready["trusted"] is PluginDestination)

        // A process that cannot host plugins runs them in process, and refuses an explicit request.
        let embedded = DestinationFactory(catalog: catalog, services: test.services, pluginHostExecutable: nil).make([
            DestinationConfig(name: "third", type: "valid"),
            DestinationConfig(name: "forced", type: "valid", isolation: .process),
        ])
        #expect(embedded.ready["third"] is PluginDestination)
        #expect(embedded.failures.first?.destination == "forced")
    }
}

@Suite("Process isolation frames")
struct PluginFrameTests {
    @Test func framesRoundTripThroughASocket() throws {
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        let frames = [
            PluginFrame(.deliver, id: 7, [Array("{\"a\":1}".utf8), PluginFrame.field(3), PluginFrame.field(-1), [], [0, 255]]),
            PluginFrame(.destroy, id: 0xFFFF_FFFF),
            PluginFrame(.hostReply, id: 1, [[UInt8](repeating: 0x5A, count: 100_000)]),
        ]
        for frame in frames { #expect(PluginFrameIO.write(frame, to: pair[0])) }
        for frame in frames { #expect(try PluginFrameIO.read(from: pair[1]) == frame) }
        #expect(frames[0].int(1) == 3 && frames[0].int(2) == -1)
        #expect(frames[0].bytes(9).isEmpty, "a field an older peer did not send reads as empty")
        close(pair[0])
        pair[0] = -1
        #expect(throws: PluginFrameIO.ReadError.endOfStream) { try PluginFrameIO.read(from: pair[1]) }
    }

    @Test func malformedBodiesAreRejected() {
        let good = PluginFrame(.log, id: 1, [Array("x".utf8)]).encoded()
        #expect(PluginFrame.decode(body: Array(good.dropFirst(4))) != nil)
        #expect(PluginFrame.decode(body: Array(good.dropFirst(4).dropLast())) == nil, "truncated field")
        #expect(PluginFrame.decode(body: Array(good.dropFirst(4)) + [0]) == nil, "trailing bytes")
        #expect(PluginFrame.decode(body: [99, 0, 0, 0, 1, 0, 0]) == nil, "unknown kind")
    }

    @Test func anOversizedLengthIsAProtocolErrorNotAnAllocation() throws {
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        let header: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF]
        _ = header.withUnsafeBytes { write(pair[0], $0.baseAddress, 4) }
        #expect(throws: PluginFrameIO.ReadError.self) { try PluginFrameIO.read(from: pair[1]) }
    }
}

@Suite("Process isolation config")
struct ProcessIsolationConfigTests {
    @Test func isolationParses() throws {
        let config = try ConfigLoader.parse("""
            destinations:
              - {name: a, type: custom, isolation: process}
              - {name: b, type: custom, isolation: in_process}
              - {name: c, type: custom}
            default_destinations: [a]
            """)
        #expect(config.destinations.map(\.isolation) == [.process, .inProcess, nil])
    }

    @Test func anUnknownIsolationIsAnErrorWithItsLocation() {
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader.parse("""
                destinations:
                  - name: a
                    type: custom
                    isolation: bogus
                default_destinations: [a]
                """)
        }
        let problems = error?.problems.map(\.description) ?? []
        #expect(problems.contains { $0.hasPrefix("4:16 ") && $0.contains("isolation must be one of in_process, process, not \"bogus\"") }, "\(problems)")
    }

    @Test func theFileDestinationCannotBeIsolated() {
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader.parse("""
                destinations:
                  - {name: out, type: file, config: {path: "-"}, isolation: process}
                default_destinations: [out]
                """)
        }
        #expect(error?.problems.first?.description.contains("isolation: process is for plugins") == true)
    }
}

/// The per-delivery cost of `isolation: process`, for docs/benchmarks.md. Off unless
/// `CANO_BENCH_ISOLATION=1`: timing belongs in benchmarks, not in the test suite.
@Suite("Process isolation overhead", .enabled(if: ProcessInfo.processInfo.environment["CANO_BENCH_ISOLATION"] == "1"))
struct ProcessIsolationBenchmark {
    /// Median and p99 of `count` sequential deliveries, in microseconds.
    func measure(_ destination: any Destination, _ json: [UInt8], count: Int) async -> (median: Double, p99: Double) {
        await BlockingThread.run {
            for _ in 0..<50 { _ = destination.deliver(issueJSON: json, context: Samples.context()) }  // warm-up
            var samples: [Double] = []
            for _ in 0..<count {
                let context = Samples.context()
                let start = ContinuousClock.now
                _ = destination.deliver(issueJSON: json, context: context)
                let d = start.duration(to: .now).components
                samples.append(Double(d.seconds) * 1e6 + Double(d.attoseconds) / 1e12)
            }
            samples.sort()
            return (samples[count / 2], samples[count * 99 / 100])
        }
    }

    @Test func overheadPerDelivery() async throws {
        ProcessSetup.curl
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let receiver = try await ReceiverDouble.start()
        let json = try Samples.json(Samples.issue())
        let executable = try BuildProducts.collector()
        let cases: [(String, LoadedPlugin, [UInt8])] = [
            ("C no-op (valid.c)", try PluginLoader.load(path: try await fixtures.build("valid")), Array("{}".utf8)),
            ("C + kv get/put, log, counter (stateful.c)", try PluginLoader.load(path: try await fixtures.build("stateful")), Array("{}".utf8)),
            ("webhook plugin → loopback receiver", try PluginLoader.load(path: try BuildProducts.plugin("CanoWebhook")),
             Array("{\"url\":\"\(receiver.url())\"}".utf8)),
        ]
        for (label, plugin, config) in cases {
            let local = try PluginDestination(name: "bench-in", plugin: plugin, config: config, services: TestServices().services)
            let isolated = try IsolatedPluginDestination(name: "bench-out", plugin: plugin, config: config, services: TestServices().services,
                                                         executable: executable)
            let count = label.hasPrefix("webhook") ? 500 : 2000
            let a = await measure(local, json, count: count)
            let b = await measure(isolated, json, count: count)
            print(String(format: "ISOLATION-BENCH %@: in_process median %.0f µs p99 %.0f µs; process median %.0f µs p99 %.0f µs; overhead median %.0f µs",
                         label, a.median, a.p99, b.median, b.p99, b.median - a.median))
            local.shutdown()
            isolated.shutdown()
        }
        await receiver.stop()
    }
}
