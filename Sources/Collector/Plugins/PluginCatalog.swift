import CanoSDK

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Every plugin file the host found, each either loaded or refused with its reason.
///
/// Files come from plugin directories (every `*.so`, in name order) and then from
/// explicit paths. When two files declare the same plugin name the first one wins and the
/// later one is refused, so what runs never depends on which file happens to load last.
public struct PluginCatalog: Sendable {
    /// One plugin file's fate.
    public enum Entry: Sendable {
        case loaded(LoadedPlugin)
        case refused(PluginLoadError)

        /// The file this entry is about.
        public var path: String {
            switch self {
            case .loaded(let plugin): plugin.path
            case .refused(let error): error.path
            }
        }
    }

    /// In the order the files were examined.
    public private(set) var entries: [Entry] = []

    /// An empty catalog: only built-in destinations are available.
    public init() {}

    /// The plugins that loaded.
    public var loaded: [LoadedPlugin] {
        entries.compactMap { if case .loaded(let p) = $0 { p } else { nil } }
    }

    /// The files that were refused.
    public var refused: [PluginLoadError] {
        entries.compactMap { if case .refused(let e) = $0 { e } else { nil } }
    }

    /// The loaded plugin with this type name, if any.
    public func plugin(named name: String) -> LoadedPlugin? {
        loaded.first { $0.name == name }
    }

    /// The refusal of a file that declared this plugin name, if any: tells a destination
    /// of that type why its plugin is missing.
    public func refusal(forName name: String) -> PluginLoadError? {
        refused.first { $0.pluginName == name }
    }

    /// The directories searched when none are configured: `plugins/` next to the running
    /// binary, then `/usr/lib/cano-collector/plugins`.
    public static func defaultDirectories(executablePath: String? = PluginCatalog.executablePath()) -> [String] {
        var dirs: [String] = []
        if let executablePath, let slash = executablePath.lastIndex(of: "/") {
            dirs.append(String(executablePath[..<slash]) + "/plugins")
        }
        dirs.append("/usr/lib/cano-collector/plugins")
        return dirs
    }

    /// The running binary, from /proc/self/exe.
    public static func executablePath() -> String? {
        PluginLoader.realPath("/proc/self/exe")
    }

    /// Scans the configured directories (or the defaults when none are) and paths.
    ///
    /// - Throws: when a configured directory does not exist. Missing default directories
    ///   are skipped silently: most installs have only one of them.
    public static func scan(
        _ config: PluginSearchConfig, hostToolchain: String = PluginExport.toolchain
    ) throws(PluginLoadError) -> PluginCatalog {
        let configured = !config.directories.isEmpty
        let directories = configured ? config.directories : defaultDirectories()
        var files: [String] = []
        for directory in directories {
            guard isDirectory(directory) else {
                if configured {
                    throw PluginLoadError(.directoryNotFound, path: directory, reason:
                        "plugin directory does not exist or is not a directory")
                }
                continue
            }
            files += sharedObjects(in: directory)
        }
        files += config.paths

        var catalog = PluginCatalog()
        var seenPaths = Set<String>()
        for file in files {
            // The same file reached twice (a directory and an explicit path) is one plugin.
            if let resolved = PluginLoader.realPath(file), !seenPaths.insert(resolved).inserted { continue }
            catalog.add(file, hostToolchain: hostToolchain)
        }
        return catalog
    }

    /// Loads one file into the catalog, refusing it if its name is already taken (by an
    /// earlier file or a built-in destination).
    public mutating func add(_ path: String, hostToolchain: String = PluginExport.toolchain) {
        do {
            let plugin = try PluginLoader.load(path: path, hostToolchain: hostToolchain)
            if DestinationFactory.builtInTypes.contains(plugin.name) {
                entries.append(.refused(PluginLoadError(.duplicateName, path: plugin.path, reason:
                    "plugin name \"\(plugin.name)\" is taken by a built-in destination; rename the plugin",
                    pluginName: plugin.name)))
            } else if let first = self.plugin(named: plugin.name) {
                entries.append(.refused(PluginLoadError(.duplicateName, path: plugin.path, reason:
                    "plugin name \"\(plugin.name)\" is already provided by \(first.path); remove one of the two files",
                    pluginName: plugin.name)))
            } else {
                entries.append(.loaded(plugin))
            }
        } catch {
            entries.append(.refused(error))
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    private static func sharedObjects(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".so"), !name.hasPrefix(".") { names.append(name) }
        }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return names.sorted().map { base + "/" + $0 }
    }
}
