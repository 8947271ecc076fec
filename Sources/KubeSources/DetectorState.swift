import CanoSDK
import Collector
import Foundation
import KubeClient
import Logging
import Synchronization

/// What a detector persists: the problems it holds open (reported or not) and the one-off
/// problems it reported within the renotify interval. Small on purpose: one entry per open
/// (workload, reason), never per healthy pod.
struct StoredTracker: Codable, Sendable, Equatable {
    /// One open problem.
    struct Problem: Codable, Sendable, Equatable {
        var namespace: String
        var kind: String
        var name: String
        var reason: String
        /// The objects ("namespace/name") that showed it when it was last written. Only
        /// opening and closing a problem trigger a write, so this may lag behind; a new
        /// leader's first list corrects it (see ``PodDetector``).
        var members: [String]
        /// False for a problem that predates the first install: it resolves silently too.
        var reported: Bool
        /// The firing Issue, so a later leader resolves it with the same fingerprint and
        /// startsAt.
        var issue: Issue?

        var key: FindingKey { FindingKey(namespace: namespace, workload: Workload(kind: kind, name: name), reason: reason) }
    }
    /// A one-off problem reported at `at` (renotify bookkeeping).
    struct OneShot: Codable, Sendable, Equatable {
        var namespace: String
        var kind: String
        var name: String
        var reason: String
        var at: Date

        var key: FindingKey { FindingKey(namespace: namespace, workload: Workload(kind: kind, name: name), reason: reason) }
    }

    var problems: [Problem] = []
    var oneShots: [OneShot] = []
}

/// The detectors' shared, persistent memory (GitHub issue 11): a ``KeyValueStore`` that
/// every replica reaches, namespace `kubernetes`.
///
/// Keys, one JSON document each (the store cannot list keys, so every key is fixed):
/// - `pods`, `events`, `jobs`, `helm`: that detector's ``StoredTracker``. Written when a
///   problem opens or closes or a one-off is reported, at most once per watch event,
///   list or tick (a whole list is one write);
/// - `watermark`: until when the leader's view of the cluster is known complete
///   (``Watermark``), written by the tick at most once per tick interval.
///
/// A store without a watermark is a first install. Every call blocks: call only from the
/// sources' own threads. A failing store never stops the watchers: the error is logged,
/// counted in `cano_kubernetes_state_store_errors_total`, and the detectors go on in memory.
final class DetectorStateStore: Sendable {
    static let namespace = "kubernetes"
    static let watermarkKey = "watermark"
    static let errorsMetric = "cano_kubernetes_state_store_errors_total"

    let store: any KeyValueStore
    let logger: Logger
    let metrics: Metrics?

    init(store: any KeyValueStore, logger: Logger, metrics: Metrics?) {
        self.store = store
        self.logger = logger
        self.metrics = metrics
        metrics?.describe(Self.errorsMetric, type: "counter", help: "Kubernetes detector state store reads and writes that failed (the detectors continued in memory).")
    }

    /// The last watermark a leader wrote; nil on a first install (or when unreadable).
    func loadWatermark() -> Date? {
        guard let bytes = read(Self.watermarkKey) else { return nil }
        do {
            return try JSONDecoder().decode(StoredWatermark.self, from: Data(bytes)).at
        } catch {
            failed("decode", key: Self.watermarkKey, error)
            return nil
        }
    }

    func saveWatermark(_ at: Date) {
        write(Self.watermarkKey) { try JSONEncoder().encode(StoredWatermark(at: at)) }
    }

    /// A detector's document; nil when absent or unreadable.
    func load(_ key: String) -> StoredTracker? {
        guard let bytes = read(key) else { return nil }
        do {
            return try JSONDecoder().decode(StoredTracker.self, from: Data(bytes))
        } catch {
            failed("decode", key: key, error)
            return nil
        }
    }

    func save(_ key: String, _ tracker: StoredTracker) {
        write(key) { try JSONEncoder().encode(tracker) }
    }

    private func read(_ key: String) -> [UInt8]? {
        do {
            return try store.value(namespace: Self.namespace, key: key)
        } catch {
            failed("read", key: key, error)
            return nil
        }
    }

    private func write(_ key: String, _ encode: () throws -> Data) {
        do {
            // The default Date coding (a Double) round-trips exactly, so a resolved Issue's
            // startsAt equals the firing one's bit for bit.
            try store.setValue(Array(try encode()), namespace: Self.namespace, key: key)
        } catch {
            failed("write", key: key, error)
        }
    }

    private func failed(_ operation: String, key: String, _ error: any Error) {
        logger.warning("Kubernetes detector state store failed; continuing in memory", metadata: [
            "operation": "\(operation)", "key": "\(key)", "error": "\(error)",
        ])
        metrics?.increment(Self.errorsMetric, ["operation": operation])
    }

    private struct StoredWatermark: Codable {
        var at: Date
    }
}

/// How a detector writes its ``StoredTracker``: its key, and the leadership term's stop
/// signal (a replica that lost the lease must not overwrite its successor's state).
struct DetectorPersistence: Sendable {
    let store: DetectorStateStore
    let key: String
    let stop: StopSignal

    /// Writes the tracker when it changed since the last write (see ``FindingTracker/changes``).
    func saveIfChanged(_ tracker: FindingTracker, saved: inout Int) {
        guard tracker.changes != saved, !stop.isStopped else { return }
        saved = tracker.changes
        store.save(key, tracker.snapshot())
    }
}

/// Whether one source's view of the cluster is current: true from the end of a list while
/// its watch keeps going; false from a failed list or watch until the next list or watch
/// event. `lastCurrent` is the last moment it was known current.
final class SourceHealth: Sendable {
    private struct State {
        var current = false
        var lastCurrent: Date?
    }
    private let state = Mutex(State())
    let now: @Sendable () -> Date

    init(now: @escaping @Sendable () -> Date) { self.now = now }

    /// A list completed, or the watch delivered something.
    func markCurrent() {
        let t = now()
        state.withLock {
            $0.current = true
            $0.lastCurrent = t
        }
    }

    /// A list or watch failed: events may be missed until the next success.
    func markBroken() { state.withLock { $0.current = false } }

    /// Until when this source is known to have seen everything; nil before its first list.
    func currentUntil(_ now: Date) -> Date? {
        state.withLock { $0.current ? now : $0.lastCurrent }
    }
}

/// "The last time the store saw the cluster": the earliest moment up to which every
/// source is known current, minus a safety margin (an event in flight when the tick runs).
/// Only moves forward, only once every source has listed, and stops with the sources, so
/// an API outage freezes it where the view was last complete. With leader election it
/// never passes the last Lease renewal either: a network partition can stall a watch
/// without an error, but not the renewals.
final class Watermark: Sendable {
    /// Covers events still in flight between the API server and the detectors.
    static let safetyMargin: TimeInterval = 5

    let store: DetectorStateStore
    let sources: [SourceHealth]
    let stop: StopSignal
    let bound: (@Sendable () -> Date?)?
    private let written: Mutex<Date?>

    /// - Parameter loaded: the watermark found in the store at the start of this term; the
    ///   new one never goes below it.
    /// - Parameter bound: the last time the API server was proven reachable (the Lease
    ///   renewal); nil without leader election.
    init(store: DetectorStateStore, sources: [SourceHealth], stop: StopSignal, loaded: Date?, bound: (@Sendable () -> Date?)? = nil) {
        self.bound = bound
        self.store = store
        self.sources = sources
        self.stop = stop
        written = Mutex(loaded)
    }

    /// Called by the tick thread: writes the watermark when it advanced.
    func tick(now: Date) {
        var until = now
        if let bound {
            guard let renewed = bound() else { return }
            until = min(until, renewed)
        }
        for source in sources {
            guard let t = source.currentUntil(now) else { return }
            until = min(until, t)
        }
        let mark = until.addingTimeInterval(-Self.safetyMargin)
        let advanced = written.withLock { w -> Bool in
            if let w, w >= mark { return false }
            w = mark
            return true
        }
        if advanced, !stop.isStopped { store.saveWatermark(mark) }
    }
}
