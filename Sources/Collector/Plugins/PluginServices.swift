import Logging

/// What the host lends every plugin instance through `cano_host_services`.
public struct PluginServices: Sendable {
    /// Plugin log lines go here, with `destination` and `plugin` metadata added.
    public var logger: Logger
    /// Backs kv_get/kv_put/kv_delete; each destination gets its own namespace.
    public var store: any KeyValueStore
    /// Backs counter_add (`cano_plugin_<name>_total{destination=...}`).
    public var metrics: Metrics
    /// Backs kube_get; nil when the collector has no cluster access.
    public var kube: (any KubeReader)?

    /// Bundles the services; `kube` is nil without cluster access.
    public init(logger: Logger, store: any KeyValueStore, metrics: Metrics, kube: (any KubeReader)? = nil) {
        self.logger = logger
        self.store = store
        self.metrics = metrics
        self.kube = kube
    }
}
