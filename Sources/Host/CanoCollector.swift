import ArgumentParser
import CanoSDK
import Collector
import KubeSources
import Logging
import ServiceLifecycle

/// The `cano-collector` command line.
@main
struct CanoCollector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cano-collector",
        abstract: "A Kubernetes-native alert and event agent.",
        discussion: "Receives Alertmanager webhooks and watches the Kubernetes API, turns signals into Issues, and delivers them through destination plugins.",
        subcommands: [RunCommand.self, ValidateCommand.self, PluginsCommand.self, DeliveriesCommand.self, SilencesCommand.self, PluginHostCommand.registered()],
        defaultSubcommand: nil)
}

/// Options shared by the commands that read the config file.
struct ConfigOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "The YAML configuration file.")
    var config: String
}

/// `cano-collector run`: the agent itself.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the collector until SIGTERM or SIGINT.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        // Before the server asks for the current time zone: UTC named GMT keeps ICU's
        // time-zone data out of memory (2 MiB resident).
        ProcessTimeZone.nameUTCAsGMT()
        let level = logLevel
        LoggingSystem.bootstrap { JSONLogHandler(label: $0, level: level) }
        let logger = Logger(label: "cano-collector")
        let config: CollectorConfig
        do {
            config = try ConfigLoader.load(path: options.config)
        } catch {
            // The log handler scrubs too; scrubbing here keeps this line safe under any handler.
            logger.critical("invalid configuration", metadata: ["problems": .string(SecretScrubber.shared.scrub(error.description))])
            throw ExitCode(2)
        }
        let kubernetes = config.kubernetes
        // The enrichers read the cluster with the same connection as the watchers.
        var kube: (any KubeReader)?
        if kubernetes.enabled {
            do { kube = try KubeAPIReader.connecting(to: kubernetes) } catch {
                logger.error("no cluster access for the enrichers", metadata: ["reason": .string("\(error)")])
            }
        }
        let metrics = Metrics()
        do {
            try await CollectorApp(config: config, logger: logger, metrics: metrics, kube: kube, sources: { sink, state in
                kubernetes.enabled
                    ? [KubernetesService(sources: KubernetesSources(
                        config: kubernetes, sink: sink, logger: Logger(label: "cano.kubernetes"), stateStore: state, metrics: metrics))]
                    : []
            }).run()
        } catch {
            // A JSON line like every other, for the log pipeline, rather than the argument
            // parser's "Error: ..." on stderr.
            logger.critical("cano-collector stopped on an error", metadata: ["error": .string(SecretScrubber.shared.scrub("\(error)"))])
            throw ExitCode(1)
        }
    }
}

/// Runs the Kubernetes watchers as a service: they stop when shutdown begins.
struct KubernetesService: Service {
    let sources: KubernetesSources

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await sources.run()
        }
    }
}

/// `cano-collector validate`: every config error, with its location, then a dry run of
/// every destination: the plugins are loaded and each destination's `create` is called,
/// then `destroy` (plugins must not deliver in create: docs/plugin-abi.md). Each failure
/// is reported by destination name.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a configuration file and report every error with its location; load the plugins and create (then destroy) every destination.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config: CollectorConfig
        do {
            config = try ConfigLoader.load(path: options.config)
        } catch {
            // The loader registered the file's secrets before failing; none is printed.
            print(SecretScrubber.shared.scrub(error.description))
            throw ExitCode(1)
        }
        // Plugin create blocks (and may do I/O): on a thread of its own.
        let problems = await BlockingThread.run(name: "cano-validate") { Self.dryRun(config) }
        guard problems.isEmpty else {
            let header = problems.count == 1 ? "\(options.config): 1 problem" : "\(options.config): \(problems.count) problems"
            print(SecretScrubber.shared.scrub(([header] + problems.map { "  \(options.config): \($0)" }).joined(separator: "\n")))
            throw ExitCode(1)
        }
        print("\(options.config): OK (\(config.destinations.count) destinations, \(config.routes.count) routes)")
    }

    /// Loads the plugins and creates, then destroys, every destination; returns one line
    /// per problem (refused plugin files, destinations that cannot be created).
    static func dryRun(_ config: CollectorConfig) -> [String] {
        var problems: [String] = []
        let catalog: PluginCatalog
        do {
            catalog = try PluginCatalog.scan(config.plugins)
        } catch {
            return ["plugins: \(error)"]
        }
        for refusal in catalog.refused {
            problems.append("plugins: \(refusal)")
        }
        let quiet = Logger(label: "cano-collector.validate", factory: { _ in SwiftLogNoOpLogHandler() })
        let metrics = Metrics()
        var factory = DestinationFactory(catalog: catalog, services: PluginServices(logger: quiet, store: InMemoryKeyValueStore(), metrics: metrics))
        factory.createFlags = .validateOnly
        let supervisor = DestinationSupervisor(factory: factory, configs: config.destinations, readiness: Readiness(), metrics: metrics, logger: quiet)
        let known = Array(DestinationFactory.builtInTypes) + catalog.loaded.filter { $0.kind == .destination }.map(\.name)
        for (i, destination) in config.destinations.enumerated() {
            switch supervisor.create(destination) {
            case .success(let created):
                (created as? any ShutdownableDestination)?.shutdown()
            case .failure(let error):
                // Placed like the loader's problems ("12:11 destinations[2].type: ..."), at the
                // destination's type: what picks the plugin whose create failed.
                let place = destination.location.isEmpty ? "" : destination.location + " "
                var line = "\(place)destinations[\(i)].type: destination \"\(destination.name)\" (type \(destination.type)): \(error.reason)"
                if error.code == .unknownType, let close = Suggestion.closest(to: destination.type, in: known) {
                    line += "; did you mean \(close)?"
                }
                problems.append(line)
            }
        }
        return problems
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
