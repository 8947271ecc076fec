import Collector
import CanoSDK
import Foundation
import KubeClient
import Synchronization

/// The batch/v1 Job fields the jobs detector reads.
struct JobModel: KubeObject {
    var metadata: ObjectMeta
    var status: Status?

    struct Status: Decodable, Sendable {
        var conditions: [Condition]?
        var failed: Int?
    }
    struct Condition: Decodable, Sendable {
        var type: String
        var status: String
        var reason: String?
        var message: String?
        var lastTransitionTime: String?
    }
}

/// Jobs with a Failed=True condition (BackoffLimitExceeded, DeadlineExceeded...): one
/// Issue per (Job or its CronJob, reason) per renotify interval. With a state store, the
/// reported keys survive a failover, and a new leader's first list reports the Jobs that
/// failed after the previous leader's watermark.
final class JobDetector: ReflectorHandler, Sendable {
    typealias Object = JobModel

    let context: DetectorContext
    let namespaces: NamespaceFilter
    let emitter: IssueEmitter
    struct State {
        var tracker: FindingTracker
        /// Failed jobs already handled ("ns/name"), so updates and relists stay quiet.
        var seen: Set<String> = []
        var generation = 0
        var seenGeneration: [String: Int] = [:]
        /// `tracker.changes` when last persisted.
        var saved = 0
    }
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
        state = Mutex(State(tracker: FindingTracker(renotifyInterval: context.renotifyInterval, restoring: restored, now: context.now())))
    }

    func beginSync(initial: Bool) { state.withLock { $0.generation += 1 } }
    // The first list is history, except when catching up after a failover (then the
    // failure time decides, against the watermark).
    func listed(_ job: JobModel, initial: Bool) { handle(job, reportable: !initial || context.catchUp, save: false) }
    func endSync(initial: Bool) {
        state.withLock { s in
            if let persistence { persistence.saveIfChanged(s.tracker, saved: &s.saved) }
            let g = s.generation
            for key in s.seen where s.seenGeneration[key] != g {
                s.seen.remove(key)
                s.seenGeneration[key] = nil
            }
        }
    }

    func event(_ event: WatchEvent<JobModel>) {
        switch event {
        case .added(let j), .modified(let j): handle(j, reportable: true, save: true)
        case .deleted(let j):
            let key = "\(j.metadata.namespace ?? "")/\(j.metadata.name ?? "")"
            state.withLock { s in
                s.seen.remove(key)
                s.seenGeneration[key] = nil
            }
        case .bookmark: break
        }
    }

    func tick() {
        let now = context.now()
        state.withLock { $0.tracker.prune(now: now) }
    }

    private func handle(_ job: JobModel, reportable: Bool, save: Bool) {
        let namespace = job.metadata.namespace ?? ""
        guard namespaces.allows(namespace), let name = job.metadata.name,
              let failed = job.status?.conditions?.first(where: { $0.type == "Failed" && $0.status == "True" })
        else { return }
        let key = "\(namespace)/\(name)"
        let now = context.now()
        let issue: Issue? = state.withLock { s in
            s.seenGeneration[key] = s.generation
            guard s.seen.insert(key).inserted else { return nil }
            let at = kubeTime(failed.lastTransitionTime) ?? now
            guard reportable, at >= context.startedAt else { return nil }
            let owner = job.metadata.controllerLite
            let workload = owner?.kind == "CronJob" ? Workload(kind: "CronJob", name: owner!.name) : Workload(kind: "Job", name: name)
            let reason = failed.reason ?? "JobFailed"
            let fk = FindingKey(namespace: namespace, workload: workload, reason: reason)
            guard s.tracker.oneShot(fk, now: now) else { return nil }
            if save, let persistence { persistence.saveIfChanged(s.tracker, saved: &s.saved) }
            let why = reason == "DeadlineExceeded" ? "ran longer than its activeDeadlineSeconds"
                : reason == "BackoffLimitExceeded" ? "failed more times than its backoffLimit" : "failed"
            return context.issue(
                key: fk, source: .kubernetes, severity: .high,
                title: "Job \(namespace)/\(name) failed: \(reason)",
                description: "Job \(namespace)/\(name)\(workload.kind == "CronJob" ? " (CronJob \(workload.name))" : "") \(why)\(job.status?.failed.map { " after \($0) failed pod(s)" } ?? ""): \(failed.message ?? reason).",
                subject: Subject(kind: "Job", name: name, namespace: namespace, labels: job.metadata.labels ?? [:],
                                 annotations: ["workloadKind": workload.kind, "workloadName": workload.name]),
                startsAt: at)
        }
        if let issue { emitter.emit([issue]) }
    }
}
