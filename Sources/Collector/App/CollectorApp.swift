#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Hummingbird
import Logging
import ServiceLifecycle

/// The running collector: wires intake → outbox → delivery engine → destinations, serves
/// HTTP, and shuts down gracefully on SIGTERM/SIGINT.
///
/// Start-up order matters: the database and destinations come first, `/readyz` turns
/// ready only once every destination that can be created is created. Shutdown runs the
/// other way: `/readyz` goes false, the HTTP server stops taking alerts, in-flight
/// deliveries drain up to `server.shutdown_grace`, and whatever is left stays queued in
/// SQLite for the next start.
public struct CollectorApp: Sendable {
    public let config: CollectorConfig
    public let logger: Logger
    public let metrics: Metrics
    public let readiness = Readiness()
    /// Read-only cluster access for the enrichers (the Kubernetes client's reader), or nil.
    public let kube: (any KubeReader)?
    private let onListening: @Sendable (Int) async -> Void
    /// The wait between attempts to create a destination that failed (1 s doubling to 5 min).
    public var destinationBackoff = DestinationSupervisor.Backoff()
    private let makeSources: @Sendable (any IssueSink, any KeyValueStore) -> [any Service]

    /// - Parameters:
    ///   - sources: builds the signal sources beyond the HTTP intake (the Kubernetes
    ///     watchers), given the durable sink they submit to and the store for their state
    ///     (shared by the replicas with the deliveries). They are started after the outbox
    ///     and stopped before the delivery engine drains.
    ///   - kube: read-only cluster access for the enrichers (`KubeAPIReader`), or nil.
    ///   - onListening: called with the bound HTTP port once the server listens.
    public init(
        config: CollectorConfig, logger: Logger, metrics: Metrics = Metrics(),
        kube: (any KubeReader)? = nil,
        sources: @escaping @Sendable (any IssueSink, any KeyValueStore) -> [any Service] = { _, _ in [] },
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.config = config
        self.kube = kube
        self.logger = logger
        self.metrics = metrics
        self.makeSources = sources
        self.onListening = onListening
    }

    /// Runs until a shutdown signal (or an unrecoverable error).
    public func run() async throws {
        HTTPClient.initializeProcess()
        do {
            try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw StartError.dataDirectory(config.dataDirectory, error)
        }
        let readiness = self.readiness
        let database = try CollectorStorage.open(config.storage, dataDirectory: config.dataDirectory, logger: logger)
        defer { database.close() }
        if let postgres = database as? PostgreSQLDatabase {
            // Unreachable at start is not fatal: /readyz says 503 and why until it answers.
            let logger = self.logger
            let problem = await BlockingThread.run(name: "cano-store-check") { () -> String? in
                do { try postgres.checkAvailable(); return nil } catch { return "\(error)" }
            }
            if let problem {
                readiness.markStorageUnavailable(problem)
                logger.error("PostgreSQL is unreachable; alerts are refused with 503 until it answers", metadata: ["reason": .string(problem)])
            }
        }
        let crashReport = try CrashGuard.install(markerPath: CrashGuard.markerPath(inDataDirectory: config.dataDirectory))

        let catalog = try PluginCatalog.scan(config.plugins)
        catalog.report(to: logger, metrics: metrics)
        let pluginServices = PluginServices(logger: logger, store: SQLKeyValueStore(database: database), metrics: metrics)
        // Destinations that cannot be created now are retried in the background; their
        // deliveries are queued meanwhile and flow once created (or outlive max_age).
        let factory = DestinationFactory(catalog: catalog, services: pluginServices)
        let supervisor = DestinationSupervisor(
            factory: factory, configs: config.destinations,
            readiness: readiness, metrics: metrics, logger: logger, backoff: destinationBackoff)
        let initial = await supervisor.createAll()

        let policies = Dictionary(uniqueKeysWithValues: config.destinations.map { ($0.name, $0.effectiveDelivery) })
        let logger = self.logger
        let engine = DeliveryEngine(
            database: database, destinations: Array(initial.values), policies: policies, metrics: metrics, logger: logger,
            claimLease: config.storage.postgres?.claimLease ?? .seconds(30),
            onQuarantine: { readiness.markSuspect($0, reason: $1) },
            onStoreHealth: { problem in
                let was = readiness.storageUnavailableReason
                if let problem { readiness.markStorageUnavailable(problem) } else { readiness.markStorageAvailable() }
                if was != nil && problem == nil { logger.info("the store answers again; intake and deliveries resume") }
            })
        let router = IssueRouter(routes: config.routes, defaultDestinations: config.defaultDestinations, defaultNotify: config.defaultNotify)
        let dispatcher = Dispatcher(
            database: database, routePolicies: router.policies, timeIntervals: config.timeIntervals, deliveryPolicies: policies,
            storms: Dictionary(uniqueKeysWithValues: config.destinations.map { ($0.name, $0.effectiveStorm) }),
            metrics: metrics, logger: logger, groupDestinations: Set(config.destinations.filter(factory.acceptsGroups).map(\.name)),
            onQueued: { engine.notify() })
        // The console's history: written only when the console is on.
        let journal = config.ui.enabled ? IssueJournal(database: database, keep: config.ui.history) : nil
        let outbox = Outbox(database: database, router: router, policies: policies, metrics: metrics, logger: logger,
                            dispatcher: dispatcher, journal: journal, onQueued: { engine.loadCommitted() })
        try engine.start(crashReport: crashReport)
        supervisor.start(engine: engine)
        dispatcher.start()

        // Enrichment, then diagnosis, run in front of the outbox: senders are acknowledged
        // after the commit.
        let diagnosis = DiagnosisStage(config: config.diagnosis, kube: kube, prometheus: config.prometheus, next: outbox, metrics: metrics, logger: logger)
        let sink = try EnrichmentStage.make(config: config.enrichment, kube: kube, catalog: catalog, services: pluginServices,
                                            next: diagnosis, metrics: metrics, logger: logger,
                                            externalURL: config.server.externalURL, prometheus: config.prometheus)
        let intake = AlertmanagerIntake(config: config, sink: sink, metrics: metrics, logger: logger)
        let onListening = self.onListening
        let silenceStore = SilenceStore(database: database)
        let silences = SilencesAPI(store: silenceStore, auth: config.server.auth, adminToken: config.server.adminToken, metrics: metrics, logger: logger)
        let console = journal.map { journal in
            Console(config: config, backend: Console.Backend(
                journal: journal, deliveries: DeliveryStore(database: database), silences: silences, silenceStore: silenceStore, intake: intake,
                router: router, previewer: Previewer(factory: factory, destinations: config.destinations), readiness: readiness,
                retryDeadLetters: { try engine.retryDeadLetters(ids: $0) },
                prepare: { [config] issue in
                    var out = config.enrichment.enabled ? await sink.enrich(issue) : issue
                    if config.diagnosis.enabled, DiagnosisStage.wantsDiagnosis(out) { out = await diagnosis.diagnose(out, analysis: false) }
                    return out
                }), metrics: metrics, logger: logger)
        }
        let http = HTTPServer.makeApplication(
            config: config.server, intake: intake, readiness: readiness, metrics: metrics, logger: logger,
            silences: silences, console: console,
            onListening: { port in
                readiness.markReady()
                await onListening(port)
            })
        let grace = config.server.shutdownGrace
        let services: [any Service] = [
            DrainOnShutdown(name: "delivery") {
                _ = await BlockingThread.run(name: "cano-stop-create") { supervisor.stop(deadline: Date().addingTimeInterval(DeliveryEngine.seconds(grace))) }
                let result = await engine.drain(deadline: .now + grace)
                logger.info("deliveries drained", metadata: ["completed": .stringConvertible(result.completed), "in_flight": .stringConvertible(result.inFlight)])
            },
        ] + makeSources(sink, SQLKeyValueStore(database: database, table: .sources)) + [
            NamingBindFailures(app: http, server: config.server),
            DrainOnShutdown(name: "readiness") { readiness.markNotReady() },
        ]
        logger.info("cano-collector starting", metadata: [
            "listen": .string("\(config.server.host):\(config.server.port)"),
            "destinations_ready": .stringConvertible(initial.count),
            "destinations_failed": .stringConvertible(supervisor.failedDestinations.count),
        ])
        // Services stop in reverse order: readiness first, then HTTP intake, then the
        // cluster watchers, then delivery drains.
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await outbox.close()
        await BlockingThread.run(name: "cano-stop-dispatch") { dispatcher.stop() }
        for destination in supervisor.readyDestinations.values {
            guard let shutdownable = destination as? any ShutdownableDestination, !shutdownable.shutdown() else { continue }
            var metadata: Logger.Metadata = ["destination": .string(destination.name)]
            if let plugin = destination as? PluginDestination {
                metadata["plugin"] = .string(plugin.instance.plugin.name)
                metadata["plugin_path"] = .string(plugin.instance.plugin.path)
            }
            logger.error("plugin stuck in a call at shutdown; exiting without destroying it (its delivery stays queued)", metadata: metadata)
        }
        logger.info("cano-collector stopped")
    }
}

/// The HTTP server, whose failure to bind `server.host:server.port` is thrown as a
/// ``StartError`` naming them: only this service binds, so no other error is read as one.
struct NamingBindFailures<App: Service>: Service {
    let app: App
    let server: ServerConfig

    func run() async throws {
        do {
            try await app.run()
        } catch {
            throw StartError(bindFailure: error, server: server) ?? error
        }
    }
}

/// A service that does nothing until graceful shutdown, then runs `action` once.
struct DrainOnShutdown: Service {
    let name: String
    let action: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await action()
    }
}
