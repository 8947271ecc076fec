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
/// The message and every metadata value pass through ``SecretScrubber/shared`` (a secret
/// that reached a log call by any route is written as `<redacted>`) and are capped at
/// ``fieldLimit`` bytes (a value echoed from a huge request cannot make a huge line).
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

    /// The most bytes of one message or metadata value written; callers cap their echoes
    /// far lower (``BoundedEcho``), this is the backstop that holds whatever they do.
    public static let fieldLimit = 8 * 1024

    public func log(event: LogEvent) {
        var fields: [String: JSONValue] = [:]
        for (k, v) in metadata { fields[k] = Self.json(v) }
        for (k, v) in event.metadata ?? [:] { fields[k] = Self.json(v) }
        fields["ts"] = .string(RFC3339.format(Date()))
        fields["level"] = .string(event.level.rawValue)
        fields["logger"] = .string(label)
        fields["msg"] = .string(Self.clean("\(event.message)"))
        let line = ((try? IssueCoding.encode(fields)) ?? Array("{\"msg\":\"unencodable log line\"}".utf8)) + [10]
        switch output {
        // One write(2) per line keeps lines whole when threads log at once.
        case .standardError: line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
        case .standardOutput: line.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
        case .capture(let capture): capture.append(String(decoding: line.dropLast(), as: UTF8.self))
        }
    }
}

extension JSONLogHandler {
    /// A value scrubbed of secrets and capped.
    static func clean(_ text: String) -> String { BoundedEcho.cap(SecretScrubber.shared.scrub(text), limit: fieldLimit) }

    /// A metadata value as JSON: a `.stringConvertible` integer, floating-point number or
    /// Bool is written as a JSON number or bool (`"attempt":1`, not `"attempt":"1"`);
    /// everything else as its (scrubbed, capped) text. Integers a JSON reader cannot hold
    /// exactly (beyond 2^53), and non-finite numbers, stay strings.
    static func json(_ value: Logger.MetadataValue) -> JSONValue {
        guard case .stringConvertible(let convertible) = value else { return .string(clean("\(value)")) }
        let text = "\(convertible)"
        // A number that happens to equal a registered secret is still redacted.
        guard clean(text) == text else { return .string(clean(text)) }
        switch convertible {
        case let flag as Bool:
            return .bool(flag)
        case let integer as any BinaryInteger:
            guard let exact = Double(exactly: integer), abs(exact) <= 9_007_199_254_740_992 else { return .string(text) }
            return .number(exact)
        case let number as any BinaryFloatingPoint:
            let double = Double(number)
            return double.isFinite ? .number(double) : .string(text)
        default:
            return .string(clean(text))
        }
    }
}

extension Logger.MetadataValue {
    /// A JSON field (a plugin's `fields_json`) as metadata that keeps its type, the inverse
    /// of ``JSONLogHandler/json(_:)``: numbers and bools stay numbers and bools in the
    /// JSON log (`"attempt":1`), whole numbers without a fraction; strings stay strings;
    /// arrays and objects are written as JSON text.
    public init(json value: JSONValue) {
        switch value {
        case .bool(let flag):
            self = .stringConvertible(flag)
        case .number(let number):
            if number.rounded() == number, abs(number) <= 9_007_199_254_740_992 {
                self = .stringConvertible(Int64(number))
            } else {
                self = .stringConvertible(number)
            }
        case .string(let text):
            self = .string(text)
        default:
            self = .string((try? IssueCoding.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "")
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
