import Foundation
import NIOSSL
import PostgresNIO

/// The TLS policy postgres-nio gets for a URL's `sslmode` and the configured CA file,
/// following libpq:
///
/// | sslmode | TLS | verifies |
/// |---|---|---|
/// | disable | never | – |
/// | allow, prefer | if the server offers it | nothing |
/// | require | always | nothing; the chain when a CA file is given (libpq's rule) |
/// | verify-ca | always | the chain (CA file, else the system roots) |
/// | verify-full | always | the chain and the host name |
enum PostgresTLS {
    /// Builds the policy once, at start-up: a missing or unreadable CA file is a
    /// configuration error reported by ``PostgreSQLDatabase/init(config:logger:)``.
    /// - Throws: ``DatabaseError/Code/open`` naming the CA file (never the URL).
    static func make(sslMode: PostgresURL.SSLMode, caFile: String?, operation: String) throws(DatabaseError) -> PostgresConnection.Configuration.TLS {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable:
            return .disable
        case .allow, .prefer:
            configuration.certificateVerification = .none
            return .prefer(try context(configuration, caFile: nil, operation: operation))
        case .require:
            configuration.certificateVerification = caFile == nil ? .none : .noHostnameVerification
        case .verifyCA:
            configuration.certificateVerification = .noHostnameVerification
        case .verifyFull:
            configuration.certificateVerification = .fullVerification
        }
        if let caFile {
            configuration.trustRoots = .certificates(try certificates(caFile, operation: operation))
        }
        return .require(try context(configuration, caFile: caFile, operation: operation))
    }

    private static func certificates(_ path: String, operation: String) throws(DatabaseError) -> [NIOSSLCertificate] {
        guard FileManager.default.isReadableFile(atPath: path) else {
            let why = FileManager.default.fileExists(atPath: path) ? "is not readable" : "does not exist"
            throw DatabaseError(.open, operation: operation, message: "storage.postgres.ca_file \(path) \(why)")
        }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw DatabaseError(.open, operation: operation, message: "storage.postgres.ca_file \(path) is not a PEM certificate file (\(error))")
        }
        guard !certificates.isEmpty else {
            throw DatabaseError(.open, operation: operation, message: "storage.postgres.ca_file \(path) holds no PEM certificate")
        }
        return certificates
    }

    private static func context(_ configuration: TLSConfiguration, caFile: String?, operation: String) throws(DatabaseError) -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            let source = caFile.map { " with the CA file \($0)" } ?? ""
            throw DatabaseError(.open, operation: operation, message: "cannot set up TLS\(source): \(error)")
        }
    }
}
