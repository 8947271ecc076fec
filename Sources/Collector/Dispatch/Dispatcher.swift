import CanoSDK
import Foundation
import Logging

/// Noise control between routing and the delivery queue, in Alertmanager's model
/// (docs/noise-control.md): Issues join notify groups (aggregation groups) per destination,
/// and a group is notified when it changes, at most every `group_interval`, after
/// `group_wait` for a new one; silenced, muted and not-yet-`min_duration` members are held
/// until they may be notified, and dropped unseen if they resolve first; `repeat_interval`
/// re-notifies what still fires; the storm guard folds bursts into summaries.
///
/// All of it is state in the store (`notify_groups`, `notify_members`), written in the same
/// transaction as the intake that acknowledged the Issue, so a restart or another replica
/// neither loses a held Issue nor notifies twice. Two halves:
/// - ``place(_:_:match:payload:now:context:enqueuer:)`` runs in the outbox's intake
///   transaction: an Issue is queued as a delivery at once, as before, unless its route
///   groups it or something may hold it back;
/// - a flush thread looks at due groups (``flushDue(now:)``) and queues their
///   notifications: a grouped Issue for destinations that render groups, else the members
///   themselves.
public final class Dispatcher: @unchecked Sendable {
    // @unchecked: the mutable wake-up state is guarded by `condition`; the rest is immutable.

    /// What the intake reads once per transaction.
    struct IntakeContext {
        var silences: [Silence]
        var hasSingles: Bool
    }

    /// What ``place(_:_:match:payload:now:context:enqueuer:)`` did with one Issue for one destination.
    enum Placed: Equatable {
        /// Queued, duplicate or overflow, as the enqueuer decided.
        case delivery(Enqueuer.Outcome)
        /// Kept in a notify group; the flush decides when it is notified. Why (grouped,
        /// silenced, storm, held) and the silence id are what the console's journal shows.
        case held(JournalRouting.Outcome, silence: String? = nil, notification: String)
    }

    private let database: any SQLDatabase
    private let routePolicies: [String: NotifyPolicy]
    private let timeIntervals: [String: TimeIntervalSet]
    private let deliveryPolicies: [String: DeliveryPolicy]
    let storm: StormGuard
    /// The destinations that render grouped Issues; the others get members one by one.
    private let groupDestinations: Set<String>
    private let metrics: Metrics
    private let logger: Logger
    private let onQueued: @Sendable () -> Void
    /// How often the flush thread looks at the store even when nothing woke it: groups
    /// due that another replica or the CLI (a silence expired) scheduled.
    private let pollMillis: Int64

    private let condition = NSCondition()
    private var woken = false
    private var stopping = false
    private var threadDone = false

    /// - Parameters:
    ///   - routePolicies: each route id's policy (``IssueRouter/policies``).
    ///   - groupDestinations: the destinations that render grouped Issues
    ///     (`DestinationFactory.acceptsGroups`).
    ///   - onQueued: called after a flush queued deliveries (the engine's `notify`).
    public init(
        database: any SQLDatabase, routePolicies: [String: NotifyPolicy], timeIntervals: [String: TimeIntervalSet],
        deliveryPolicies: [String: DeliveryPolicy], storms: [String: StormPolicy], metrics: Metrics, logger: Logger,
        groupDestinations: Set<String>, pollInterval: Duration = .seconds(2),
        onQueued: @escaping @Sendable () -> Void = {}
    ) {
        self.database = database
        self.routePolicies = routePolicies
        self.timeIntervals = timeIntervals
        self.deliveryPolicies = deliveryPolicies
        self.storm = StormGuard(policies: storms)
        self.groupDestinations = groupDestinations
        self.metrics = metrics
        self.logger = logger
        self.onQueued = onQueued
        self.pollMillis = StormGuard.millis(pollInterval)
        metrics.describe("cano_notifications_total", type: "counter", help: "Notifications queued by notify groups, by destination and kind (group, member, repeat).")
        metrics.describe("cano_issues_silenced_total", type: "counter", help: "Issues held back by a silence when they arrived or joined a group, by destination.")
        metrics.describe("cano_issues_suppressed_total", type: "counter", help: "Held Issues that resolved before they could be notified and were never sent, by destination and reason.")
        metrics.describe("cano_notifications_deferred_total", type: "counter",
                         help: "Group flushes put off because the group's previous notification was still queued (its changes go out together next), by destination.")
        metrics.describe("cano_storm_active", type: "gauge", help: "1 while the destination's storm guard folds new Issues into storm summaries.")
    }

    // MARK: - Intake (inside the outbox's transaction)

    /// Reads what every ``place(_:_:match:payload:now:context:enqueuer:)`` of one transaction needs.
    func beginIntake(_ c: any SQLConnection, now: Int64) throws -> IntakeContext {
        IntakeContext(silences: try SilenceStore.active(c, now: now), hasSingles: try NotifyStore.hasSingles(c))
    }

    /// Queues `issue` for `match.destination`, or keeps it in a notify group.
    func place(
        _ c: any SQLConnection, _ issue: Issue, match: IssueRouter.Match, payload: [UInt8], now: Int64,
        context: IntakeContext, enqueuer: inout Enqueuer
    ) throws -> Placed {
        let destination = match.destination
        let startsAt = unixMillis(issue.startsAt)
        let silence = context.silences.first { $0.matches(issue) }
        let silenced = silence != nil
        // A held Issue is "silenced" in the journal whenever a silence matches it now: the
        // flush leaves a silenced member out of its group's notification.
        func held(_ why: JournalRouting.Outcome, notification: String) -> Placed {
            silenced && issue.status == .firing ? .held(.silenced, silence: silence?.id, notification: notification) : .held(why, notification: notification)
        }
        if let grouping = Grouping.of(issue, match) {
            try join(c, grouping, issue, match: match, payload: payload, startsAt: startsAt, now: now)
            return held(.grouped, notification: Self.notificationFingerprint(grouping, issue))
        }
        let single = Grouping.single(issue, match)
        if context.hasSingles, try NotifyStore.group(c, destination: destination, key: single.key) != nil {
            // Held (or repeated) already: its later states go the same way, in order.
            try join(c, single, issue, match: match, payload: payload, startsAt: startsAt, now: now)
            return held(.held, notification: issue.fingerprint)
        }
        let delivery = NewDelivery(
            destination: destination, fingerprint: issue.fingerprint, status: issue.status.rawValue, startsAtMillis: startsAt,
            idempotencyKey: IdempotencyKey.make(destination: destination, fingerprint: issue.fingerprint, status: issue.status.rawValue, startsAtMillis: startsAt),
            payload: payload)
        let storms = storm.isGuarding(destination) && groupDestinations.contains(destination)
        var known: DeliveryStore.ExistingRow??
        if issue.status == .firing, silenced || match.notify.holds || storms {
            // Only a new firing occurrence may be held; a resend of one notified goes the
            // usual way (a duplicate).
            let existing = try DeliveryStore.existing(c, delivery)
            known = .some(existing)
            if existing == nil, storms, let epoch = storm.arrive(destination, now: now) {
                let summary = Grouping.storm(issue, match, epoch: epoch, updateInterval: stormUpdateInterval(destination))
                try join(c, summary, issue, match: match, payload: payload, startsAt: startsAt, now: now)
                return held(.storm, notification: Self.notificationFingerprint(summary, issue))
            }
            if existing == nil, silenced || match.notify.holds {
                if silenced { metrics.increment("cano_issues_silenced_total", ["destination": destination]) }
                try join(c, single, issue, match: match, payload: payload, startsAt: startsAt, now: now)
                return held(.held, notification: issue.fingerprint)
            }
        }
        return .delivery(try enqueuer.enqueue(c, delivery, now: now, known: known))
    }

    private func stormUpdateInterval(_ destination: String) -> Duration {
        storm.policy(destination)?.updateInterval ?? .seconds(30)
    }

    /// The fingerprint of the notification that carries `issue` out of `grouping`: its own
    /// when the group is the Issue alone, else the group's.
    static func notificationFingerprint(_ grouping: Grouping, _ issue: Issue) -> String {
        grouping.kind == .single ? issue.fingerprint : Grouping.fingerprint(destinationKey: grouping.key)
    }

    /// Adds or updates a member and schedules the group's next look when it changed.
    private func join(
        _ c: any SQLConnection, _ grouping: Grouping, _ issue: Issue, match: IssueRouter.Match, payload: [UInt8], startsAt: Int64, now: Int64
    ) throws(DatabaseError) {
        let destination = match.destination
        let group = try NotifyStore.group(c, destination: destination, key: grouping.key)
        let existing = try NotifyStore.member(c, destination: destination, key: grouping.key, fingerprint: issue.fingerprint)
        if existing == nil && issue.status == .resolved {
            // Resolved before this group ever heard of it firing: nothing to say.
            return
        }
        guard let group else {
            try NotifyStore.insert(c, NotifyStore.Group(
                destination: destination, key: grouping.key, route: match.routeID, kind: grouping.kind,
                fingerprint: Self.notificationFingerprint(grouping, issue),
                labels: grouping.labels, createdMillis: grouping.kind == .single ? startsAt : now,
                nextFlushMillis: now + StormGuard.millis(grouping.wait), lastFlushMillis: 0, lastNotifiedMillis: 0, notifications: 0, stormEnded: false))
            try NotifyStore.insertMember(c, destination: destination, key: grouping.key, issue: issue, startsAtMillis: startsAt, payload: payload, now: now)
            return
        }
        if let existing {
            let newOccurrence = existing.startsAtMillis != startsAt && issue.status == .firing
            try NotifyStore.updateMember(c, destination: destination, key: grouping.key, issue: issue, startsAtMillis: startsAt,
                                         payload: payload, newOccurrence: newOccurrence, now: now)
            guard existing.status != issue.status || newOccurrence else { return }  // a resend: nothing changed
        } else {
            try NotifyStore.insertMember(c, destination: destination, key: grouping.key, issue: issue, startsAtMillis: startsAt, payload: payload, now: now)
        }
        // Alertmanager's timing: a group not yet notified keeps its group_wait; after that,
        // changes gather until group_interval has passed since the last flush.
        let at = group.lastFlushMillis == 0 ? group.createdMillis + StormGuard.millis(grouping.wait)
                                            : max(now, group.lastFlushMillis + StormGuard.millis(grouping.interval))
        try NotifyStore.schedule(c, destination: destination, key: grouping.key, at: max(now, at))
    }

    // MARK: - Flush

    /// Looks at every group due at `now` (Unix ms) and queues their notifications; returns
    /// how many deliveries it queued. Called by the flush thread; tests call it with a
    /// fake clock.
    @discardableResult
    public func flushDue(now: Int64) throws -> Int {
        var total = 0
        while true {
            var enqueuer = Enqueuer(policies: deliveryPolicies)
            var counts: [String: Int] = [:]
            var looked = 0
            let engine = database.engine
            try database.write("notify due groups") { c in
                enqueuer = Enqueuer(policies: deliveryPolicies)
                counts = [:]
                try DeliveryStore.lockIntake(c, engine: engine)
                let silences = try SilenceStore.active(c, now: now)
                let due = try NotifyStore.due(c, now: now, limit: 100)
                looked = due.count
                for group in due {
                    try flush(c, group, silences: silences, now: now, enqueuer: &enqueuer, counts: &counts)
                }
                if enqueuer.queuedAny { try DeliveryStore.announceNewWork(c, engine: engine) }
            }
            enqueuer.publish(metrics: metrics, logger: logger)
            for (key, n) in counts {
                let parts = key.split(separator: "\u{0}", maxSplits: 1).map(String.init)
                metrics.increment("cano_notifications_total", ["destination": parts[0], "kind": parts.count > 1 ? parts[1] : ""], by: Double(n))
            }
            let queued = enqueuer.queuedBy.values.reduce(0, +)
            total += queued
            if enqueuer.queuedAny { onQueued() }
            if looked < 100 { break }
        }
        let storming = storm.active(now: now)
        for destination in deliveryPolicies.keys {
            metrics.set("cano_storm_active", ["destination": destination], to: storming.contains(destination) ? 1 : 0)
        }
        return total
    }

    /// How soon a group whose previous notification is still queued is looked at again (ms).
    static let deferMillis: Int64 = 1000

    /// One group's look: who may be notified, whether to notify, and when to look again.
    private func flush(
        _ c: any SQLConnection, _ g: NotifyStore.Group, silences: [Silence], now: Int64,
        enqueuer: inout Enqueuer, counts: inout [String: Int]
    ) throws {
        let accepts = groupDestinations.contains(g.destination)
        if accepts, g.kind.issueKind != nil, try DeliveryStore.hasPending(c, destination: g.destination, fingerprint: g.fingerprint) {
            // The group's previous notification is still queued (the destination is paced,
            // slow or down): its changes gather into one next notification, queued once
            // that one is settled, instead of one update per flush piling up behind it.
            // Nothing is marked notified, so the next look computes the whole difference.
            metrics.increment("cano_notifications_deferred_total", ["destination": g.destination])
            try NotifyStore.postpone(c, g, to: now + Self.deferMillis)
            return
        }
        let policy = routePolicies[g.route] ?? NotifyPolicy()
        var wake: Int64?
        func wakeAt(_ at: Int64) { wake = min(wake ?? at, at) }

        var listed: [(member: NotifyStore.Member, issue: Issue)] = []
        var heldFiring = 0
        for m in try NotifyStore.members(c, destination: g.destination, key: g.key) {
            guard let issue = try? IssueCoding.decode(Issue.self, from: m.payload) else {
                logger.error("dropping a notify group member whose stored Issue cannot be read", metadata: ["fingerprint": .string(m.fingerprint), "destination": .string(g.destination)])
                try NotifyStore.deleteMember(c, destination: g.destination, key: g.key, fingerprint: m.fingerprint)
                continue
            }
            if m.status == .firing {
                if m.notified != .firing {
                    if let silence = silences.first(where: { $0.matches(issue) }) {
                        if m.seenMillis > g.lastFlushMillis, g.kind != .single { metrics.increment("cano_issues_silenced_total", ["destination": g.destination]) }
                        wakeAt(unixMillis(silence.endsAt))
                        heldFiring += 1
                        continue
                    }
                    let ripe = m.startsAtMillis + StormGuard.millis(policy.minDuration)
                    if policy.minDuration > .zero, now < ripe {
                        wakeAt(ripe)
                        heldFiring += 1
                        continue
                    }
                }
                listed.append((m, issue))
            } else if m.notified == nil {
                // Resolved before it was ever notified (a flap under min_duration, or the
                // silence outlived it): nothing is sent, as promised.
                metrics.increment("cano_issues_suppressed_total", ["destination": g.destination, "reason": "resolved_before_notified"])
                try NotifyStore.deleteMember(c, destination: g.destination, key: g.key, fingerprint: m.fingerprint)
            } else {
                listed.append((m, issue))
            }
        }

        if let changeAt = mutedUntil(policy, now: now) {
            // Muted (or outside the active intervals): hold everything until it lifts.
            wakeAt(changeAt)
            try NotifyStore.recordFlush(c, g, now: now, notified: false, stormEnded: g.stormEnded, next: wake)
            return
        }

        let joined = listed.filter { $0.member.status == .firing && $0.member.notified != .firing }.map(\.member.fingerprint)
        let resolvedSince = listed.filter { $0.member.status == .resolved && $0.member.notified == .firing }.map(\.member.fingerprint)
        let firingNotified = listed.filter { $0.member.status == .firing && $0.member.notified == .firing }
        let stormEpoch = g.kind == .storm ? Self.stormEpoch(g.key) : nil
        let stormClosing = g.kind == .storm && !g.stormEnded && storm.current(g.destination, now: now) != stormEpoch
        let repeatDue = policy.repeatInterval.map { joined.isEmpty && resolvedSince.isEmpty && !firingNotified.isEmpty
            && g.lastNotifiedMillis > 0 && now >= g.lastNotifiedMillis + StormGuard.millis($0) } ?? false
        let notify = !listed.isEmpty && (!joined.isEmpty || !resolvedSince.isEmpty || stormClosing || repeatDue)

        if notify {
            if accepts, let kind = g.kind.issueKind {
                let issue = GroupNotification.build(
                    key: g.key, kind: kind, labels: g.labels, fingerprint: g.fingerprint,
                    startsAt: Date(timeIntervalSince1970: Double(g.createdMillis) / 1000),
                    members: listed.map { GroupNotification.Member(issue: $0.issue, seenMillis: $0.member.seenMillis) },
                    joined: joined, resolvedSince: resolvedSince, isRepeat: repeatDue,
                    stormEnded: g.kind == .storm ? (g.stormEnded || stormClosing) : nil,
                    now: Date(timeIntervalSince1970: Double(now) / 1000))
                let payload = try IssueCoding.encode(issue)
                let key = IdempotencyKey.make(destination: g.destination, fingerprint: g.fingerprint, status: issue.status.rawValue,
                                              startsAtMillis: g.createdMillis) + "#\(g.notifications + 1)"
                let d = NewDelivery(destination: g.destination, fingerprint: g.fingerprint, status: issue.status.rawValue,
                                    startsAtMillis: g.createdMillis, idempotencyKey: key, payload: payload)
                if try enqueuer.enqueue(c, d, now: now, dedup: false) == .queued { counts[g.destination + "\u{0}group", default: 0] += 1 }
            } else {
                // The destination renders single Issues (or the group is one Issue): notify
                // the members that changed, or repeat the ones still firing.
                let byFingerprint = Dictionary(listed.map { ($0.member.fingerprint, $0) }, uniquingKeysWith: { a, _ in a })
                for fingerprint in joined + resolvedSince {
                    guard let entry = byFingerprint[fingerprint] else { continue }
                    let d = Self.memberDelivery(entry.issue, payload: entry.member.payload, destination: g.destination, suffix: "")
                    if try enqueuer.enqueue(c, d, now: now) == .queued { counts[g.destination + "\u{0}member", default: 0] += 1 }
                }
                if repeatDue {
                    for entry in firingNotified {
                        let d = Self.memberDelivery(entry.issue, payload: entry.member.payload, destination: g.destination,
                                                    suffix: "#repeat-\(g.notifications + 1)")
                        if try enqueuer.enqueue(c, d, now: now, dedup: false) == .queued { counts[g.destination + "\u{0}repeat", default: 0] += 1 }
                    }
                }
            }
            for entry in listed where entry.member.notified != entry.member.status {
                try NotifyStore.markNotified(c, destination: g.destination, key: g.key, fingerprint: entry.member.fingerprint, status: entry.member.status)
            }
        }

        let anyFiring = listed.contains { $0.member.status == .firing }
        if !anyFiring && heldFiring == 0 && (notify || listed.isEmpty) {
            // Every member resolved and said so (or none is left): the group ends. A member
            // firing again later opens a new group, and so a new message.
            try NotifyStore.delete(c, destination: g.destination, key: g.key)
            return
        }
        if let repeatInterval = policy.repeatInterval, anyFiring {
            wakeAt((notify ? now : g.lastNotifiedMillis) + StormGuard.millis(repeatInterval))
        }
        if g.kind == .storm && !(g.stormEnded || stormClosing) {
            // Keep looking while the storm lasts, to post the closing summary when it ends.
            wakeAt(now + StormGuard.millis(stormUpdateInterval(g.destination)))
        }
        try NotifyStore.recordFlush(c, g, now: now, notified: notify, stormEnded: g.stormEnded || stormClosing, next: wake)
    }

    /// A member notified as an Issue of its own. `suffix` makes a repeat a new delivery.
    private static func memberDelivery(_ issue: Issue, payload: [UInt8], destination: String, suffix: String) -> NewDelivery {
        let startsAt = unixMillis(issue.startsAt)
        return NewDelivery(
            destination: destination, fingerprint: issue.fingerprint, status: issue.status.rawValue, startsAtMillis: startsAt,
            idempotencyKey: IdempotencyKey.make(destination: destination, fingerprint: issue.fingerprint, status: issue.status.rawValue,
                                                startsAtMillis: startsAt) + suffix,
            payload: payload)
    }

    /// When a muted route (a mute interval holds, or no active interval does) may notify
    /// again; nil when it may now. A window that does not change within the search limit
    /// is looked at again in an hour.
    func mutedUntil(_ policy: NotifyPolicy, now: Int64) -> Int64? {
        let date = Date(timeIntervalSince1970: Double(now) / 1000)
        let mutes = policy.muteTimeIntervals.compactMap { timeIntervals[$0] }
        let actives = policy.activeTimeIntervals.compactMap { timeIntervals[$0] }
        let muted = mutes.contains { $0.contains(date) } || (!actives.isEmpty && !actives.contains { $0.contains(date) })
        guard muted else { return nil }
        let changes = (mutes + actives).compactMap { $0.nextChange(after: date) }
        guard let next = changes.min() else { return now + 3_600_000 }
        return max(now + 1, unixMillis(next))
    }

    /// The storm's start, from a storm group's key (`<route>|storm|<epoch>|<reason>`).
    static func stormEpoch(_ key: String) -> Int64? {
        guard let range = key.range(of: "|storm|") else { return nil }
        return Int64(key[range.upperBound...].prefix { $0 != "|" })
    }

    // MARK: - The flush thread

    /// Starts the flush thread.
    public func start() {
        BlockingThread.start(name: "cano-dispatch") { [self] in loop() }
    }

    /// Wakes the flush thread (a group was created or changed).
    public func wake() {
        condition.withLock {
            woken = true
            condition.signal()
        }
    }

    /// Stops the flush thread and returns once it ended (after its current flush).
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !threadDone { condition.wait() }
        condition.unlock()
    }

    private func loop() {
        var failures = 0
        while true {
            let now = unixMillis()
            var next = now + pollMillis
            do {
                try flushDue(now: now)
                if let due = try database.read("read next notify time", { c in try NotifyStore.nextDue(c) }) { next = min(next, due) }
                failures = 0
            } catch {
                failures += 1
                // The store is down or locked: the held Issues stay stored; try again.
                if failures == 1 || failures % 30 == 0 {
                    logger.error("could not notify due groups; held Issues stay stored and are retried", metadata: ["error": .string("\(error)")])
                }
            }
            condition.lock()
            while !woken && !stopping {
                let wait = next - unixMillis()
                if wait <= 0 { break }
                _ = condition.wait(until: Date().addingTimeInterval(Double(wait) / 1000))
            }
            woken = false
            if stopping {
                threadDone = true
                condition.broadcast()
                condition.unlock()
                return
            }
            condition.unlock()
        }
    }
}
