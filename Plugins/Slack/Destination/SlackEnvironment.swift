import CanoSDK

/// What the Slack core needs from its surroundings: persistent state, time, logs and
/// counters. The plugin builds it from ``HostServices``; tests build it from in-memory parts.
public struct SlackEnvironment: Sendable {
    /// Thread handles and delivery progress, kept across restarts.
    public var state: any SlackStateStore
    /// Time and blocking waits (pacing).
    public var clock: any SlackClock
    /// One structured log line. Callers never pass the token.
    public var log: @Sendable (HostServices.LogLevel, String, [String: String]) -> Void
    /// Adds to a counter (`cano_plugin_<name>_total`).
    public var count: @Sendable (String, UInt64) -> Void

    /// Assembles an environment from parts.
    public init(
        state: any SlackStateStore,
        clock: any SlackClock = SystemSlackClock(),
        log: @escaping @Sendable (HostServices.LogLevel, String, [String: String]) -> Void = { _, _, _ in },
        count: @escaping @Sendable (String, UInt64) -> Void = { _, _ in }
    ) {
        self.state = state
        self.clock = clock
        self.log = log
        self.count = count
    }

    /// The environment of a loaded plugin: everything goes through the host.
    public init(host: HostServices) {
        self.init(
            state: HostStateStore(host: host),
            log: { level, message, fields in host.log(level, message, fields: fields) },
            count: { name, delta in host.increment(name, by: delta) })
    }
}
