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
    /// The executable that runs `plugin-host` for `isolation: process`; nil when this
    /// process cannot host plugins in children (then plugins without an explicit
    /// `isolation` run in process, and `isolation: process` is a setup error).
    public var pluginHostExecutable: String?
    /// Passed to every plugin create(): `.validateOnly` for `validate`'s dry run.
    public var createFlags: PluginCreateFlags = []

    /// Plugins shipped with the collector, built and tested with it: in process by default.
    public static let shippedPlugins: Set<String> = ["slack", "webhook", "pagerduty", "opsgenie", "jira", "servicenow", "msteams", "datadog", "kafka"]

    /// A factory over a scanned catalog. `pluginHostExecutable` defaults to the binary
    /// registered in `PluginHostExecutable` (the `cano-collector` binary registers itself).
    public init(catalog: PluginCatalog, services: PluginServices, pluginHostExecutable: String? = PluginHostExecutable.path) {
        self.catalog = catalog
        self.services = services
        self.pluginHostExecutable = pluginHostExecutable
    }

    /// Where a plugin runs when its destination does not say: shipped plugins (Slack,
    /// webhook) in process, where they cost nothing extra; any other plugin in a child
    /// process, because a third-party crash or hang must not take the collector down and
    /// the isolation costs well under a millisecond per delivery (docs/benchmarks.md).
    /// Without a plugin-host executable everything runs in process.
    public func defaultIsolation(for plugin: LoadedPlugin) -> PluginIsolation {
        guard pluginHostExecutable != nil, !Self.shippedPlugins.contains(plugin.name) else { return .inProcess }
        return .process
    }

    /// True when destinations of `config`'s type render grouped Issues (type `group`,
    /// docs/noise-control.md): its plugin declared `CANO_CAPABILITY_GROUPS`. Known from
    /// the type alone, read at load time, so the dispatcher decides the same before the
    /// destination is created, while it cannot be, and wherever its plugin runs (in process
    /// or in a child). Built-ins and types no plugin provides get each member of a group
    /// as an Issue of its own: the file destination's readers expect one Issue per line,
    /// and a destination waiting for its plugin must still show its queued deliveries.
    public func acceptsGroups(_ config: DestinationConfig) -> Bool {
        guard !Self.builtInTypes.contains(config.type), let plugin = catalog.plugin(named: config.type) else { return false }
        return plugin.capabilities.contains(.groups)
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

    /// Creates one destination. Its `config` may hold `*_file` placeholders (from
    /// ``ConfigLoader``): they are resolved here, where the plugin's `path_keys` are known.
    public func make(_ config: DestinationConfig) throws(DestinationSetupError) -> any Destination {
        if config.type == FileDestination.typeName {
            return try FileDestination(name: config.name, config: resolvingFiles(config, pathKeys: []))
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
        let json = try configJSON(config, plugin)
        switch config.isolation ?? defaultIsolation(for: plugin) {
        case .inProcess:
            return try PluginDestination(name: config.name, plugin: plugin, config: json, services: services, flags: createFlags)
        case .process:
            guard let executable = pluginHostExecutable else {
                throw DestinationSetupError(.createFailed, destination: config.name, type: config.type,
                                            reason: "isolation: process needs the cano-collector executable to host the plugin, and this process has none")
            }
            return try IsolatedPluginDestination(name: config.name, plugin: plugin, config: json, services: services, executable: executable,
                                                 flags: createFlags)
        }
    }

    /// An instance of `config`'s plugin for the console's message preview (ABI v1.3
    /// render), created with `.validateOnly` so it makes no credential check and never
    /// delivers. Nil when there is nothing to preview with: a built-in, a plugin without
    /// render(), or one that runs in a child process (`isolation: process`), whose code
    /// must not run in the collector's own process.
    public func previewInstance(_ config: DestinationConfig) throws(DestinationSetupError) -> PluginInstance? {
        guard !Self.builtInTypes.contains(config.type), let plugin = catalog.plugin(named: config.type), plugin.canRender,
              (config.isolation ?? defaultIsolation(for: plugin)) == .inProcess else { return nil }
        return try PluginInstance(plugin: plugin, name: config.name, configJSON: configJSON(config, plugin), services: services, flags: .validateOnly)
    }

    /// The config handed to the plugin's create(), as JSON.
    private func configJSON(_ config: DestinationConfig, _ plugin: LoadedPlugin) throws(DestinationSetupError) -> [UInt8] {
        do {
            return try IssueCoding.encode(try resolvingFiles(config, pathKeys: plugin.pathKeys))
        } catch let error as DestinationSetupError {
            throw error
        } catch {
            throw DestinationSetupError(.invalidConfig, destination: config.name, type: config.type, reason: "config does not encode as JSON")
        }
    }

    /// `config.config` with its `*_file` placeholders resolved: `pathKeys` passed on as
    /// paths, every other file read (a Secret) and registered with ``SecretScrubber``. A
    /// file that cannot be read (a Secret not mounted yet) fails this create, retryably.
    private func resolvingFiles(_ config: DestinationConfig, pathKeys: Set<String>) throws(DestinationSetupError) -> JSONValue {
        do {
            let resolved = try YAMLReader.resolveFiles(in: config.config, pathKeys: pathKeys)
            SecretScrubber.shared.register(resolved.secrets)
            return resolved.config
        } catch {
            throw DestinationSetupError(.invalidConfig, destination: config.name, type: config.type, reason: "\(error)", retryable: true)
        }
    }
}
