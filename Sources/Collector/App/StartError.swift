import Foundation
import NIOCore

/// Why the collector could not start, naming the config key and the system's reason.
///
/// Why a type of its own: what Foundation and NIO throw names neither the path nor the address,
/// nor the key that chose it: "bind(descriptor:ptr:bytes:): Address already in use
/// (errno: 98)", or a Cocoa error dump for a data directory that cannot be created.
public struct StartError: Error, CustomStringConvertible {
    public let description: String

    /// The error for `error`, thrown by the HTTP server, when it is a failure to bind
    /// `server`'s address (`EADDRINUSE`, `EADDRNOTAVAIL`); nil for any other error.
    public init?(bindFailure error: any Error, server: ServerConfig) {
        guard let io = error as? IOError else { return nil }
        let reason: String
        switch io.errnoCode {
        case EADDRINUSE: reason = "the address is already in use (another process listens on that port)"
        case EADDRNOTAVAIL: reason = "the host is not an address of this machine"
        default: return nil
        }
        description = "cannot listen on \(server.host):\(server.port) (server.host, server.port): \(reason)"
    }

    private init(description: String) {
        self.description = description
    }

    /// For `error`, thrown while creating the data directory `path` (`data_dir`).
    public static func dataDirectory(_ path: String, _ error: any Error) -> StartError {
        StartError(description: "cannot create data_dir \(path): \(systemReason(error))")
    }

    /// The POSIX reason under a Foundation file error ("No such file or directory",
    /// "Permission denied"), else the error as it describes itself.
    static func systemReason(_ error: any Error) -> String {
        if let posix = (error as? POSIXError) ?? ((error as? CocoaError)?.underlying as? POSIXError) {
            return String(cString: strerror(posix.code.rawValue))
        }
        return "\(error)"
    }
}
