import Testing

/// Where a leak check looks: a name for the failure message and the text written there.
public struct LeakSurface: Sendable {
    /// "validate output", "log line 3", "/metrics", "400 body"...
    public var name: String
    public var text: String
    public init(_ name: String, _ text: String) {
        self.name = name
        self.text = text
    }
}

/// Records a test failure for every surface that contains `secret`, naming the surface, so
/// one assertion covers logs, errors, response bodies and metrics at once (the role
/// Alertmanager's `AssertNotifyLeaksNoSecret` plays for its notifiers). Also checks that
/// the secret is long enough to be findable: a 3-character "secret" proves nothing.
public func assertNoSecret(
    _ secret: String, in surfaces: [LeakSurface], sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(secret.utf8.count >= 8, "use a distinctive secret of at least 8 bytes", sourceLocation: sourceLocation)
    #expect(!surfaces.isEmpty, "nothing was checked", sourceLocation: sourceLocation)
    for surface in surfaces where surface.text.contains(secret) {
        Testing.Issue.record("the secret leaked into \(surface.name): \(surface.text.prefix(600))", sourceLocation: sourceLocation)
    }
}

/// ``assertNoSecret(_:in:sourceLocation:)`` for surfaces of one kind ("log line" 1, 2...).
public func assertNoSecret(
    _ secret: String, in texts: [String], named name: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    assertNoSecret(secret, in: texts.enumerated().map { LeakSurface("\(name) \($0.offset + 1)", $0.element) }, sourceLocation: sourceLocation)
}
