/// Why a plugin file was refused. One value names the file and the reason, so a log line
/// or `cano-collector plugins list` can show it as is.
public struct PluginLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of refusal; stable for tests and metrics labels.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case fileNotFound, directoryNotFound, dlopenFailed, missingSymbol, nullDescriptor
            case descriptorTooSmall, abiMajorMismatch, abiMinorTooNew, unknownKind
            case missingCallback, badName, toolchainMismatch, duplicateName, badPathKey
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The path does not exist.
        public static let fileNotFound = Code(.fileNotFound)
        /// A configured plugin directory does not exist.
        public static let directoryNotFound = Code(.directoryNotFound)
        /// `dlopen` failed (missing dependency, wrong architecture, not a shared object).
        public static let dlopenFailed = Code(.dlopenFailed)
        /// The file does not export `cano_plugin_entry`.
        public static let missingSymbol = Code(.missingSymbol)
        /// `cano_plugin_entry` returned NULL.
        public static let nullDescriptor = Code(.nullDescriptor)
        /// `struct_size` is below `CANO_DESCRIPTOR_V1_MIN_SIZE`.
        public static let descriptorTooSmall = Code(.descriptorTooSmall)
        /// `abi_major` differs from the host's.
        public static let abiMajorMismatch = Code(.abiMajorMismatch)
        /// `abi_minor` is newer than the host's.
        public static let abiMinorTooNew = Code(.abiMinorTooNew)
        /// `kind` is neither destination nor enricher.
        public static let unknownKind = Code(.unknownKind)
        /// A callback its kind requires is NULL.
        public static let missingCallback = Code(.missingCallback)
        /// `name` is NULL or not `[a-z0-9_-]+`.
        public static let badName = Code(.badName)
        /// A Swift plugin built with another Swift toolchain than the host.
        public static let toolchainMismatch = Code(.toolchainMismatch)
        /// Another file already provides a plugin with this name.
        public static let duplicateName = Code(.duplicateName)
        /// A `path_keys` entry (v1.1) is not a `[a-z0-9_]+_file` key, or the list is too long.
        public static let badPathKey = Code(.badPathKey)

        public var description: String { base.rawValue }
    }

    /// What kind of refusal this is.
    public let code: Code
    /// The plugin file (or directory) concerned.
    public let path: String
    /// A human-readable explanation, with advice where there is some.
    public let reason: String
    /// The plugin's declared name, when the descriptor could be read that far.
    public let pluginName: String?

    /// Creates a refusal.
    public init(_ code: Code, path: String, reason: String, pluginName: String? = nil) {
        self.code = code
        self.path = path
        self.reason = reason
        self.pluginName = pluginName
    }

    public var description: String { "plugin \(path) refused (\(code)): \(reason)" }
}
