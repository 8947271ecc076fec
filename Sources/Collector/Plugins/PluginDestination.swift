/// A destination backed by a plugin instance (webhook, slack, a C plugin...).
///
/// deliver() blocks in the plugin, so the engine calls it from its delivery threads only.
/// The instance is destroyed by `shutdown()` or, failing that, when this object goes away.
public final class PluginDestination: ShutdownableDestination {
    /// The configured destination name.
    public let name: String
    /// The instance; shared with `plugins check`, which also needs raw results.
    public let instance: PluginInstance

    /// Creates the instance by calling the plugin's create() with `config` and `flags`.
    public init(name: String, plugin: LoadedPlugin, config: [UInt8], services: PluginServices,
                flags: PluginCreateFlags = []) throws(DestinationSetupError) {
        guard plugin.kind == .destination else {
            throw DestinationSetupError(.notADestination, destination: name, type: plugin.name,
                                        reason: "plugin \(plugin.name) (\(plugin.path)) is an enricher, not a destination")
        }
        self.name = name
        instance = try PluginInstance(plugin: plugin, name: name, configJSON: config, services: services, flags: flags)
    }

    /// Calls the plugin's deliver() (serialised unless it is reentrant) and maps its result.
    public func deliver(issueJSON: [UInt8], context: DeliveryContext) -> DeliveryOutcome {
        instance.call(.deliver, issueJSON: issueJSON, context: context).outcome
    }

    /// Destroys the plugin instance; later deliveries answer `.retry` ("shut down").
    /// Returns false when the plugin was stuck in a call and was abandoned instead (see
    /// ``PluginInstance/destroy(timeout:)``).
    @discardableResult
    public func shutdown() -> Bool {
        instance.destroy()
    }
}
