import CanoSDK
import Collector
import Foundation
import KubeClient
import Logging
import Synchronization

/// Watches the cluster and hands Issues to the collector's ``IssueSink``: pods, Warning
/// events, Jobs and Helm releases, each an informer loop on its own thread. With leader
/// election on, sources run only on the replica holding the Lease, and batches produced by
/// a replica that lost the Lease are dropped, so two replicas never report the same event.
///
/// With a `stateStore` shared by the replicas, the detectors persist their open problems
/// and a watermark (see ``DetectorStateStore``), so a new leader resolves what the old one
/// reported, reports what started during the failover gap, and repeats nothing.
public final class KubernetesSources: Sendable {
    public let config: KubernetesConfig
    let sink: any IssueSink
    let logger: Logger
    let connectionOverride: KubeConnection?
    let tickInterval: Duration
    let now: @Sendable () -> Date
    let onInitialSync: @Sendable (String) -> Void
    let stateStore: DetectorStateStore?

    /// Sources that currently run, and their generation (bumped on every start).
    private struct Running: Sendable {
        var generation = 0
        var stop: StopSignal?
    }
    private let running = Mutex(Running())
    /// When this replica last renewed the Lease (leader election only): the watermark
    /// never passes it, so a partition that silently stalls the watches does not advance it.
    private let renewedAt = Mutex<Date?>(nil)

    /// - Parameters:
    ///   - connection: overrides `config.kubeconfig` / in-cluster discovery (tests).
    ///   - tickInterval: how often time-based checks run (resolution after a healthy
    ///     period, stuck Helm releases).
    ///   - onInitialSync: called with a source's name ("pods", "events", "jobs", "helm")
    ///     when its first list is done (readiness, benchmarks).
    ///   - stateStore: where detector state survives a failover, shared by all replicas
    ///     (namespace `kubernetes`); nil keeps it in memory only, as before. Called only
    ///     from the sources' own threads.
    ///   - metrics: counts state store failures (`cano_kubernetes_state_store_errors_total`).
    public init(
        config: KubernetesConfig, sink: any IssueSink, logger: Logger = Logger(label: "cano.kubernetes"),
        connection: KubeConnection? = nil, tickInterval: Duration = .seconds(5), now: @escaping @Sendable () -> Date = { Date() },
        onInitialSync: @escaping @Sendable (String) -> Void = { _ in },
        stateStore: (any KeyValueStore)? = nil, metrics: Metrics? = nil
    ) {
        self.stateStore = stateStore.map { DetectorStateStore(store: $0, logger: logger, metrics: metrics) }
        self.onInitialSync = onInitialSync
        self.config = config
        self.sink = sink
        self.logger = logger
        self.connectionOverride = connection
        self.tickInterval = tickInterval
        self.now = now
    }

    /// The connection `config` describes: its kubeconfig, else the in-cluster service account.
    public static func connection(for config: KubernetesConfig) throws(KubeError) -> KubeConnection {
        if let path = config.kubeconfig { return try Kubeconfig.load(path: path, context: config.context) }
        return try InClusterConfig.load()
    }

    /// Runs until the calling task is cancelled. Throws only when the configuration is
    /// unusable (no kubeconfig, unsupported auth).
    public func run() async throws(KubeError) {
        let connection: KubeConnection
        if let connectionOverride { connection = connectionOverride } else { connection = try Self.connection(for: config) }
        let client = KubeClient(connection: connection, logger: logger)
        let (stream, continuation) = AsyncStream<(Int, [Issue])>.makeStream()
        let master = StopSignal()

        let le = config.leaderElection
        if le.enabled {
            let identity = le.identity ?? Self.defaultIdentity()
            let elector = LeaderElector(
                client: client, namespace: le.namespace ?? connection.namespace, name: le.leaseName, identity: identity,
                config: le, stop: master, logger: logger,
                onStartedLeading: { [self] in startSources(client: client, continuation: continuation) },
                onStoppedLeading: { [self] in stopSources() },
                onRenewed: { [self] at in renewedAt.withLock { $0 = at } })
            BlockingThread.start(name: "cano-kube-leader") { elector.run() }
        } else {
            startSources(client: client, continuation: continuation)
        }

        await withTaskCancellationHandler {
            for await (generation, issues) in stream {
                guard running.withLock({ $0.stop != nil && $0.generation == generation }) else {
                    logger.debug("dropping Issues from sources that stopped (leadership lost)", metadata: ["count": "\(issues.count)"])
                    continue
                }
                await submit(issues)
            }
        } onCancel: {
            master.stop()
            self.stopSources()
            continuation.finish()
        }
    }

    /// Hands a batch to the sink, retrying while it pushes back (nothing is lost).
    private func submit(_ issues: [Issue]) async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                _ = try await sink.submit(issues)
                return
            } catch {
                if error.code == .shuttingDown { return }
                logger.warning("the pipeline refused Kubernetes Issues; retrying", metadata: ["error": "\(error)", "retryIn": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
    }

    private func startSources(client: KubeClient, continuation: AsyncStream<(Int, [Issue])>.Continuation) {
        let stop = StopSignal()
        let generation = running.withLock { r -> Int in
            r.stop?.stop()
            r.generation += 1
            r.stop = stop
            return r.generation
        }
        let emitter = IssueEmitter { continuation.yield((generation, $0)) }
        // Reading the store blocks, and without leader election we are called from the
        // cooperative pool: build the detectors on a thread of their own.
        BlockingThread.start(name: "cano-kube-start") { [self] in
            launchDetectors(client: client, emitter: emitter, stop: stop)
        }
    }

    /// One leadership term's detectors, reflectors and tick. Blocking (reads the store).
    private func launchDetectors(client: KubeClient, emitter: IssueEmitter, stop: StopSignal) {
        let store = stateStore
        let watermark = store?.loadWatermark()
        let startedAt = now()
        let context = DetectorContext(
            cluster: config.clusterName, startedAt: watermark.map { min($0, startedAt) } ?? startedAt, catchUp: watermark != nil, now: now,
            renotifyInterval: TimeInterval(config.renotifyIntervalSeconds), resolveAfter: TimeInterval(config.resolveAfterSeconds))
        if let watermark {
            logger.info("continuing from the detector state store", metadata: ["watermark": "\(RFC3339.format(watermark))"])
        }
        func persistence(_ key: String) -> DetectorPersistence? {
            store.map { DetectorPersistence(store: $0, key: key, stop: stop) }
        }
        var ticks: [@Sendable () -> Void] = []
        var healths: [SourceHealth] = []
        func health() -> SourceHealth {
            let h = SourceHealth(now: self.now)
            healths.append(h)
            return h
        }
        let timeout = config.watchTimeoutSeconds
        let onInitialSync = self.onInitialSync
        let page = config.pageSize

        if config.pods.enabled {
            let detector = PodDetector(context: context, namespaces: config.pods.namespaces, emitter: emitter,
                                       restored: store?.load("pods"), persistence: persistence("pods"))
            ticks.append { detector.tick() }
            launch(Reflector(name: "pods", client: client, resource: .pods, namespace: config.pods.namespaces.single,
                             options: ListOptions(limit: page), watchTimeoutSeconds: timeout, handler: detector, stop: stop, logger: logger,
                             health: health(), onSynced: onInitialSync))
        }
        if config.events.enabled {
            let detector = EventDetector(context: context, config: config.events, emitter: emitter, resolver: WorkloadResolver(client: client),
                                         restored: store?.load("events"), persistence: persistence("events"))
            ticks.append { detector.tick() }
            launch(Reflector(name: "events", client: client, resource: .events, namespace: config.events.namespaces.single,
                             options: ListOptions(fieldSelector: "type=Warning", limit: page), watchTimeoutSeconds: timeout,
                             initialItemsNeeded: detector.needsInitialItems, handler: detector, stop: stop, logger: logger,
                             health: health(), onSynced: onInitialSync))
        }
        if config.jobs.enabled {
            let detector = JobDetector(context: context, namespaces: config.jobs.namespaces, emitter: emitter,
                                       restored: store?.load("jobs"), persistence: persistence("jobs"))
            ticks.append { detector.tick() }
            launch(Reflector(name: "jobs", client: client, resource: .jobs, namespace: config.jobs.namespaces.single,
                             options: ListOptions(limit: page), watchTimeoutSeconds: timeout, handler: detector, stop: stop, logger: logger,
                             health: health(), onSynced: onInitialSync))
        }
        if config.helm.enabled {
            let detector = HelmDetector(context: context, config: config.helm, emitter: emitter,
                                        restored: store?.load("helm"), persistence: persistence("helm"))
            ticks.append { detector.tick() }
            launch(Reflector(name: "helm", client: client, resource: .secrets, namespace: config.helm.namespaces.single,
                             options: ListOptions(labelSelector: "owner=helm", limit: page, metadataOnly: true),
                             watchTimeoutSeconds: timeout, handler: detector, stop: stop, logger: logger,
                             health: health(), onSynced: onInitialSync))
        }
        let interval = tickInterval
        let allTicks = ticks
        var leaseBound: (@Sendable () -> Date?)?
        if config.leaderElection.enabled {
            leaseBound = { @Sendable [self] in renewedAt.withLock { $0 } }
        }
        let mark = store.map { Watermark(store: $0, sources: healths, stop: stop, loaded: watermark, bound: leaseBound) }
        let clock = self.now
        BlockingThread.start(name: "cano-kube-tick") {
            while stop.wait(interval) {
                for tick in allTicks { tick() }
                mark?.tick(now: clock())
            }
        }
    }

    private func launch<H: ReflectorHandler>(_ reflector: Reflector<H>) {
        BlockingThread.start(name: "cano-kube-\(reflector.name)") { reflector.run() }
    }

    private func stopSources() {
        running.withLock { r in
            r.stop?.stop()
            r.stop = nil
        }
    }

    /// The Pod name (HOSTNAME) plus a random suffix, so a restarted Pod is a new holder.
    static func defaultIdentity() -> String {
        let host = ProcessInfo.processInfo.environment["HOSTNAME"] ?? ProcessInfo.processInfo.hostName
        return "\(host)-\(UUID().uuidString.prefix(8).lowercased())"
    }
}
