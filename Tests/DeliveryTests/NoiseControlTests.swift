import CanoSDK
import Collector
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

/// Noise control in the store (Sources/Collector/Dispatch): what the intake holds, and what
/// each flush queues, driven with an explicit clock (`flushDue(now:)`), no engine: the
/// assertions read the queued deliveries themselves.
@Suite(.serialized) struct NoiseControlTests {
    @Test func anAlertmanagerGroupOf60IsOneNotificationUpdatedAsMembersResolve() async throws {
        let bench = try NoiseBench(accepts: ["chat": true])
        let t = bench.now
        let alerts = (0..<60).map { amAlert("a\($0)", groupKey: "{}:{alertname=\"KubePodCrashLooping\"}") }
        let receipt = try await bench.outbox.submit(alerts)
        #expect(receipt.held == 60 && receipt.queued == 0)
        try bench.flushDue(now: t + 1000)
        var sent = try bench.deliveries()
        try #require(sent.count == 1)
        let first = try #require(sent.first?.issue)
        #expect(first.type == .group && first.status == .firing)
        #expect(first.group?.members.count == 60 && first.group?.firing == 60 && first.group?.joined.count == 60)
        #expect(first.group?.kind == .alertmanager)
        #expect(first.title == "60 pods KubePodCrashLooping in payments")
        #expect(first.enrichments.first?.type == "group_members")

        // Alertmanager's next notification of the group: 10 resolved, the rest still firing.
        let update = (0..<60).map { amAlert("a\($0)", groupKey: "{}:{alertname=\"KubePodCrashLooping\"}", status: $0 < 10 ? .resolved : .firing) }
        _ = try await bench.outbox.submit(update)
        try bench.flushDue(now: t + 2000)
        sent = try bench.deliveries()
        try #require(sent.count == 2)
        let second = sent[1].issue
        #expect(sent[1].fingerprint == sent[0].fingerprint, "an update of the same message")
        #expect(second.startsAt == first.startsAt, "the same occurrence, so the destination gets the first reference")
        #expect(second.group?.resolvedSince.count == 10 && second.group?.firing == 50 && second.group?.resolved == 10)
        #expect(sent[1].idempotencyKey != sent[0].idempotencyKey)

        // A resend with nothing changed notifies nothing.
        _ = try await bench.outbox.submit(update)
        try bench.flushDue(now: t + 3000)
        #expect(try bench.deliveries().count == 2)

        // All resolved: the group resolves, and ends.
        _ = try await bench.outbox.submit((0..<60).map { amAlert("a\($0)", groupKey: "{}:{alertname=\"KubePodCrashLooping\"}", status: .resolved) })
        try bench.flushDue(now: t + 4000)
        sent = try bench.deliveries()
        try #require(sent.count == 3)
        #expect(sent[2].issue.status == .resolved && sent[2].issue.group?.resolved == 60)
        #expect(sent[2].issue.title.hasPrefix("Resolved: "))
        #expect(try bench.groupCount() == 0)
        await bench.close()
    }

    /// A destination that is slow, paced or down: the group's later changes do not pile up
    /// as one queued update per flush; they go out together once the previous one settled.
    @Test func aGroupsChangesGatherWhileItsPreviousNotificationIsQueued() async throws {
        let bench = try NoiseBench(accepts: ["chat": true])
        let t = bench.now
        let key = "{}:{alertname=\"KubePodCrashLooping\"}"
        _ = try await bench.outbox.submit([amAlert("a0", groupKey: key)])
        try bench.flushDue(now: t + 1000)
        for i in 1...5 {
            _ = try await bench.outbox.submit((0...i).map { amAlert("a\($0)", groupKey: key) })
            try bench.flushDue(now: t + 1000 + Int64(i) * 1000, settle: false)
        }
        #expect(try bench.deliveries().count == 1, "the first notification is still queued: nothing more is")
        #expect(bench.metrics.counter("cano_notifications_deferred_total", ["destination": "chat"]) == 5)
        try bench.settle()
        try bench.flushDue(now: t + 7000)
        let sent = try bench.deliveries()
        try #require(sent.count == 2)
        #expect(sent[1].issue.group?.joined.sorted() == ["a1", "a2", "a3", "a4", "a5"], "every change since the first, in one update")
        #expect(sent[1].issue.group?.members.count == 6)
        await bench.close()
    }

    @Test func aDestinationWithoutGroupSupportGetsEachMember() async throws {
        let bench = try NoiseBench(accepts: ["chat": false])
        let t = bench.now
        _ = try await bench.outbox.submit((0..<5).map { amAlert("a\($0)", groupKey: "g") })
        try bench.flushDue(now: t + 1000)
        var sent = try bench.deliveries()
        #expect(sent.map(\.fingerprint).sorted() == ["a0", "a1", "a2", "a3", "a4"])
        #expect(sent.allSatisfy { $0.issue.type == .alert })
        _ = try await bench.outbox.submit([amAlert("a1", groupKey: "g", status: .resolved)] + (0..<5).filter { $0 != 1 }.map { amAlert("a\($0)", groupKey: "g") })
        try bench.flushDue(now: t + 2000)
        sent = try bench.deliveries()
        try #require(sent.count == 6)
        #expect(sent[5].fingerprint == "a1" && sent[5].issue.status == .resolved)
        await bench.close()
    }

    @Test func groupByWaitsGroupWaitThenGathersChangesPerGroupInterval() async throws {
        var policy = NotifyPolicy()
        policy.grouping = .by(["namespace", "reason"])
        policy.groupWait = .seconds(30)
        policy.groupInterval = .seconds(300)
        let bench = try NoiseBench(accepts: ["chat": true], notify: policy)
        let t = bench.now
        _ = try await bench.outbox.submit((0..<12).map { pod("p\($0)", ns: "payments") } + [pod("q0", ns: "shop")])
        try bench.flushDue(now: t + 29_000)
        #expect(try bench.deliveries().isEmpty, "group_wait has not passed")
        try bench.flushDue(now: t + 31_000)
        var sent = try bench.deliveries()
        try #require(sent.count == 2)
        let payments = try #require(sent.first { $0.issue.subject.namespace == "payments" }?.issue)
        #expect(payments.title == "12 pods CrashLoopBackOff in payments")
        #expect(payments.group?.labels == ["namespace": "payments", "reason": "CrashLoopBackOff"])
        #expect(payments.group?.members.allSatisfy { $0.subject.kind == "Pod" } == true)

        // A new member: gathered until group_interval after the last flush.
        _ = try await bench.outbox.submit([pod("p12", ns: "payments")])
        try bench.flushDue(now: t + 60_000)
        #expect(try bench.deliveries().count == 2)
        try bench.flushDue(now: t + 332_000)
        sent = try bench.deliveries()
        try #require(sent.count == 3)
        #expect(sent[2].issue.group?.joined == ["p12"] && sent[2].issue.group?.members.count == 13)
        await bench.close()
    }

    @Test func anEmptyGroupByKeepsOneNotificationPerAlert() async throws {
        var policy = NotifyPolicy()
        policy.grouping = .by([])
        let bench = try NoiseBench(accepts: ["chat": true], notify: policy)
        let receipt = try await bench.outbox.submit((0..<3).map { amAlert("a\($0)", groupKey: "g") })
        #expect(receipt.queued == 3 && receipt.held == 0)
        #expect(try bench.deliveries().map(\.issue.type) == [.alert, .alert, .alert])
        await bench.close()
    }

    @Test func minDurationHidesAFlapAndNotifiesWhatStaysFiring() async throws {
        var policy = NotifyPolicy()
        policy.minDuration = .seconds(60)
        let bench = try NoiseBench(accepts: ["chat": true], notify: policy)
        let t = bench.now
        let start = Date(timeIntervalSince1970: Double(t) / 1000)
        // The flapping pod: firing, then healthy again 20 s later.
        _ = try await bench.outbox.submit([pod("flap", ns: "a", startsAt: start), pod("stays", ns: "a", startsAt: start)])
        try bench.flushDue(now: t + 1000)
        #expect(try bench.deliveries().isEmpty)
        _ = try await bench.outbox.submit([pod("flap", ns: "a", status: .resolved, startsAt: start)])
        try bench.flushDue(now: t + 20_000)
        try bench.flushDue(now: t + 61_000)
        let sent = try bench.deliveries()
        #expect(sent.map(\.fingerprint) == ["stays"], "the flap is never notified; the other is, once 60 s old")
        #expect(bench.metrics.counter("cano_issues_suppressed_total", ["destination": "chat", "reason": "resolved_before_notified"]) == 1)
        // Its resolve goes out normally, and the hold ends.
        _ = try await bench.outbox.submit([pod("stays", ns: "a", status: .resolved, startsAt: start)])
        try bench.flushDue(now: t + 62_000)
        #expect(try bench.deliveries().map(\.issue.status) == [.firing, .resolved])
        #expect(try bench.groupCount() == 0)
        await bench.close()
    }

    @Test func repeatIntervalRenotifiesWhatStillFiresAsANewDeliveryOfTheSameOccurrence() async throws {
        var policy = NotifyPolicy()
        policy.repeatInterval = .seconds(3600)
        let bench = try NoiseBench(accepts: ["chat": true], notify: policy)
        let t = bench.now
        _ = try await bench.outbox.submit([pod("p", ns: "a")])
        try bench.flushDue(now: t + 1000)
        try bench.flushDue(now: t + 1_800_000)
        #expect(try bench.deliveries().count == 1)
        try bench.flushDue(now: t + 3_602_000)
        let sent = try bench.deliveries()
        try #require(sent.count == 2)
        #expect(sent[1].fingerprint == "p" && sent[1].issue.status == .firing && sent[1].startsAt == sent[0].startsAt,
                "the same occurrence: the destination threads it under the first message")
        #expect(sent[1].idempotencyKey.hasSuffix("#repeat-2"))
        _ = try await bench.outbox.submit([pod("p", ns: "a", status: .resolved)])
        try bench.flushDue(now: t + 3_603_000)
        #expect(try bench.deliveries().count == 3)
        try bench.flushDue(now: t + 10_000_000)
        #expect(try bench.deliveries().count == 3, "a resolved CanoSDK.Issue is not repeated")
        await bench.close()
    }

    @Test func theStormGuardFoldsABurstIntoOneSummaryAndClosesIt() async throws {
        var storm = StormPolicy(threshold: 5)
        storm.window = .seconds(60)
        storm.updateInterval = .seconds(30)
        let bench = try NoiseBench(accepts: ["chat": true], storms: ["chat": storm])
        let t = bench.now
        let receipt = try await bench.outbox.submit((0..<50).map { pod("p\($0)", ns: "n\($0 % 7)") })
        #expect(receipt.queued == 5 && receipt.held == 45)
        try bench.flushDue(now: t + 1000)
        var sent = try bench.deliveries()
        try #require(sent.count == 6)
        let summary = sent[5].issue
        #expect(summary.group?.kind == .storm && summary.group?.members.count == 45 && summary.group?.stormEnded == false)
        #expect(summary.title == "Storm: 45 pods CrashLoopBackOff")
        // More arrive during the storm: folded into the same summary at its next update.
        _ = try await bench.outbox.submit((50..<60).map { pod("p\($0)", ns: "x") })
        try bench.flushDue(now: t + 31_500)
        sent = try bench.deliveries()
        try #require(sent.count == 7)
        #expect(sent[6].fingerprint == sent[5].fingerprint && sent[6].issue.group?.members.count == 55)
        // A quiet window: the closing summary, with every member still listed.
        try bench.flushDue(now: t + 125_000)
        sent = try bench.deliveries()
        try #require(sent.count == 8)
        #expect(sent[7].issue.group?.stormEnded == true && sent[7].issue.group?.members.count == 55)
        #expect(sent[7].issue.title.hasPrefix("Storm over: "))
        // After the storm, new Issues are posted alone again.
        let after = try await bench.outbox.submit([pod("late", ns: "x")])
        #expect(after.queued == 1)
        await bench.close()
    }

    /// Mute windows with a fake clock: an Issue arriving while muted is held until the
    /// window ends (`nextChange`), then notified if still firing; outside an active window
    /// the same.
    @Test func muteTimeIntervalsHoldUntilTheWindowEnds() async throws {
        let t = unixMillisNow()
        let date = Date(timeIntervalSince1970: Double(t) / 1000)
        // A window of the current UTC hour: muted now, lifting at the next full hour.
        let hour = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date).hour!
        let config = try ConfigLoader.parse("""
            destinations: [{name: chat, type: file, config: {path: "-"}}]
            default_destinations: [chat]
            time_intervals:
              - name: this-hour
                time_intervals: [{times: [{start_time: "\(String(format: "%02d", hour)):00", end_time: "\(String(format: "%02d", hour + 1)):00"}]}]
            default_notify: {mute_time_intervals: [this-hour]}
            """)
        let bench = try NoiseBench(accepts: ["chat": true], notify: config.defaultNotify, timeIntervals: config.timeIntervals, start: t)
        let receipt = try await bench.outbox.submit([pod("p", ns: "a"), pod("q", ns: "a")])
        #expect(receipt.held == 2)
        try bench.flushDue(now: t + 1000)
        #expect(try bench.deliveries().isEmpty, "muted")
        // One resolves while muted (never sent); the other is sent when the window ends.
        _ = try await bench.outbox.submit([pod("q", ns: "a", status: .resolved)])
        let end = (t / 3_600_000 + 1) * 3_600_000
        try bench.flushDue(now: end - 1000)
        #expect(try bench.deliveries().isEmpty, "still muted")
        try bench.flushDue(now: end + 1000)
        #expect(try bench.deliveries().map { $0.fingerprint } == ["p"])
        await bench.close()
    }

    @Test func aGroupSurvivesARestartOfTheCollector() async throws {
        var policy = NotifyPolicy()
        policy.grouping = .by(["namespace"])
        policy.groupWait = .seconds(30)
        let directory = try makeTemporaryDirectory()
        let t = unixMillisNow()
        do {
            let bench = try NoiseBench(directory: directory, accepts: ["chat": true], notify: policy, start: t)
            _ = try await bench.outbox.submit([pod("p0", ns: "a"), pod("p1", ns: "a")])
            await bench.close(keepFiles: true)
        }
        let bench = try NoiseBench(directory: directory, accepts: ["chat": true], notify: policy, start: t)
        try bench.flushDue(now: t + 31_000)
        let sent = try bench.deliveries()
        try #require(sent.count == 1)
        #expect(sent[0].issue.group?.members.count == 2)
        await bench.close()
    }
}

// MARK: - Support

func unixMillisNow() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

final class FakeClock: Sendable {
    let now: Atomic<Int64>
    init(_ start: Int64) { now = Atomic(start) }
}

/// A pod crash-looping, as the Kubernetes pod detector reports it.
func pod(_ name: String, ns: String, status: IssueStatus = .firing, reason: String = "CrashLoopBackOff",
         startsAt: Date = Date(timeIntervalSince1970: 1_790_000_000)) -> CanoSDK.Issue {
    CanoSDK.Issue(type: .event, source: .kubernetes, severity: .high, status: status, title: "Pod \(ns)/\(name) \(reason)",
          aggregationKey: reason, fingerprint: name, subject: Subject(kind: "Pod", name: name, namespace: ns),
          startsAt: startsAt, endsAt: status == .resolved ? startsAt.addingTimeInterval(20) : nil)
}

/// An alert of an Alertmanager group notification.
func amAlert(_ fingerprint: String, groupKey: String, status: IssueStatus = .firing) -> CanoSDK.Issue {
    var issue = CanoSDK.Issue(type: .alert, source: .prometheus, severity: .high, status: status, title: "KubePodCrashLooping",
                      aggregationKey: "KubePodCrashLooping", fingerprint: fingerprint,
                      subject: Subject(kind: "Pod", name: "pod-" + fingerprint, namespace: "payments",
                                       labels: ["alertname": "KubePodCrashLooping", "namespace": "payments"]),
                      startsAt: Date(timeIntervalSince1970: 1_790_000_000),
                      endsAt: status == .resolved ? Date(timeIntervalSince1970: 1_790_000_600) : nil)
    issue.groupKey = groupKey
    issue.groupLabels = ["alertname": "KubePodCrashLooping"]
    return issue
}

/// A database, an outbox and a dispatcher routing everything to one destination, "chat".
final class NoiseBench: @unchecked Sendable {
    struct Sent {
        var fingerprint: String
        var startsAt: Int64
        var idempotencyKey: String
        var issue: CanoSDK.Issue
    }

    let directory: String
    let database: any SQLDatabase
    let outbox: Outbox
    let dispatcher: Dispatcher
    let metrics = Metrics()

    /// The fake clock (Unix ms) the outbox stamps intake with; ``flushDue(now:)`` moves it,
    /// so an Issue submitted after a flush arrives at that flush's time, whatever the
    /// machine's speed.
    private let clock: FakeClock
    var now: Int64 { clock.now.load(ordering: .relaxed) }

    /// `database`: a shared store (PostgreSQL) instead of a SQLite file in `directory`;
    /// `start`: the fake clock's first reading (default: the system clock's).
    init(directory: String? = nil, database: (any SQLDatabase)? = nil, accepts: [String: Bool], notify: NotifyPolicy = NotifyPolicy(),
         storms: [String: StormPolicy] = [:], timeIntervals: [String: TimeIntervalSet] = [:], start: Int64? = nil) throws {
        let clock = FakeClock(start ?? unixMillisNow())
        self.clock = clock
        self.directory = try directory ?? makeTemporaryDirectory()
        self.database = try database ?? CollectorSchema.open(path: CollectorSchema.path(inDataDirectory: self.directory))
        let logger = Logger(label: "noise-test")
        let router = IssueRouter(routes: [], defaultDestinations: ["chat"], defaultNotify: notify)
        var policy = DeliveryPolicy()
        policy.queueLimit = 100_000
        dispatcher = Dispatcher(database: self.database, routePolicies: router.policies, timeIntervals: timeIntervals,
                                deliveryPolicies: ["chat": policy], storms: storms, metrics: metrics, logger: logger,
                                groupDestinations: Set(accepts.filter(\.value).keys))
        outbox = Outbox(database: self.database, router: router, policies: ["chat": policy], metrics: metrics, logger: logger, dispatcher: dispatcher,
                        clock: { clock.now.load(ordering: .relaxed) })
    }

    /// Sets the fake clock to `now` and flushes what is due then. With `settle`, the
    /// deliveries queued so far are first marked delivered, as an engine keeping up would
    /// have (a group's next notification waits while its previous one is queued).
    @discardableResult
    func flushDue(now: Int64, settle: Bool = true) throws -> Int {
        clock.now.store(now, ordering: .relaxed)
        if settle { try self.settle() }
        return try dispatcher.flushDue(now: now)
    }

    /// Marks every pending delivery delivered, keeping its payload for ``deliveries()``.
    func settle() throws {
        try database.write("test: settle deliveries") { c in
            try c.run("UPDATE deliveries SET state = 'delivered' WHERE state = 'pending'", operation: "test")
        }
    }

    /// Every delivery queued so far, in queue order.
    func deliveries() throws -> [Sent] {
        try database.read("test: read deliveries") { c in
            var rows: [Sent] = []
            try c.query("SELECT fingerprint, starts_at_ms, idempotency_key, payload FROM deliveries ORDER BY id", operation: "test") { row in
                let issue = try? IssueCoding.decode(CanoSDK.Issue.self, from: row.blob(3) ?? [])
                rows.append(Sent(fingerprint: row.text(0) ?? "", startsAt: row.int(1), idempotencyKey: row.text(2) ?? "",
                                 issue: issue ?? CanoSDK.Issue(type: .alert, source: .prometheus, severity: .info, status: .firing, title: "?", aggregationKey: "?", fingerprint: "?", startsAt: Date())))
            }
            return rows
        }
    }

    func groupCount() throws -> Int {
        try database.read("test: count groups") { c in try c.count("SELECT count(*) FROM notify_groups", operation: "test") }
    }

    func close(keepFiles: Bool = false, keepDatabase: Bool = false) async {
        await outbox.close()
        if !keepDatabase { database.close() }
        if !keepFiles { try? FileManager.default.removeItem(atPath: directory) }
    }
}
