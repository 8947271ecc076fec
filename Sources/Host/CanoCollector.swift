import ArgumentParser
import Collector
import Logging

/// The `cano-collector` command line.
@main
struct CanoCollector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cano-collector",
        abstract: "A Kubernetes-native alert and event agent.",
        discussion: "Receives Alertmanager webhooks and watches the Kubernetes API, turns signals into Issues, and delivers them through destination plugins.",
        subcommands: [ValidateCommand.self, PluginsCommand.self],
        defaultSubcommand: nil)
}

/// Options shared by the commands that read the config file.
struct ConfigOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "The YAML configuration file.")
    var config: String
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
