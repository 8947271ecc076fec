import ArgumentParser
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
        subcommands: [RunCommand.self, ValidateCommand.self, PluginsCommand.self, DeliveriesCommand.self],
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
        let level = logLevel
        LoggingSystem.bootstrap { JSONLogHandler(label: $0, level: level) }
        let logger = Logger(label: "cano-collector")
        let config: CollectorConfig
        do {
            config = try ConfigLoader.load(path: options.config)
        } catch {
            logger.critical("invalid configuration", metadata: ["problems": .string(error.description)])
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
        try await CollectorApp(config: config, logger: logger, kube: kube, sources: { sink in
            kubernetes.enabled ? [KubernetesService(sources: KubernetesSources(config: kubernetes, sink: sink, logger: Logger(label: "cano.kubernetes")))] : []
        }).run()
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

/// `cano-collector validate`: every config error, with its location.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate", abstract: "Check a configuration file and report every error with its location.")

    @OptionGroup var options: ConfigOptions

    func run() throws {
        do {
            let config = try ConfigLoader.load(path: options.config)
            print("\(options.config): OK (\(config.destinations.count) destinations, \(config.routes.count) routes)")
        } catch {
            print(error.description)
            throw ExitCode(1)
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
