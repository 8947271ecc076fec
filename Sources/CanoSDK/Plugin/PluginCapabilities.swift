/// What a destination plugin can take beyond single Issues: the descriptor's
/// `capabilities` field (ABI v1.2, `CANO_CAPABILITY_*`). The host reads it once at load
/// time and decides from it what it sends; a plugin that declares nothing keeps getting
/// exactly what it got before the capability existed.
///
/// One type for both sides: plugins declare it (``DestinationPlugin/capabilities``), the
/// host reports it (`LoadedPlugin.capabilities`, `plugins list`).
public struct PluginCapabilities: OptionSet, Sendable, Hashable, CustomStringConvertible {
    /// The descriptor's bits. Bits this SDK does not know are kept, not dropped, so a
    /// host shows what a newer plugin declared.
    public let rawValue: UInt64

    /// Wraps descriptor bits.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `CANO_CAPABILITY_GROUPS`: renders grouped Issues (type `group`, ``IssueGroup``).
    /// Without it the host delivers each member of a group as an Issue of its own.
    public static let groups = PluginCapabilities(rawValue: 1 << 0)

    /// Every capability this SDK knows, with the name `plugins list` shows.
    public static let named: [(capability: PluginCapabilities, name: String)] = [(.groups, "groups")]

    /// The known names, then any unknown bits as `bit N`; empty for none.
    public var names: [String] {
        var names = Self.named.filter { contains($0.capability) }.map(\.name)
        let unknown = rawValue & ~Self.named.reduce(0) { $0 | $1.capability.rawValue }
        for bit in 0..<64 where unknown & (1 << UInt64(bit)) != 0 { names.append("bit \(bit)") }
        return names
    }

    /// "groups", or "none".
    public var description: String { names.isEmpty ? "none" : names.joined(separator: ", ") }
}
