/// Small persistent values owned by one plugin instance (Slack thread handles...).
/// Implementations are thread-safe and synchronous: plugins call them from delivery threads.
public protocol KeyValueStore: Sendable {
    func value(namespace: String, key: String) throws -> [UInt8]?
    func setValue(_ value: [UInt8], namespace: String, key: String) throws
    func removeValue(namespace: String, key: String) throws
}
