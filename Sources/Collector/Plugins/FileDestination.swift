import CanoSDK
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The built-in `file` destination: appends each Issue's JSON as one line to a file, or to
/// standard output with `path: "-"`. It needs no credentials, so the example config and
/// local trials use it.
///
/// ```yaml
/// destinations:
///   - name: stdout
///     type: file
///     config: { path: "-" }
/// ```
public final class FileDestination: Destination {
    /// The type name in config.
    public static let typeName = "file"

    /// The configured destination name.
    public let name: String
    /// The configured path ("-" for standard output).
    public let path: String
    private let fd: Mutex<Int32>

    /// Opens (creating if needed) the file for appending.
    public init(name: String, config: JSONValue) throws(DestinationSetupError) {
        func invalid(_ reason: String) -> DestinationSetupError {
            DestinationSetupError(.invalidConfig, destination: name, type: Self.typeName, reason: reason)
        }
        guard case .object(let object) = config else { throw invalid("config must be an object like {path: \"-\"}") }
        if let unknown = object.keys.sorted().first(where: { $0 != "path" }) {
            throw invalid("unknown config key \"\(unknown)\" (the file destination takes only \"path\")")
        }
        let path: String
        switch object["path"] {
        case nil: path = "-"
        case .string(let value) where !value.isEmpty: path = value
        default: throw invalid("key \"path\": expected a non-empty string (a file path, or \"-\" for standard output)")
        }
        self.name = name
        self.path = path
        if path == "-" {
            fd = Mutex(STDOUT_FILENO)
        } else {
            let opened = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard opened >= 0 else {
                throw invalid("cannot open \(path) for appending: \(String(cString: strerror(errno)))")
            }
            fd = Mutex(opened)
        }
    }

    deinit {
        fd.withLock { if $0 != STDOUT_FILENO { close($0) } }
    }

    /// Appends the Issue JSON and a newline with one write; a write error is a retry.
    public func deliver(issueJSON: [UInt8], context: DeliveryContext) -> DeliveryOutcome {
        let line = issueJSON + [UInt8(ascii: "\n")]
        // One lock per line: concurrent deliveries never interleave within a line.
        let failure: Int32? = fd.withLock { fd in
            line.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    offset += n
                }
                return nil
            }
        }
        if let failure {
            return DeliveryOutcome(.retry, message: "writing to \(path) failed: \(String(cString: strerror(failure)))")
        }
        return DeliveryOutcome(.delivered, message: "appended to \(path == "-" ? "standard output" : path)")
    }
}
