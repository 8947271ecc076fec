import PrometheusAPI
import Logging

/// The enrichers workflows can name: the built-ins plus configured enricher plugins.
public struct EnricherRegistry: Sendable {
    /// By name.
    public private(set) var all: [String: any Enricher] = [:]

    /// An empty registry.
    public init() {}

    /// The built-in enrichers. The Kubernetes ones read through `kube`; without cluster
    /// access they fail with a short "no cluster access" note instead of being missing.
    /// `externalURL` (`server.external_url`) gives Issues not from Alertmanager a Silence
    /// link to the collector's own form.
    public static func builtins(kube: (any KubeReader)?, externalURL: String? = nil) -> EnricherRegistry {
        var registry = EnricherRegistry()
        for enricher in BuiltinEnrichers.make(kube: kube, externalURL: externalURL) { registry.register(enricher) }
        return registry
    }

    /// Adds (or replaces) an enricher under its name.
    public mutating func register(_ enricher: any Enricher) {
        all[enricher.name] = enricher
    }

    /// The enricher registered under `name`.
    public func enricher(named name: String) -> (any Enricher)? { all[name] }

    /// Every registered name (for error messages).
    public var names: [String] { Array(all.keys) }
}

/// The built-in enrichers, in one list.
enum BuiltinEnrichers {
    static let names: Set<String> = [
        "alert_labels", "pod_logs", "container_status", "resources", "events", "owner_chain", "node", "helm_release",
        "resource_quota",
    ]

    static func make(kube: (any KubeReader)?, externalURL: String?) -> [any Enricher] {
        let api = KubeAPI(reader: kube)
        return [
            AlertLabelsEnricher(externalURL: externalURL),
            PodLogsEnricher(api: api),
            ContainerStatusEnricher(api: api),
            ResourcesEnricher(api: api),
            EventsEnricher(api: api),
            OwnerChainEnricher(api: api),
            NodeEnricher(api: api),
            HelmReleaseEnricher(api: api),
            ResourceQuotaEnricher(api: api),
        ]
    }
}

extension EnrichmentStage {
    /// The stage as the host runs it: the built-in enrichers over `kube` (nil without
    /// cluster access), plus one instance per configured enricher plugin from `catalog`,
    /// in front of `next` (the durable outbox). With `prometheus` set and the graph plugin
    /// in `catalog`, an instance of it named `prometheus` joins, configured from it (its
    /// default workflow draws OOM kills, CPU throttling and crash loops).
    public static func make(
        config: EnrichmentConfig, kube: (any KubeReader)?, catalog: PluginCatalog, services: PluginServices,
        next: any IssueSink, metrics: Metrics, logger: Logger, externalURL: String? = nil, prometheus: PrometheusConfig? = nil
    ) throws(EnrichmentSetupError) -> EnrichmentStage {
        var config = config
        if let prometheus, !config.plugins.contains(where: { $0.type == DefaultWorkflows.graphPluginType }) {
            if catalog.plugin(named: DefaultWorkflows.graphPluginType)?.kind == .enricher {
                config.plugins.append(EnricherPluginConfig(name: "prometheus", type: DefaultWorkflows.graphPluginType, config: prometheus.json))
            } else {
                logger.warning("prometheus: no graphs, because the prometheus enricher plugin (libCanoPrometheus.so) is not in plugins.paths; the OOM diagnosis still reads Prometheus")
            }
        }
        if kube == nil, config.enabled {
            logger.warning("no cluster access: the Kubernetes enrichers (pod logs, status, events...) will add nothing")
        }
        var registry = EnricherRegistry.builtins(kube: kube, externalURL: externalURL)
        var pluginServices = services
        if pluginServices.kube == nil { pluginServices.kube = kube }
        for plugin in try PluginEnricher.make(config.plugins, catalog: catalog, services: pluginServices) {
            registry.register(plugin)
        }
        return try EnrichmentStage(config: config, enrichers: registry, next: next, metrics: metrics, logger: logger)
    }
}
