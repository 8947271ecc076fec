import Logging

extension PluginCatalog {
    /// Logs one line per file (refusals at error level, naming the file and the reason)
    /// and exports `cano_plugins_loaded` and `cano_plugin_load_failures_total{reason}`.
    /// The collector calls it once after scanning.
    public func report(to logger: Logger, metrics: Metrics) {
        metrics.describe("cano_plugins_loaded", type: "gauge", help: "Plugin libraries loaded and usable.")
        metrics.describe("cano_plugin_load_failures_total", type: "counter", help: "Plugin files refused at load time, by reason.")
        metrics.set("cano_plugins_loaded", to: Double(loaded.count))
        for entry in entries {
            switch entry {
            case .loaded(let plugin):
                logger.info("plugin loaded", metadata: [
                    "plugin": .string(plugin.name), "version": .string(plugin.version), "kind": .string(plugin.kind.rawValue),
                    "path": .string(plugin.path), "capabilities": .string(plugin.capabilities.description),
                ])
            case .refused(let error):
                metrics.increment("cano_plugin_load_failures_total", ["reason": error.code.description])
                logger.error("plugin refused", metadata: [
                    "path": .string(error.path), "code": .string(error.code.description), "reason": .string(error.reason),
                ])
            }
        }
    }
}
