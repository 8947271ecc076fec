import CanoSDK
import Crypto
import Foundation

/// The workload a problem belongs to: a Deployment for its ReplicaSets' pods, the
/// StatefulSet, DaemonSet or Job itself, else the bare Pod.
struct Workload: Hashable, Sendable {
    var kind: String
    var name: String
}

/// "The same problem": one Issue per (workload, reason).
struct FindingKey: Hashable, Sendable {
    var namespace: String
    var workload: Workload
    var reason: String

    /// A fingerprint that depends only on what the problem is, so it is the same across
    /// collector restarts and replicas (SHA-256 of the key, hex).
    func fingerprint(source: IssueSource, cluster: String?) -> String {
        let text = [source.rawValue, cluster ?? "", namespace, workload.kind, workload.name, reason].joined(separator: "\u{1F}")
        return Hex.lowercase(SHA256.hash(data: Array(text.utf8)))
    }
}

/// Tracks which problems are open, and which one-off problems were reported recently, so
/// relists and repeated updates never notify twice. Not thread-safe: each detector owns one
/// and guards it with its own lock.
struct FindingTracker {
    struct Open {
        /// The objects (pods, releases...) currently showing the problem.
        var members: Set<String>
        /// False when the problem predates the start: it resolves silently too.
        var reported: Bool
        /// The firing Issue, kept to emit its resolved twin.
        var issue: Issue?
    }

    private(set) var open: [FindingKey: Open] = [:]
    private var lastOneShot: [FindingKey: Date] = [:]
    let renotifyInterval: TimeInterval
    /// Bumped when a problem opens or closes or a one-off is reported: what a successor
    /// leader must know. Membership changes and pruning do not count (see ``StoredTracker``).
    private(set) var changes = 0

    init(renotifyInterval: TimeInterval) { self.renotifyInterval = renotifyInterval }

    /// A tracker continuing what a previous leader persisted. One-offs older than the
    /// renotify interval are dropped.
    init(renotifyInterval: TimeInterval, restoring stored: StoredTracker?, now: Date) {
        self.renotifyInterval = renotifyInterval
        for p in stored?.problems ?? [] where !p.members.isEmpty {
            open[p.key] = Open(members: Set(p.members), reported: p.reported, issue: p.reported ? p.issue : nil)
        }
        for o in stored?.oneShots ?? [] where now.timeIntervalSince(o.at) < renotifyInterval {
            lastOneShot[o.key] = max(lastOneShot[o.key] ?? o.at, o.at)
        }
    }

    /// What to persist, in a stable order (equal states give equal bytes).
    func snapshot() -> StoredTracker {
        let problems = open.map { key, o in
            StoredTracker.Problem(
                namespace: key.namespace, kind: key.workload.kind, name: key.workload.name, reason: key.reason,
                members: o.members.sorted(), reported: o.reported, issue: o.issue)
        }
        let oneShots = lastOneShot.map { key, at in
            StoredTracker.OneShot(namespace: key.namespace, kind: key.workload.kind, name: key.workload.name, reason: key.reason, at: at)
        }
        func order(_ k: FindingKey) -> [String] { [k.namespace, k.workload.kind, k.workload.name, k.reason] }
        return StoredTracker(
            problems: problems.sorted { order($0.key).lexicographicallyPrecedes(order($1.key)) },
            oneShots: oneShots.sorted { order($0.key).lexicographicallyPrecedes(order($1.key)) })
    }

    /// `member` shows the problem. Returns the firing Issue when this opens a reportable
    /// problem; nil when it was already open (another pod of the workload) or not news.
    mutating func join(_ key: FindingKey, member: String, reportable: Bool, make: () -> Issue) -> Issue? {
        if var existing = open[key] {
            existing.members.insert(member)
            open[key] = existing
            return nil
        }
        let issue = reportable ? make() : nil
        open[key] = Open(members: [member], reported: reportable, issue: issue)
        changes += 1
        return issue
    }

    /// Whether `member` is among the problem's members.
    func contains(_ key: FindingKey, member: String) -> Bool { open[key]?.members.contains(member) ?? false }

    /// `member` no longer shows the problem. Returns the resolved Issue when that was the
    /// last member of a reported problem.
    mutating func leave(_ key: FindingKey, member: String, now: Date) -> Issue? {
        guard var existing = open[key], existing.members.remove(member) != nil else { return nil }
        if !existing.members.isEmpty {
            open[key] = existing
            return nil
        }
        open[key] = nil
        changes += 1
        guard existing.reported, var issue = existing.issue else { return nil }
        issue.id = UUID().uuidString.lowercased()
        issue.status = .resolved
        issue.createdAt = now
        issue.endsAt = now
        return issue
    }

    /// A one-off problem happened: true when it should be reported (not reported for the
    /// same key within the renotify interval).
    mutating func oneShot(_ key: FindingKey, now: Date) -> Bool {
        if let last = lastOneShot[key], now.timeIntervalSince(last) < renotifyInterval { return false }
        lastOneShot[key] = now
        changes += 1
        return true
    }

    /// Forgets one-off keys whose renotify interval has passed (keeps memory flat).
    mutating func prune(now: Date) {
        lastOneShot = lastOneShot.filter { now.timeIntervalSince($0.value) < renotifyInterval }
    }
}

/// What every detector shares: the cluster name, the start time and the clock.
struct DetectorContext: Sendable {
    var cluster: String?
    /// Evidence older than this is history, not news: the start of this leadership term,
    /// or, when a previous leader left state behind, its watermark.
    var startedAt: Date
    /// True when a previous leader left a watermark: what the first list shows that
    /// started after `startedAt` happened during the failover gap and is news. False on a
    /// first install (and without a store): the first list is history, all of it.
    var catchUp = false
    var now: @Sendable () -> Date
    var renotifyInterval: TimeInterval
    var resolveAfter: TimeInterval

    func issue(
        key: FindingKey, source: IssueSource, severity: Severity, title: String, description: String,
        subject: Subject, startsAt: Date
    ) -> Issue {
        Issue(
            type: .event, source: source, severity: severity, status: .firing, title: title, description: description,
            aggregationKey: key.reason, fingerprint: key.fingerprint(source: source, cluster: cluster), subject: subject,
            cluster: cluster, createdAt: now(), startsAt: startsAt)
    }
}

/// Where detectors put Issues; the runner drains it into the ``IssueSink``.
final class IssueEmitter: Sendable {
    let deliver: @Sendable ([Issue]) -> Void
    init(_ deliver: @escaping @Sendable ([Issue]) -> Void) { self.deliver = deliver }
    func emit(_ issues: [Issue]) {
        if !issues.isEmpty { deliver(issues) }
    }
}

extension Workload {
    /// The workload of a pod, from its controller owner reference. A ReplicaSet whose name
    /// is "<deployment>-<pod-template-hash>" belongs to that Deployment (the hash is the
    /// pod's `pod-template-hash` label, so this needs no extra API call).
    static func of(podName: String, labels: [String: String]?, owner: OwnerRefLite?) -> Workload {
        guard let owner else { return Workload(kind: "Pod", name: podName) }
        if owner.kind == "ReplicaSet", let hash = labels?["pod-template-hash"], owner.name.hasSuffix("-" + hash) {
            return Workload(kind: "Deployment", name: String(owner.name.dropLast(hash.count + 1)))
        }
        return Workload(kind: owner.kind, name: owner.name)
    }
}

/// An owner reference's kind and name.
struct OwnerRefLite: Sendable, Equatable {
    var kind: String
    var name: String
}

import KubeClient

extension ObjectMeta {
    var controllerLite: OwnerRefLite? { controller.map { OwnerRefLite(kind: $0.kind, name: $0.name) } }
}
