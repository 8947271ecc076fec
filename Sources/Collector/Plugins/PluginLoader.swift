import CanoSDK
import PluginABI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Loads plugin libraries and checks their descriptors against the host's ABI.
///
/// A library is opened with `RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE` and never closed:
/// Swift and Go images cannot be unloaded safely, and libcurl resolver threads may outlive
/// a call. A file that loaded once is remembered by its resolved path, so loading it
/// again (another catalog, a test) returns the same plugin without calling its entry
/// point twice.
public enum PluginLoader {
    /// The smallest descriptor a v1 host accepts (`CANO_DESCRIPTOR_V1_MIN_SIZE`, which
    /// Swift cannot import because it uses `offsetof`).
    public static let minimumDescriptorSize =
        MemoryLayout<cano_plugin_descriptor>.offset(of: \.free_buffer)! + MemoryLayout<UnsafeRawPointer>.size

    /// The host's ABI major version; plugins must match it.
    public static let abiMajor = Int(CANO_ABI_MAJOR)
    /// The host's ABI minor version; plugins may be older, never newer.
    public static let abiMinor = Int(CANO_ABI_MINOR)

    private static let loaded = Mutex<[String: LoadedPlugin]>([:])

    /// Loads and validates one plugin file.
    ///
    /// - Parameter hostToolchain: the toolchain a Swift plugin must match; the host's own
    ///   by default (tests override it to exercise the refusal).
    public static func load(path: String, hostToolchain: String = PluginExport.toolchain) throws(PluginLoadError) -> LoadedPlugin {
        guard let resolved = realPath(path) else {
            throw PluginLoadError(.fileNotFound, path: path, reason: "no such file")
        }
        if let plugin = loaded.withLock({ $0[resolved] }) {
            try checkToolchain(plugin.toolchain, path: resolved, name: plugin.name, hostToolchain: hostToolchain)
            return plugin
        }

        let handle = try open(resolved)
        guard let symbol = dlsym(handle, CANO_PLUGIN_ENTRY_SYMBOL) else {
            throw PluginLoadError(.missingSymbol, path: resolved, reason:
                "the library does not export \"\(CANO_PLUGIN_ENTRY_SYMBOL)\"; check `nm -D --defined-only \(resolved)` "
                + "(C: declare it with default visibility and extern \"C\" linkage; Swift: @_cdecl(\"\(CANO_PLUGIN_ENTRY_SYMBOL)\"))")
        }
        let entry = unsafeBitCast(symbol, to: cano_plugin_entry_fn.self)
        guard let raw = entry() else {
            throw PluginLoadError(.nullDescriptor, path: resolved, reason: "\(CANO_PLUGIN_ENTRY_SYMBOL)() returned NULL")
        }
        let plugin = try validate(descriptor: UnsafeRawPointer(raw), path: resolved, hostToolchain: hostToolchain)
        // Two threads loading the same file race harmlessly: the first stored value wins.
        return loaded.withLock { cache in
            if let existing = cache[resolved] { return existing }
            cache[resolved] = plugin
            return plugin
        }
    }

    /// Checks a descriptor as `cano_plugin_entry` returned it and makes the host's copy.
    static func validate(descriptor raw: UnsafeRawPointer, path: String, hostToolchain: String) throws(PluginLoadError) -> LoadedPlugin {
        // Read only struct_size first: a too-small descriptor may end before our fields do.
        let size = Int(raw.loadUnaligned(as: UInt32.self))
        guard size >= minimumDescriptorSize else {
            throw PluginLoadError(.descriptorTooSmall, path: path, reason:
                "descriptor struct_size is \(size) bytes, smaller than the \(minimumDescriptorSize) bytes of an ABI v1 descriptor; "
                + "set struct_size = sizeof(cano_plugin_descriptor) and rebuild against cano_plugin.h")
        }
        var d = cano_plugin_descriptor()
        withUnsafeMutableBytes(of: &d) { copy in
            copy.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: min(size, MemoryLayout<cano_plugin_descriptor>.size)))
        }

        // Another major may lay out everything after the version fields differently, so
        // nothing past them is read before this check.
        guard Int(d.abi_major) == abiMajor else {
            throw PluginLoadError(.abiMajorMismatch, path: path, reason:
                "built for plugin ABI \(d.abi_major).\(d.abi_minor), this host speaks \(abiMajor).\(abiMinor); "
                + "rebuild the plugin against this host's cano_plugin.h")
        }
        guard Int(d.abi_minor) <= abiMinor else {
            throw PluginLoadError(.abiMinorTooNew, path: path, reason:
                "built for plugin ABI \(d.abi_major).\(d.abi_minor), newer than this host's \(abiMajor).\(abiMinor); "
                + "upgrade cano-collector or use an older build of the plugin")
        }
        let name = d.name.map { String(cString: $0) }
        guard let name, isValidName(name) else {
            throw PluginLoadError(.badName, path: path, reason:
                name.map { "plugin name \"\($0.prefix(80))\" is not [a-z0-9_-]+ (1 to 64 characters)" } ?? "plugin name is NULL")
        }
        let kind: LoadedPlugin.Kind
        switch d.kind {
        case CANO_KIND_DESTINATION.rawValue: kind = .destination
        case CANO_KIND_ENRICHER.rawValue: kind = .enricher
        default:
            throw PluginLoadError(.unknownKind, path: path, reason:
                "unknown plugin kind \(d.kind) (this host knows 1 = destination, 2 = enricher)", pluginName: name)
        }
        var missing: [String] = []
        if d.create == nil { missing.append("create") }
        if kind == .destination, d.deliver == nil { missing.append("deliver") }
        if kind == .enricher, d.enrich == nil { missing.append("enrich") }
        if d.destroy == nil { missing.append("destroy") }
        if d.free_buffer == nil { missing.append("free_buffer") }
        guard missing.isEmpty else {
            throw PluginLoadError(.missingCallback, path: path, reason:
                "a \(kind.rawValue) plugin must set \(missing.joined(separator: ", ")) in its descriptor", pluginName: name)
        }
        let toolchain = d.toolchain.map { String(cString: $0) }
        try checkToolchain(toolchain, path: path, name: name, hostToolchain: hostToolchain)
        let version = d.version.map { String(cString: $0) } ?? "unversioned"
        let pathKeys = try readPathKeys(d, path: path, name: name)
        // The v1.3 `render`, like `capabilities`, only from a descriptor that declares it.
        if d.abi_minor < 3 || size < renderEnd { d.render = nil }
        return LoadedPlugin(descriptor: d, name: name, version: version, toolchain: toolchain, kind: kind, path: path, pathKeys: pathKeys,
                            capabilities: readCapabilities(d, structSize: size))
    }

    /// Where the v1.3 `render` field ends.
    static let renderEnd = MemoryLayout<cano_plugin_descriptor>.offset(of: \.render)! + MemoryLayout<UnsafeRawPointer>.size

    /// Where the v1.2 `capabilities` field ends: a descriptor must be at least this big for it.
    static let capabilitiesEnd = MemoryLayout<cano_plugin_descriptor>.offset(of: \.capabilities)! + MemoryLayout<UInt64>.size

    /// The v1.2 `capabilities`, or none. Both checks matter: a v1.0/v1.1 descriptor ends
    /// before the field (the zeroed copy already reads 0 then), and one that declares an
    /// older minor with a larger `struct_size` may keep its own data there, which must not
    /// turn into "renders groups". Unknown bits are kept: `plugins list` shows them, and
    /// nothing acts on them.
    private static func readCapabilities(_ d: cano_plugin_descriptor, structSize: Int) -> PluginCapabilities {
        guard d.abi_minor >= 2, structSize >= capabilitiesEnd else { return [] }
        return PluginCapabilities(rawValue: d.capabilities)
    }

    /// Most `path_keys` a descriptor may list; more is a corrupt array, not a real config.
    static let maxPathKeys = 64

    /// The v1.1 `path_keys` list: config keys the host passes through as paths. Read only
    /// from a v1.1 descriptor (a v1.0 one may have anything past `free_buffer`).
    ///
    /// A secret-looking key (`token_file`, `password_file`) cannot be one: the host must
    /// read such a file itself to keep its content out of logs and errors.
    private static func readPathKeys(_ d: cano_plugin_descriptor, path: String, name: String) throws(PluginLoadError) -> Set<String> {
        guard d.abi_minor >= 1, let list = d.path_keys else { return [] }
        var keys: Set<String> = []
        for index in 0...maxPathKeys {
            guard let entry = list[index] else { return keys }
            guard index < maxPathKeys else { break }
            let key = String(cString: entry)
            guard key.hasSuffix("_file"), key.count > 5, isValidName(key), !key.contains("-") else {
                throw PluginLoadError(.badPathKey, path: path, reason:
                    "path_keys entry \"\(key.prefix(80))\" is not a config key ending in _file ([a-z0-9_]+_file)", pluginName: name)
            }
            guard !SecretSafe.isSecretKey(String(key.dropLast(5))) else {
                throw PluginLoadError(.badPathKey, path: path, reason:
                    "path_keys entry \"\(key)\" names a secret: the host reads secret files itself, so it can keep them out of logs", pluginName: name)
            }
            keys.insert(key)
        }
        throw PluginLoadError(.badPathKey, path: path, reason: "path_keys has more than \(maxPathKeys) entries; is it NULL-terminated?", pluginName: name)
    }

    /// Swift has no stable ABI on Linux: a Swift plugin must come from the host's toolchain.
    private static func checkToolchain(_ toolchain: String?, path: String, name: String, hostToolchain: String) throws(PluginLoadError) {
        guard let toolchain, toolchain.hasPrefix("swift-"), toolchain != hostToolchain else { return }
        throw PluginLoadError(.toolchainMismatch, path: path, reason:
            "Swift plugin built with \(toolchain), this host with \(hostToolchain); Swift has no stable ABI on Linux, "
            + "so rebuild the plugin with the host's Swift toolchain", pluginName: name)
    }

    /// Opens the library, reusing it when the process has it already (RTLD_NOLOAD probe).
    private static func open(_ path: String) throws(PluginLoadError) -> UnsafeMutableRawPointer {
        let flags = RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE
        if let handle = dlopen(path, flags | RTLD_NOLOAD) { return handle }
        _ = dlerror()  // clear the probe's error
        guard let handle = dlopen(path, flags) else {
            let detail = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            throw PluginLoadError(.dlopenFailed, path: path, reason:
                "dlopen failed: \(detail) (run `ldd \(path)` to see missing libraries)")
        }
        return handle
    }

    /// `[a-z0-9_-]{1,64}`.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
