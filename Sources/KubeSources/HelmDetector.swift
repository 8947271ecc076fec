import Collector
import CanoSDK
import Foundation
import KubeClient
import Synchronization

/// Helm 3 releases, from their release Secrets' metadata only (labels owner=helm, name,
/// status, version; the payload is never fetched). The newest revision decides: `failed`
/// opens a HelmReleaseFailed Issue, a `pending-*` revision older than the pending timeout
/// opens HelmReleaseStuck, and a later `deployed` revision resolves both. With a state
/// store, open problems survive a failover: a new leader resolves those whose release
/// recovered or was uninstalled meanwhile, and its first list reports a release that failed
/// after the previous leader's watermark.
final class HelmDetector: ReflectorHandler, Sendable {
    typealias Object = PartialObjectMetadata

    static let failedReason = "HelmReleaseFailed"
    static let stuckReason = "HelmReleaseStuck"

    struct Release {
        /// revision -> (status, sync generation)
        var revisions: [Int: (status: String, generation: Int)] = [:]
        /// When the newest revision became pending, and whether we saw that happen.
        var pendingSince: Date?
        var pendingIsNews = false
        var latestRevision: Int { revisions.keys.max() ?? 0 }
        var latestStatus: String { revisions[latestRevision]?.status ?? "" }
    }

    struct State {
        var releases: [String: Release] = [:]
        var tracker: FindingTracker
        var generation = 0
        /// `tracker.changes` when last persisted.
        var saved = 0
    }

    let context: DetectorContext
    let config: HelmConfig
    let emitter: IssueEmitter
    let state: Mutex<State>
    let persistence: DetectorPersistence?

    /// - Parameters:
    ///   - restored: what the previous leader persisted (nil: start empty).
    ///   - persistence: where changes go (nil: memory only).
    init(context: DetectorContext, config: HelmConfig, emitter: IssueEmitter,
         restored: StoredTracker? = nil, persistence: DetectorPersistence? = nil) {
        self.context = context
        self.config = config
        self.emitter = emitter
        self.persistence = persistence
        state = Mutex(State(tracker: FindingTracker(renotifyInterval: 0, restoring: restored, now: context.now())))
    }

    func beginSync(initial: Bool) { state.withLock { $0.generation += 1 } }

    func listed(_ secret: PartialObjectMetadata, initial: Bool) {
        // A first list is history, except a revision written after the previous leader's
        // watermark (catching up after a failover).
        var news = !initial
        if initial, context.catchUp, let written = Self.modifiedAt(secret) { news = written >= context.startedAt }
        emitter.emit(state.withLock { upsert(secret, reportable: news, state: &$0) })
    }

    /// When Helm wrote the release Secret: its `modifiedAt` label (unix seconds), else its creation.
    static func modifiedAt(_ secret: PartialObjectMetadata) -> Date? {
        secret.metadata.labels?["modifiedAt"].flatMap(TimeInterval.init).map { Date(timeIntervalSince1970: $0) }
            ?? kubeTime(secret.metadata.creationTimestamp)
    }

    func endSync(initial: Bool) {
        let now = context.now()
        emitter.emit(state.withLock { s -> [Issue] in
            var out: [Issue] = []
            for (key, release) in s.releases {
                var r = release
                r.revisions = r.revisions.filter { $0.value.generation == s.generation }
                if r.revisions.count != release.revisions.count {
                    s.releases[key] = r
                    out += evaluate(key, reportable: !initial, state: &s, now: now)
                }
            }
            // Problems a previous leader left open whose release no longer exists: uninstalled.
            for (fk, open) in s.tracker.open {
                for member in open.members where s.releases[member] == nil {
                    if let issue = s.tracker.leave(fk, member: member, now: now) { out.append(issue) }
                }
            }
            persistence?.saveIfChanged(s.tracker, saved: &s.saved)
            return out
        })
    }

    func event(_ event: WatchEvent<PartialObjectMetadata>) {
        let now = context.now()
        emitter.emit(state.withLock { s -> [Issue] in
            var out: [Issue] = []
            switch event {
            case .added(let secret), .modified(let secret):
                out = upsert(secret, reportable: true, state: &s)
            case .deleted(let secret):
                if let (key, revision, _) = Self.parse(secret), s.releases[key] != nil {
                    s.releases[key]!.revisions[revision] = nil
                    out = evaluate(key, reportable: true, state: &s, now: now)
                }
            case .bookmark:
                break
            }
            persistence?.saveIfChanged(s.tracker, saved: &s.saved)
            return out
        })
    }

    /// Reports releases pending for longer than the timeout.
    func tick() {
        let now = context.now()
        emitter.emit(state.withLock { s in
            let out = s.releases.keys.flatMap { evaluate($0, reportable: true, state: &s, now: now) }
            persistence?.saveIfChanged(s.tracker, saved: &s.saved)
            return out
        })
    }

    /// (namespace/name, revision, status) of a release Secret, from its labels.
    static func parse(_ secret: PartialObjectMetadata) -> (String, Int, String)? {
        let labels = secret.metadata.labels ?? [:]
        guard labels["owner"] == "helm", let name = labels["name"], let revision = labels["version"].flatMap(Int.init),
              let status = labels["status"]
        else { return nil }
        return ("\(secret.metadata.namespace ?? "")/\(name)", revision, status)
    }

    private func upsert(_ secret: PartialObjectMetadata, reportable: Bool, state s: inout State) -> [Issue] {
        guard config.namespaces.allows(secret.metadata.namespace), let (key, revision, status) = Self.parse(secret) else { return [] }
        let now = context.now()
        var r = s.releases[key] ?? Release()
        let wasLatest = (r.latestRevision, r.latestStatus)
        r.revisions[revision] = (status, s.generation)
        if (r.latestRevision, r.latestStatus) != wasLatest || r.pendingSince == nil {
            if r.latestStatus.hasPrefix("pending-") {
                if r.pendingSince == nil || (r.latestRevision, r.latestStatus) != wasLatest {
                    // Helm stamps `modifiedAt` (unix seconds) on release Secrets.
                    r.pendingSince = Self.modifiedAt(secret) ?? now
                    r.pendingIsNews = reportable
                }
            } else {
                r.pendingSince = nil
                r.pendingIsNews = false
            }
        }
        s.releases[key] = r
        return evaluate(key, reportable: reportable, state: &s, now: now)
    }

    private func evaluate(_ key: String, reportable: Bool, state s: inout State, now: Date) -> [Issue] {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        let namespace = parts[0]
        let name = parts.count > 1 ? parts[1] : ""
        let workload = Workload(kind: "HelmRelease", name: name)
        let failedKey = FindingKey(namespace: namespace, workload: workload, reason: Self.failedReason)
        let stuckKey = FindingKey(namespace: namespace, workload: workload, reason: Self.stuckReason)
        guard let r = s.releases[key], !r.revisions.isEmpty else {
            // Uninstalled: nothing is failing any more.
            s.releases[key] = nil
            return [failedKey, stuckKey].compactMap { s.tracker.leave($0, member: key, now: now) }
        }
        var out: [Issue] = []
        let status = r.latestStatus
        let revision = r.latestRevision
        let subject = Subject(kind: "HelmRelease", name: name, namespace: namespace,
                              labels: ["name": name, "status": status, "version": String(revision)])
        if status == "failed" {
            if !s.tracker.contains(failedKey, member: key) {
                if let issue = s.tracker.join(failedKey, member: key, reportable: reportable, make: {
                    context.issue(key: failedKey, source: .helm, severity: .high,
                                  title: "Helm release \(namespace)/\(name) failed (revision \(revision))",
                                  description: "Revision \(revision) of Helm release \(namespace)/\(name) has status failed. Inspect it with `helm history \(name) -n \(namespace)`.",
                                  subject: subject, startsAt: now)
                }) { out.append(issue) }
            }
        } else if status == "deployed" || status == "superseded" || status == "uninstalled" {
            if let issue = s.tracker.leave(failedKey, member: key, now: now) { out.append(issue) }
        }
        if status.hasPrefix("pending-"), let since = r.pendingSince {
            if now.timeIntervalSince(since) >= TimeInterval(config.pendingTimeoutSeconds), !s.tracker.contains(stuckKey, member: key) {
                let minutes = Int(now.timeIntervalSince(since) / 60)
                if let issue = s.tracker.join(stuckKey, member: key, reportable: r.pendingIsNews, make: {
                    context.issue(key: stuckKey, source: .helm, severity: .low,
                                  title: "Helm release \(namespace)/\(name) is stuck in \(status) (revision \(revision))",
                                  description: "Revision \(revision) of Helm release \(namespace)/\(name) has been \(status) for \(minutes) minutes; a helm operation was probably interrupted. `helm rollback` or a new upgrade clears it.",
                                  subject: subject, startsAt: since)
                }) { out.append(issue) }
            }
        } else if let issue = s.tracker.leave(stuckKey, member: key, now: now) {
            out.append(issue)
        }
        return out
    }
}
