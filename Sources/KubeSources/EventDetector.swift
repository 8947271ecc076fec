import Collector
import CanoSDK
import Foundation
import KubeClient
import Synchronization

/// The core/v1 Event fields the events detector reads.
struct EventModel: KubeObject {
    var metadata: ObjectMeta
    var involvedObject: InvolvedObject?
    var reason: String?
    var message: String?
    var type: String?
    var count: Int?
    var firstTimestamp: String?
    var lastTimestamp: String?
    var eventTime: String?
    var series: Series?
    var source: Source?

    struct InvolvedObject: Decodable, Sendable {
        var kind: String?
        var name: String?
        var namespace: String?
        var fieldPath: String?
    }
    struct Series: Decodable, Sendable {
        var lastObservedTime: String?
    }
    struct Source: Decodable, Sendable {
        var host: String?
    }

    /// When the event last happened: the latest of its timestamps (core/v1 events fill
    /// lastTimestamp; events.k8s.io-style writers fill eventTime and series instead).
    var occurredAt: Date? {
        [series?.lastObservedTime, lastTimestamp, eventTime, firstTimestamp].compactMap { kubeTime($0) }.max()
            ?? kubeTime(metadata.creationTimestamp)
    }
}

/// Warning events: FailedCreate "exceeded quota" on ReplicaSets/Jobs/StatefulSets becomes a
/// quota violation; the configured reasons become Issues of their own. One Issue per
/// (workload, reason) per renotify interval; events from before the start are history.
/// With a state store, the reported keys survive a failover, and a new leader's first list
/// reports the events that happened after the previous leader's watermark.
final class EventDetector: ReflectorHandler, Sendable {
    typealias Object = EventModel

    static let quotaKinds: Set<String> = ["ReplicaSet", "Job", "StatefulSet"]

    let context: DetectorContext
    let config: EventsConfig
    let emitter: IssueEmitter
    let resolver: WorkloadResolver
    let persistence: DetectorPersistence?
    private struct State {
        var tracker: FindingTracker
        var saved = 0
    }
    private let state: Mutex<State>

    /// - Parameters:
    ///   - restored: what the previous leader persisted (nil: start empty).
    ///   - persistence: where changes go (nil: memory only).
    init(context: DetectorContext, config: EventsConfig, emitter: IssueEmitter, resolver: WorkloadResolver,
         restored: StoredTracker? = nil, persistence: DetectorPersistence? = nil) {
        self.context = context
        self.config = config
        self.emitter = emitter
        self.resolver = resolver
        self.persistence = persistence
        state = Mutex(State(tracker: FindingTracker(renotifyInterval: context.renotifyInterval, restoring: restored, now: context.now())))
    }

    /// Whether the first list must carry items: only when catching up after a failover.
    var needsInitialItems: Bool { context.catchUp }

    func beginSync(initial: Bool) {}
    func endSync(initial: Bool) { save() }

    func listed(_ event: EventModel, initial: Bool) {
        // A relist after a gap may carry events we missed; the start-time rule and the
        // per-key dedupe keep it from repeating what was reported. The first list is
        // history, except after a failover: then what follows the watermark is news.
        if !initial || context.catchUp { handle(event, save: false) }
    }

    func event(_ event: WatchEvent<EventModel>) {
        switch event {
        case .added(let e), .modified(let e): handle(e, save: true)
        case .deleted, .bookmark: break
        }
    }

    func tick() {
        let now = context.now()
        state.withLock { $0.tracker.prune(now: now) }
    }

    private func save() {
        guard let persistence else { return }
        state.withLock { persistence.saveIfChanged($0.tracker, saved: &$0.saved) }
    }

    private func handle(_ e: EventModel, save: Bool) {
        guard e.type == "Warning", let reason = e.reason, let involved = e.involvedObject,
              let kind = involved.kind, let name = involved.name
        else { return }
        let namespace = involved.namespace ?? e.metadata.namespace ?? ""
        guard config.namespaces.allows(namespace) else { return }
        let message = e.message ?? ""
        let isQuota = reason == "FailedCreate" && message.contains("exceeded quota") && Self.quotaKinds.contains(kind)
        guard isQuota || config.reasons.contains(reason) else { return }
        guard let at = e.occurredAt, at >= context.startedAt else { return }
        let now = context.now()
        let workload = resolver.resolve(kind: kind, namespace: namespace, name: name)
        let fk = FindingKey(namespace: namespace, workload: workload, reason: isQuota ? "QuotaExceeded" : reason)
        guard state.withLock({ $0.tracker.oneShot(fk, now: now) }) else { return }
        if save { self.save() }
        let subject = Subject(
            kind: kind, name: name, namespace: namespace, node: e.source?.host,
            annotations: ["workloadKind": workload.kind, "workloadName": workload.name])
        let issue: Issue
        if isQuota {
            issue = context.issue(
                key: fk, source: .kubernetes, severity: .high,
                title: "\(workload.kind) \(namespace)/\(workload.name): resource quota exceeded",
                description: "\(kind) \(namespace)/\(name) cannot create pods: \(message)",
                subject: subject, startsAt: at)
        } else {
            issue = context.issue(
                key: fk, source: .kubernetes, severity: reason == "FailedScheduling" ? .low : .info,
                title: "\(workload.kind) \(namespace)/\(workload.name): \(reason)",
                description: "\(kind) \(namespace)/\(name): \(message)\((e.count ?? 1) > 1 ? " (seen \(e.count!) times)" : "")",
                subject: subject, startsAt: at)
        }
        emitter.emit([issue])
    }
}
