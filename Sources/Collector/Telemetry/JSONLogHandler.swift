#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import Synchronization
import CanoSDK

#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler that writes one JSON object per line:
/// `{"ts":"...","level":"info","logger":"...","msg":"...", ...metadata}`.
///
/// Values are written as given: callers never put secrets in messages or metadata
/// (configuration secrets are held in `Secret`, whose description is redacted).
public struct JSONLogHandler: LogHandler {
    /// Where lines go; stderr by default. Tests capture lines with `LogCapture`.
    public enum Output: Sendable {
        case standardError
        case standardOutput
        case capture(LogCapture)
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let output: Output

    public init(label: String, level: Logger.Level = .info, output: Output = .standardError) {
        self.label = label
        self.logLevel = level
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (k, v) in metadata { fields[k] = "\(v)" }
        for (k, v) in event.metadata ?? [:] { fields[k] = "\(v)" }
        fields["ts"] = RFC3339.format(Date())
        fields["level"] = event.level.rawValue
        fields["logger"] = label
        fields["msg"] = "\(event.message)"
        let line = ((try? IssueCoding.encode(fields)) ?? Array("{\"msg\":\"unencodable log line\"}".utf8)) + [10]
        switch output {
        // One write(2) per line keeps lines whole when threads log at once.
        case .standardError: line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
        case .standardOutput: line.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
        case .capture(let capture): capture.append(String(decoding: line.dropLast(), as: UTF8.self))
        }
    }
}

/// Collects log lines in memory (tests assert on them, e.g. that no secret leaks).
public final class LogCapture: Sendable {
    private let storage = Mutex<[String]>([])
    public init() {}
    public func append(_ line: String) { storage.withLock { $0.append(line) } }
    /// Every line logged so far.
    public var lines: [String] { storage.withLock { $0 } }
}
