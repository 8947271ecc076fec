import CanoSDK
import Logging

/// The destinations the collector could create, and why the others could not.
public struct DestinationSet: Sendable {
    /// Ready destinations by configured name.
    public var ready: [String: any Destination] = [:]
    /// One entry per destination that could not be created; the rest keep working.
    public var failures: [DestinationSetupError] = []

    /// An empty set.
    public init() {}
}

/// Turns the configured destinations into live ones: built-ins (`file`) or plugin
/// instances from the catalog.
public struct DestinationFactory: Sendable {
    /// Type names that are built in; a plugin cannot replace them.
    public static let builtInTypes: Set<String> = [FileDestination.typeName]

    /// Where plugin types come from.
    public let catalog: PluginCatalog
    /// Lent to every plugin instance created.
    public let services: PluginServices

    /// A factory over a scanned catalog.
    public init(catalog: PluginCatalog, services: PluginServices) {
        self.catalog = catalog
        self.services = services
    }

    /// Creates every destination it can. Each failure is logged once, naming the
    /// destination and the reason, counted in
    /// `cano_destination_setup_failures_total{destination,code}` and returned in `failures`.
    public func make(_ configs: [DestinationConfig]) -> DestinationSet {
        var set = DestinationSet()
        for config in configs {
            do {
                set.ready[config.name] = try make(config)
            } catch {
                services.logger.error("destination not created", metadata: [
                    "destination": .string(config.name), "type": .string(config.type),
                    "code": .string(error.code.description), "reason": .string(error.reason),
                ])
                services.metrics.increment("cano_destination_setup_failures_total", ["destination": config.name, "code": error.code.description])
                set.failures.append(error)
            }
        }
        return set
    }

    /// Creates one destination.
    public func make(_ config: DestinationConfig) throws(DestinationSetupError) -> any Destination {
        if config.type == FileDestination.typeName {
            return try FileDestination(name: config.name, config: config.config)
        }
        guard let plugin = catalog.plugin(named: config.type) else {
            if let refusal = catalog.refusal(forName: config.type) {
                throw DestinationSetupError(.pluginRefused, destination: config.name, type: config.type,
                                            reason: "its plugin \(refusal.path) was refused: \(refusal.reason)")
            }
            let known = (Array(Self.builtInTypes) + catalog.loaded.filter { $0.kind == .destination }.map(\.name)).sorted()
            var reason = "unknown destination type \"\(config.type)\" (available: \(known.joined(separator: ", "))"
            let unnamed = catalog.refused.filter { $0.pluginName == nil }
            if !unnamed.isEmpty {
                reason += "; refused plugin files: " + unnamed.map { "\($0.path) (\($0.code))" }.joined(separator: ", ")
            }
            throw DestinationSetupError(.unknownType, destination: config.name, type: config.type, reason: reason + ")")
        }
        let json: [UInt8]
        do {
            json = try IssueCoding.encode(config.config)
        } catch {
            throw DestinationSetupError(.invalidConfig, destination: config.name, type: config.type, reason: "config does not encode as JSON")
        }
        return try PluginDestination(name: config.name, plugin: plugin, config: json, services: services)
    }
}
