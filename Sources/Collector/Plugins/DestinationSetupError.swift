/// Why a configured destination could not be created. The collector keeps running without
/// it; its Issues stay queued and the reason is logged and shown on readiness.
public struct DestinationSetupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String { case unknownType, pluginRefused, notADestination, createFailed, invalidConfig }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No built-in and no loaded plugin has this type name.
        public static let unknownType = Code(.unknownType)
        /// The plugin file providing this type was refused at load time.
        public static let pluginRefused = Code(.pluginRefused)
        /// The plugin with this name is an enricher.
        public static let notADestination = Code(.notADestination)
        /// The plugin's create() reported an error.
        public static let createFailed = Code(.createFailed)
        /// A built-in destination's config is invalid.
        public static let invalidConfig = Code(.invalidConfig)

        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public let code: Code
    /// The configured destination name.
    public let destination: String
    /// The configured type.
    public let type: String
    /// Secret-free explanation (plugin messages are secret-free by contract).
    public let reason: String
    /// True when the plugin said retrying create() may help (CANO_STATUS_RETRY).
    public let retryable: Bool

    /// Creates a setup error.
    public init(_ code: Code, destination: String, type: String, reason: String, retryable: Bool = false) {
        self.code = code
        self.destination = destination
        self.type = type
        self.reason = reason
        self.retryable = retryable
    }

    public var description: String { "destination \"\(destination)\" (type \(type)) not created: \(reason)" }
}
