import Collector
import CanoSDK
import Foundation
import KubeClient
import Synchronization

/// Pods: CrashLoopBackOff, OOMKilled (137 + OOMKilled only), ImagePullBackOff/ErrImagePull,
/// CreateContainerConfigError (ongoing: they resolve) and Evicted (one-off).
///
/// Keeps a record only for pods that show something; healthy pods cost nothing.
///
/// With a state store (see ``DetectorStateStore``), the open problems are persisted, and a
/// detector started by a new leader begins where the old one stopped: the stored problems'
/// pods get their records back, so the first list resolves what recovered or disappeared
/// during the failover (with the stored firing Issue's fingerprint and startsAt) and keeps
/// quiet about what is still failing; a problem the store does not know, whose evidence
/// (a container termination, the pod's creation) is newer than the watermark, started
/// during the gap and is reported.
final class PodDetector: ReflectorHandler, Sendable {
    typealias Object = PodModel

    /// The ongoing problems a container's waiting reason maps to.
    static func ongoingReason(_ waiting: String?) -> String? {
        switch waiting {
        case "CrashLoopBackOff": "CrashLoopBackOff"
        case "ImagePullBackOff", "ErrImagePull": "ImagePullBackOff"
        case "CreateContainerConfigError": "CreateContainerConfigError"
        default: nil
        }
    }

    struct Record {
        var workload: Workload
        var namespace: String
        /// Ongoing reasons this pod is a member of.
        var open: Set<String> = []
        /// Reason -> when its containers last (re)started running; resolves after
        /// `resolveAfter` without a new failure.
        var healthySince: [String: Date] = [:]
        /// OOM kills already seen ("container@finishedAt").
        var oomSeen: Set<String> = []
        var evicted = false
        var generation = 0
    }

    struct State {
        var records: [String: Record] = [:]
        var tracker: FindingTracker
        var generation = 0
        /// `tracker.changes` when last persisted.
        var saved = 0
    }

    let context: DetectorContext
    let namespaces: NamespaceFilter
    let emitter: IssueEmitter
    let state: Mutex<State>
    let persistence: DetectorPersistence?

    /// - Parameters:
    ///   - restored: what the previous leader persisted (nil: start empty).
    ///   - persistence: where changes go (nil: memory only).
    init(context: DetectorContext, namespaces: NamespaceFilter, emitter: IssueEmitter,
         restored: StoredTracker? = nil, persistence: DetectorPersistence? = nil) {
        self.context = context
        self.namespaces = namespaces
        self.emitter = emitter
        self.persistence = persistence
        var s = State(tracker: FindingTracker(renotifyInterval: context.renotifyInterval, restoring: restored, now: context.now()))
        // The stored members get their records back (generation 0: the first list, at
        // generation 1, either refreshes them or finds them gone).
        for (key, open) in s.tracker.open {
            for member in open.members {
                s.records[member, default: Record(workload: key.workload, namespace: key.namespace)].open.insert(key.reason)
            }
        }
        state = Mutex(s)
    }

    func beginSync(initial: Bool) { state.withLock { $0.generation += 1 } }

    func listed(_ pod: PodModel, initial: Bool) {
        // Persisted once, at the end of the list.
        emitter.emit(state.withLock { evaluate(pod, initial: initial, state: &$0) })
    }

    func endSync(initial: Bool) {
        let now = context.now()
        emitter.emit(state.withLock { s in
            let gone = s.records.filter { $0.value.generation != s.generation }.map(\.key)
            let out = gone.flatMap { forget($0, state: &s, now: now) }
            persistence?.saveIfChanged(s.tracker, saved: &s.saved)
            return out
        })
    }

    func event(_ event: WatchEvent<PodModel>) {
        let now = context.now()
        emitter.emit(state.withLock { s -> [Issue] in
            let out: [Issue]
            switch event {
            case .added(let pod), .modified(let pod):
                out = evaluate(pod, initial: false, state: &s)
            case .deleted(let pod):
                out = forget(Self.key(pod), state: &s, now: now)
            case .bookmark:
                out = []
            }
            persistence?.saveIfChanged(s.tracker, saved: &s.saved)
            return out
        })
    }

    /// Resolves problems whose pods have run long enough; prunes old one-off keys.
    func tick() {
        let now = context.now()
        emitter.emit(state.withLock { s -> [Issue] in
            s.tracker.prune(now: now)
            var out: [Issue] = []
            for (key, record) in s.records {
                var r = record
                for (reason, since) in record.healthySince where now.timeIntervalSince(since) >= context.resolveAfter {
                    r.healthySince[reason] = nil
                    r.open.remove(reason)
                    if let issue = s.tracker.leave(FindingKey(namespace: r.namespace, workload: r.workload, reason: reason), member: key, now: now) {
                        out.append(issue)
                    }
                }
                s.records[key] = Self.isNotable(r) ? r : nil
            }
            persistence?.saveIfChanged(s.tracker, saved: &s.saved)
            return out
        })
    }

    static func key(_ pod: PodModel) -> String { "\(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? "")" }

    static func isNotable(_ r: Record) -> Bool { !r.open.isEmpty || !r.oomSeen.isEmpty || r.evicted }

    private func forget(_ key: String, state s: inout State, now: Date) -> [Issue] {
        guard let r = s.records.removeValue(forKey: key) else { return [] }
        return r.open.compactMap { s.tracker.leave(FindingKey(namespace: r.namespace, workload: r.workload, reason: $0), member: key, now: now) }
    }

    /// When a problem of `pod` shown by `container` can have started at the latest: the
    /// newest container termination, else the pod's creation. Waiting reasons carry no time.
    static func evidence(_ pod: PodModel, _ container: PodModel.ContainerStatus?) -> Date? {
        let terminations = [container?.lastState?.terminated?.finishedAt, container?.state?.terminated?.finishedAt].compactMap { kubeTime($0) }
        return terminations.max() ?? kubeTime(pod.metadata.creationTimestamp)
    }

    /// Whether a problem first seen now is news: always from the watch; in a first list
    /// only when catching up after a failover and its evidence is newer than the watermark.
    private func isNews(initial: Bool, evidence: Date?) -> Bool {
        guard initial else { return true }
        guard context.catchUp, let evidence else { return false }
        return evidence >= context.startedAt
    }

    private func evaluate(_ pod: PodModel, initial: Bool, state s: inout State) -> [Issue] {
        let namespace = pod.metadata.namespace ?? ""
        guard namespaces.allows(namespace), let name = pod.metadata.name else { return [] }
        let now = context.now()
        let key = Self.key(pod)
        let workload = Workload.of(podName: name, labels: pod.metadata.labels, owner: pod.metadata.controllerLite)
        var r = s.records[key] ?? Record(workload: workload, namespace: namespace)
        r.generation = s.generation
        var out: [Issue] = []
        let containers = pod.allContainers

        // Ongoing problems, from waiting reasons.
        var observed: [String: PodModel.ContainerStatus] = [:]
        for c in containers {
            if let reason = Self.ongoingReason(c.state?.waiting?.reason), observed[reason] == nil { observed[reason] = c }
        }
        for (reason, container) in observed {
            let fk = FindingKey(namespace: namespace, workload: workload, reason: reason)
            r.healthySince[reason] = nil
            r.open.insert(reason)
            if !s.tracker.contains(fk, member: key),
               let issue = s.tracker.join(fk, member: key, reportable: isNews(initial: initial, evidence: Self.evidence(pod, container)),
                                          make: { ongoingIssue(fk, pod, container) }) {
                out.append(issue)
            }
        }
        for reason in r.open where observed[reason] == nil {
            // Healthy again only once every container runs; a crash loop runs briefly
            // between restarts, hence `resolveAfter`.
            let app = pod.status?.containerStatuses ?? []
            guard !app.isEmpty, app.allSatisfy({ $0.state?.running != nil }) else { continue }
            let started = app.compactMap { kubeTime($0.state?.running?.startedAt) }.max() ?? now
            if now.timeIntervalSince(started) >= context.resolveAfter {
                r.open.remove(reason)
                r.healthySince[reason] = nil
                if let issue = s.tracker.leave(FindingKey(namespace: namespace, workload: workload, reason: reason), member: key, now: now) {
                    out.append(issue)
                }
            } else {
                r.healthySince[reason] = started
            }
        }

        // OOM kills: a new termination with reason OOMKilled and exit code 137.
        for c in containers {
            for t in [c.lastState?.terminated, c.state?.terminated].compactMap({ $0 }) where t.isOOMKill {
                let id = "\(c.name)@\(t.finishedAt ?? "")"
                guard !r.oomSeen.contains(id) else { continue }
                r.oomSeen.insert(id)
                let finished = kubeTime(t.finishedAt) ?? now
                let fk = FindingKey(namespace: namespace, workload: workload, reason: "OOMKilled")
                if !initial || context.catchUp, finished >= context.startedAt, s.tracker.oneShot(fk, now: now) {
                    out.append(context.issue(
                        key: fk, source: .kubernetes, severity: .high,
                        title: "\(workload.kind) \(namespace)/\(workload.name): container \(c.name) was OOMKilled",
                        description: "Container \(c.name) in pod \(namespace)/\(name) was killed by the out-of-memory killer (exit code 137, reason OOMKilled) at \(t.finishedAt ?? "an unknown time"); it has restarted \(c.restartCount ?? 0) times. Raise its memory limit or reduce its usage.",
                        subject: subject(pod, container: c.name, workload: workload), startsAt: finished))
                }
            }
        }

        // Evictions (phase Failed, reason Evicted): one-off per workload.
        if pod.status?.phase == "Failed", pod.status?.reason == "Evicted", !r.evicted {
            r.evicted = true
            let fk = FindingKey(namespace: namespace, workload: workload, reason: "Evicted")
            let evicted = pod.allContainers.compactMap { Self.evidence(pod, $0) }.max() ?? kubeTime(pod.metadata.creationTimestamp)
            if isNews(initial: initial, evidence: evicted), s.tracker.oneShot(fk, now: now) {
                out.append(context.issue(
                    key: fk, source: .kubernetes, severity: .low,
                    title: "\(workload.kind) \(namespace)/\(workload.name): pod \(name) was evicted",
                    description: "Pod \(namespace)/\(name) was evicted from node \(pod.spec?.nodeName ?? "unknown"): \(pod.status?.message ?? "no message").",
                    subject: subject(pod, container: nil, workload: workload), startsAt: now))
            }
        }
        s.records[key] = Self.isNotable(r) ? r : nil
        return out
    }

    private func ongoingIssue(_ fk: FindingKey, _ pod: PodModel, _ c: PodModel.ContainerStatus) -> Issue {
        let ns = fk.namespace
        let podName = pod.metadata.name ?? ""
        let title: String
        var description: String
        let severity: Severity
        switch fk.reason {
        case "CrashLoopBackOff":
            severity = .high
            title = "\(fk.workload.kind) \(ns)/\(fk.workload.name): container \(c.name) is crash-looping"
            description = "Container \(c.name) in pod \(ns)/\(podName) is in CrashLoopBackOff after \(c.restartCount ?? 0) restarts."
            if let last = c.lastState?.terminated {
                description += " Last exit code \(last.exitCode.map(String.init) ?? "unknown") (reason \(last.reason ?? "unknown"))"
                if let m = last.message, !m.isEmpty { description += ": \(m.trimmingCharacters(in: .whitespacesAndNewlines))" }
                description += "."
            }
        case "ImagePullBackOff":
            severity = .low
            title = "\(fk.workload.kind) \(ns)/\(fk.workload.name): container \(c.name) cannot pull its image"
            description = "Container \(c.name) in pod \(ns)/\(podName) is waiting with \(c.state?.waiting?.reason ?? "ImagePullBackOff")"
            if let m = c.state?.waiting?.message, !m.isEmpty { description += ": \(m)" }
            description += "."
        default:
            severity = .low
            title = "\(fk.workload.kind) \(ns)/\(fk.workload.name): container \(c.name) has a configuration error"
            description = "Container \(c.name) in pod \(ns)/\(podName) cannot be created (CreateContainerConfigError)"
            if let m = c.state?.waiting?.message, !m.isEmpty { description += ": \(m)" }
            description += "."
        }
        return context.issue(key: fk, source: .kubernetes, severity: severity, title: title, description: description,
                             subject: subject(pod, container: c.name, workload: fk.workload), startsAt: context.now())
    }

    private func subject(_ pod: PodModel, container: String?, workload: Workload) -> Subject {
        Subject(
            kind: "Pod", name: pod.metadata.name, namespace: pod.metadata.namespace, node: pod.spec?.nodeName,
            container: container, labels: pod.metadata.labels ?? [:],
            annotations: ["workloadKind": workload.kind, "workloadName": workload.name])
    }
}
