import CanoSDK
import PrometheusEnricher

// The only symbol this library exports for the host (see the Webhook plugin's Entry).

/// Returns the Prometheus graph plugin's descriptor; see cano_plugin.h.
@_cdecl("cano_plugin_entry")
public func canoPluginEntry() -> UnsafeRawPointer {
    PluginExport.enricher(PrometheusGraphs.self)
}
