import ArgumentParser
import CanoSDK
import Collector
import Logging

/// `cano-collector plugins`: inspect plugin files without starting the collector.
struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List plugins and check a plugin file for conformance.",
        subcommands: [List.self, Check.self])

    /// `plugins list`: what would be loaded, and why anything would not.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the plugins found and why any file was refused.",
            discussion: """
                Without --plugin-dir, searches plugins/ next to the binary, then \
                /usr/lib/cano-collector/plugins (missing defaults are skipped). Exits 1 when a file \
                was refused, 2 when a given directory does not exist.
                """)

        @Option(name: .customLong("plugin-dir"), help: "A directory of *.so plugins (repeatable); replaces the defaults.")
        var pluginDirectories: [String] = []

        @Option(name: .customLong("plugin"), help: "A plugin file to load as well (repeatable).")
        var pluginPaths: [String] = []

        func run() throws {
            HTTPClient.initializeProcess()
            var config = PluginSearchConfig()
            config.directories = pluginDirectories
            config.paths = pluginPaths
            let catalog: PluginCatalog
            do {
                catalog = try PluginCatalog.scan(config)
            } catch {
                print("error: \(error.path): \(error.reason)")
                throw ExitCode(2)
            }
            let searched = pluginDirectories.isEmpty ? PluginCatalog.defaultDirectories() : pluginDirectories
            print("searched: \(searched.joined(separator: ", "))" + (pluginPaths.isEmpty ? "" : "; files: \(pluginPaths.joined(separator: ", "))"))
            if catalog.entries.isEmpty { print("no plugin files found") }
            for entry in catalog.entries {
                switch entry {
                case .loaded(let p):
                    print("loaded   \(p.name) \(p.version) (\(p.kind.rawValue), toolchain \(p.toolchain ?? "none")) \(p.path)")
                case .refused(let e):
                    print("refused  \(e.path): \(e.reason) [\(e.code)]")
                }
            }
            if !catalog.refused.isEmpty { throw ExitCode(1) }
        }
    }

    /// `plugins check PATH`: a conformance run against a local capture server.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a plugin, create it and deliver sample Issues to a local capture server.",
            discussion: """
                Prints PASS/FAIL per check with advice and exits 1 if any check failed. \
                In --config-json, {{capture_url}} is replaced by the capture server's URL, e.g. \
                --config-json '{"url":"{{capture_url}}"}' for the webhook plugin.
                """)

        @Argument(help: "The plugin file (.so).")
        var path: String

        @Option(name: .customLong("config-json"), help: "The instance config as a JSON object.")
        var configJSON = "{}"

        @Option(help: "Seconds each plugin call may take.")
        var timeout: Double = 10

        @Flag(help: "Show the plugin's own log lines (JSON, on stderr).")
        var verbose = false

        func run() async throws {
            HTTPClient.initializeProcess()
            let logger = verbose
                ? Logger(label: "cano.plugins.check") { JSONLogHandler(label: $0, level: .debug) }
                : Logger(label: "cano.plugins.check") { _ in SwiftLogNoOpLogHandler() }
            let report = await PluginConformance.run(
                path: path, configJSON: configJSON, timeout: .milliseconds(Int64(max(0.001, timeout) * 1000)), logger: logger)
            print(report.text, terminator: "")
            if !report.passed { throw ExitCode(1) }
        }
    }
}
