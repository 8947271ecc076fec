import CanoSDK
import PluginABI

/// A plugin library that passed every load-time check. Its descriptor is a private copy
/// (zero-extended to the host's layout), so fields newer than the plugin read as zero.
///
/// The library is never unloaded (see `PluginLoader`), so the function pointers and
/// strings stay valid for the life of the process.
public final class LoadedPlugin: @unchecked Sendable {
    // @unchecked: every stored property is immutable; the descriptor's pointers refer to
    // code and static strings of a library that is never unloaded.

    /// Destination or enricher.
    public enum Kind: String, Sendable {
        case destination, enricher
    }

    /// The plugin type name users write in config (`type: webhook`).
    public let name: String
    /// The plugin's own version string.
    public let version: String
    /// "swift-6.3" for Swift plugins; nil for C, Rust and Go plugins.
    public let toolchain: String?
    /// Destination or enricher.
    public let kind: Kind
    /// The resolved path of the file it was loaded from.
    public let path: String
    /// The descriptor's ABI minor version.
    public let abiMinor: Int
    /// `CANO_FLAG_*` bits.
    public let flags: UInt64
    /// Config keys ending in `_file` that the plugin reads as paths (ABI v1.1 `path_keys`):
    /// passed through unchanged instead of being read as secret files.
    public let pathKeys: Set<String>
    /// What the plugin renders beyond single Issues (ABI v1.2 `capabilities`); empty for
    /// an older descriptor. `DestinationFactory.acceptsGroups` reads it.
    public let capabilities: PluginCapabilities
    /// The host's copy of the descriptor.
    let descriptor: cano_plugin_descriptor

    init(descriptor: cano_plugin_descriptor, name: String, version: String, toolchain: String?, kind: Kind, path: String,
         pathKeys: Set<String> = [], capabilities: PluginCapabilities = []) {
        self.descriptor = descriptor
        self.name = name
        self.version = version
        self.toolchain = toolchain
        self.kind = kind
        self.path = path
        self.abiMinor = Int(descriptor.abi_minor)
        self.flags = descriptor.flags
        self.pathKeys = pathKeys
        self.capabilities = capabilities
    }

    /// True when the plugin can render an Issue without sending it (ABI v1.3 `render`):
    /// the console's message preview.
    public var canRender: Bool { descriptor.render != nil }

    /// True when the plugin allows concurrent deliver()/enrich() calls on one instance.
    public var isReentrant: Bool { flags & (UInt64(1) << 0) != 0 }
}
