import ArgumentParser
import Collector

/// `cano-collector plugin-host`: hidden; the child side of a destination with
/// `isolation: process`. The collector starts it with a socket as stdin and stdout and
/// speaks the frame protocol of docs/plugin-abi.md ("Process isolation") over it; nobody
/// runs it by hand.
struct PluginHostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin-host", abstract: "Host one destination plugin for the collector (internal).", shouldDisplay: false)

    @Option(help: "The plugin file (.so).")
    var plugin: String

    @Option(help: "The destination name (the key-value namespace and log label).")
    var name: String

    /// Registers this binary as able to host plugins, and returns the command type for
    /// the subcommand list. Called while the command line is set up, so it has run before
    /// `run` builds any destination.
    static func registered() -> PluginHostCommand.Type {
        PluginHostExecutable.register(PluginCatalog.executablePath())
        return PluginHostCommand.self
    }

    func run() throws {
        let status = PluginHostServer.run(pluginPath: plugin, name: name)
        if status != 0 { throw ExitCode(status) }
    }
}
