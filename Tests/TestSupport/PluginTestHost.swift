import CanoSDK
import Collector
import Logging

/// The collector's own host-services table for calling a Swift plugin's create directly
/// (its `init(config:host:)`), with the plugin's log captured and, when asked,
/// `CANO_CREATE_VALIDATE_ONLY` set: what a destination's credential-check tests need.
///
/// A class so the table outlives every call the plugin makes through it: the C table
/// points into the bridge, which must not go away before the plugin instance.
public final class PluginTestHost: @unchecked Sendable {
    // @unchecked: written once in init, read-only afterwards (the table is the host's).
    /// Every line the plugin logged through the host.
    public let logs = LogCapture()
    private let bridge: HostServicesBridge

    public init(validateOnly: Bool = false) {
        let logs = logs
        let logger = Logger(label: "cano.test") { JSONLogHandler(label: $0, level: .debug, output: .capture(logs)) }
        bridge = HostServicesBridge(instance: "check", plugin: "check",
                                    services: PluginServices(logger: logger, store: InMemoryKeyValueStore(), metrics: Metrics()))
        if validateOnly { bridge.table.pointee.create_flags = PluginCreateFlags.validateOnly.rawValue }
    }

    /// The table as the plugin sees it.
    public var services: HostServices { HostServices(bridge.table) }

    /// Runs `P`'s create on a dedicated thread, as the host does: create may make a network
    /// call (a credential check), so it must never block Swift's cooperative pool.
    /// - Returns: create's error message, or nil when it succeeded.
    public func create<P: DestinationPlugin>(_ type: P.Type, config: JSONValue) async -> String? {
        let config = PluginConfig(json: config)
        let services = services
        return await BlockingThread.run { () -> String? in
            do throws(PluginError) {
                _ = try P(config: config, host: services)
                return nil
            } catch {
                return error.message
            }
        }
    }
}
