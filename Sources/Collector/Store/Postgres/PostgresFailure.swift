import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// A postgres-nio failure turned into a ``DatabaseError``, with what the engine should do
/// about it. Messages name the server (`host:port`, database) and the SQLSTATE, never the
/// URL, the password or bound values: postgres-nio's own `debugDescription` includes the
/// query's binds, so it is never used.
struct PostgresFailure: Error {
    /// What the pool and the retry loop do next.
    enum Effect {
        /// The statement failed; the connection is fine (a constraint, a syntax error...).
        case statement
        /// The connection is unusable (reset, closed, server shutting down): discard it;
        /// the body may be run again on a new connection.
        case connectionLost
        /// The server aborted the transaction to resolve a conflict (40001, 40P01): roll
        /// back and run the body again; the connection stays usable.
        case conflict
        /// A configuration problem seen while connecting (login refused, no such
        /// database, TLS verification): retrying does not help.
        case configuration
    }

    var error: DatabaseError
    var effect: Effect

    /// Whether running the body again on a (new) connection may succeed.
    var isRetryable: Bool { effect == .connectionLost || effect == .conflict }

    /// Where the server is, for messages: "db:5432 (database cano)".
    struct Target: Sendable {
        var endpoint: String
        var database: String
        var caFile: String?
        var sslMode: PostgresURL.SSLMode
        /// Everything that must never appear in a message (password, URL); replaced if a
        /// library's text ever carries it.
        var secrets: [String]

        var name: String { "\(endpoint) (database \(database))" }

        func scrub(_ text: String) -> String {
            var text = text
            for secret in secrets where !secret.isEmpty { text = text.replacingOccurrences(of: secret, with: "<redacted>") }
            return text
        }
    }

    /// Classifies an error from connecting to the server.
    static func connecting(_ error: any Error, target: Target, operation: String) -> PostgresFailure {
        let classified = classify(error, target: target, operation: operation, connecting: true)
        return classified
    }

    /// Classifies an error from a statement on an open connection.
    static func statement(_ error: any Error, target: Target, operation: String) -> PostgresFailure {
        classify(error, target: target, operation: operation, connecting: false)
    }

    private static func classify(_ error: any Error, target: Target, operation: String, connecting: Bool) -> PostgresFailure {
        func make(_ code: DatabaseError.Code, _ message: String, _ effect: Effect) -> PostgresFailure {
            PostgresFailure(error: DatabaseError(code, operation: operation, message: target.scrub(message)), effect: effect)
        }
        let lost = { (reason: String) -> PostgresFailure in
            connecting
                ? make(.unavailable, "cannot connect to PostgreSQL at \(target.name): \(reason)", .connectionLost)
                : make(.unavailable, "lost the connection to PostgreSQL at \(target.name): \(reason)", .connectionLost)
        }
        if let failure = error as? PostgresFailure { return failure }
        guard let psql = error as? PSQLError else {
            if let tls = tlsReason(error, target: target) { return make(.open, tls, .configuration) }
            return lost(transportReason(error))
        }
        switch psql.code {
        case .server:
            let state = psql.serverInfo?[.sqlState] ?? "?????"
            let text = psql.serverInfo?[.message] ?? "no message"
            let detail = psql.serverInfo?[.detail].map { " (\($0))" } ?? ""
            // Server messages may quote values from the statement (a duplicate key's value):
            // that is row data the collector put there itself, never credentials.
            let serverSays = "\(state): \(text)\(detail)"
            switch state {
            case "40001", "40P01":
                return make(.step, serverSays, .conflict)
            case "57P01", "57P02", "57P03", "57P05", "53300", "53400":
                // Shutting down, crashed, starting up, idle too long, too many connections.
                return lost("the server refused or ended the session (\(serverSays))")
            case "28000", "28P01":
                return make(.open, "PostgreSQL at \(target.name) refused the login (\(serverSays))", .configuration)
            case "3D000":
                return make(.open, "PostgreSQL at \(target.name): the database does not exist (\(serverSays))", .configuration)
            default:
                if state.hasPrefix("08") { return lost(serverSays) }
                return make(.step, serverSays, connecting ? .configuration : .statement)
            }
        case .serverClosedConnection:
            return lost("the server closed the connection")
        case .clientClosedConnection:
            return connecting || psql.underlying == nil
                ? lost("the connection was closed")
                : lost("the connection was closed (\(transportReason(psql.underlying!)))")
        case .uncleanShutdown:
            return lost("the connection ended unexpectedly")
        case .connectionError:
            if let underlying = psql.underlying {
                if let tls = tlsReason(underlying, target: target) { return make(.open, tls, .configuration) }
                return lost(transportReason(underlying))
            }
            return lost("connection error")
        case .sslUnsupported:
            return make(.open, "PostgreSQL at \(target.name) does not offer TLS, and sslmode=\(target.sslMode.rawValue) requires it", .configuration)
        case .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest:
            return make(.open, "TLS setup with PostgreSQL at \(target.name) failed (\(psql.code))", .configuration)
        case .authMechanismRequiresPassword:
            return make(.open, "PostgreSQL at \(target.name) asks for a password and the URL has none", .configuration)
        case .unsupportedAuthMechanism:
            return make(.open, "PostgreSQL at \(target.name) asks for an authentication method this client does not support (use scram-sha-256, md5 or trust)", .configuration)
        case .saslError:
            return make(.open, "PostgreSQL at \(target.name): SCRAM authentication failed", .configuration)
        case .messageDecodingFailure, .unexpectedBackendMessage:
            // The protocol state is unknown: the connection cannot be trusted any more.
            return PostgresFailure(
                error: DatabaseError(.step, operation: operation, message: "protocol error talking to PostgreSQL at \(target.name) (\(psql.code))"),
                effect: .connectionLost)
        default:
            return make(.step, "PostgreSQL client error (\(psql.code))", connecting ? .configuration : .statement)
        }
    }

    /// A TLS failure (handshake, certificate verification), naming the CA file rather
    /// than the URL; nil when `error` is not about TLS.
    private static func tlsReason(_ error: any Error, target: Target) -> String? {
        let isTLS = error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
        guard isTLS else { return nil }
        let trust = target.caFile.map { "the CA in \($0)" } ?? "the system's trusted roots"
        let what: String
        switch target.sslMode {
        case .verifyFull: what = "verifying its certificate against \(trust) and the host name"
        case .verifyCA: what = "verifying its certificate against \(trust)"
        case .require where target.caFile != nil: what = "verifying its certificate against \(trust)"
        default: what = "the TLS handshake"
        }
        return "TLS with PostgreSQL at \(target.name) failed \(what): \(error)"
    }

    /// A short, secret-free reason for a transport error: "connection refused".
    static func transportReason(_ error: any Error) -> String {
        switch error {
        case let e as NIOConnectionError:
            if e.dnsAError != nil || e.dnsAAAAError != nil, e.connectionErrors.isEmpty { return "cannot resolve the host name" }
            if let first = e.connectionErrors.first { return transportReason(first.error) }
            return "no address to connect to"
        case let e as IOError:
            return errnoReason(e.errnoCode)
        case let e as ChannelError:
            switch e {
            case .connectTimeout(let t): return "timed out after \(t.nanoseconds / 1_000_000_000)s"
            case .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed, .eof: return "the connection was closed"
            default: return "channel error (\(e))"
            }
        case let e as SocketAddressError:
            return "cannot resolve the host name (\(type(of: e)))"
        default:
            return "\(type(of: error))"
        }
    }

    private static func errnoReason(_ code: Int32) -> String {
        switch code {
        case ECONNREFUSED: return "connection refused"
        case ECONNRESET: return "connection reset by the server"
        case ETIMEDOUT: return "timed out"
        case EHOSTUNREACH: return "host unreachable"
        case ENETUNREACH: return "network unreachable"
        case EPIPE: return "broken pipe"
        default: return String(cString: strerror(code)).lowercased()
        }
    }
}
