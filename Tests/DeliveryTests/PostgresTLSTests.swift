import CanoSDK
@testable import Collector
import Foundation
import Logging
import Testing
import TestSupport

/// The PostgreSQL engine's TLS (Sources/Collector/Store/Postgres/PostgresTLS.swift) against a
/// real server with `ssl = on` and `hostssl`-only authentication: `verify-full` with the
/// configured CA (to an IP and to a host name), a CA that did not sign the server's
/// certificate, `require` without a CA file, and `disable` refused.
///
/// The server is a ``PostgresServer/dedicated()`` one (its configuration changes and it
/// restarts); its certificate is a ``TestCertificate`` (self-signed, CA, SANs 127.0.0.1 and
/// localhost), so it is its own CA. Every engine call runs on a thread of its own
/// (``BlockingThread``).
@Suite struct PostgresTLSTests {
    static let logger = Logger(label: "test.postgres.tls")
    /// In every URL, to check that no message repeats it (trust authentication ignores it).
    static let password = "tls-pw-Zq81x"

    /// What one engine did against the server: the error, or `pg_stat_ssl.ssl` of its
    /// session and the row it wrote and read back.
    struct Outcome: Sendable {
        var error: DatabaseError?
        var ssl: SQLValue?
        var readBack: SQLValue?
    }

    /// Opens an engine on `url` with `caFile`, checks availability, writes a row, reads it
    /// back and reads whether its session is encrypted; closes it.
    static func exercise(_ url: String, caFile: String?) async -> Outcome {
        await BlockingThread.run(name: "test-postgres-tls") { () -> Outcome in
            do {
                var config = PostgresStorageConfig(url: Secret(url))
                config.caFile = caFile
                config.poolSize = 1
                let db = try PostgreSQLDatabase(config: config, logger: logger, migrations: [])
                defer { db.close() }
                try db.checkAvailable()
                try db.write("write") { c in
                    try c.run("CREATE TABLE IF NOT EXISTS tls_probe (x TEXT)", operation: "create")
                    try c.run("INSERT INTO tls_probe VALUES (?)", [.text("over TLS")], operation: "insert")
                }
                return try db.read("read") { c in
                    var outcome = Outcome()
                    try c.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", operation: "ssl") { outcome.ssl = $0[0] }
                    try c.query("SELECT x FROM tls_probe LIMIT 1", operation: "select") { outcome.readBack = $0[0] }
                    return outcome
                }
            } catch let error as DatabaseError {
                return Outcome(error: error)
            } catch {
                return Outcome(error: DatabaseError(.step, operation: "exercise", message: "\(error)"))
            }
        }
    }

    /// `url` (the admin URL with `database` swapped in) with `host`, the password and `sslmode`.
    static func url(_ server: PostgresServer, database: String, host: String = "127.0.0.1", sslMode: String) throws -> String {
        var components = URLComponents(string: try PostgresServer.url(server.adminURL, database: database))!
        components.host = host
        components.password = password
        components.query = "sslmode=\(sslMode)"
        return components.string!
    }

    /// Writes `text` to `path` with `mode`, owned like `ownerOf` (the server's user).
    static func write(_ text: String, to path: String, mode: Int, ownerOf: String) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        let owner = try FileManager.default.attributesOfItem(atPath: ownerOf)
        var attributes: [FileAttributeKey: Any] = [.posixPermissions: mode]
        if let uid = owner[.ownerAccountID] { attributes[.ownerAccountID] = uid }
        if let gid = owner[.groupOwnerAccountID] { attributes[.groupOwnerAccountID] = gid }
        try FileManager.default.setAttributes(attributes, ofItemAtPath: path)
    }

    @Test func verifyFullRequireAndDisableAgainstATLSOnlyServer() async throws {
        let server = try await PostgresServer.dedicated()
        let files = try TemporaryDirectory(prefix: "cano-pg-tls")
        defer { files.remove() }

        // The server's certificate and key in its data folder (key 0600, the server's user's).
        let certificate = try TestCertificate.make()
        let data = try await server.psql(server.adminURL, "SHOW data_directory")
        try Self.write(certificate.certificatePEM, to: data + "/cano-server.crt", mode: 0o644, ownerOf: data)
        try Self.write(certificate.privateKeyPEM, to: data + "/cano-server.key", mode: 0o600, ownerOf: data)
        // TLS connections only (psql below uses sslmode=prefer, so it keeps working).
        try Self.write("""
            hostssl all all 127.0.0.1/32 trust
            hostssl all all ::1/128 trust

            """, to: data + "/pg_hba.conf", mode: 0o600, ownerOf: data)
        try await server.psql(server.adminURL, "ALTER SYSTEM SET ssl = on")
        try await server.psql(server.adminURL, "ALTER SYSTEM SET ssl_cert_file = 'cano-server.crt'")
        try await server.psql(server.adminURL, "ALTER SYSTEM SET ssl_key_file = 'cano-server.key'")
        try await server.restart()
        #expect(try await server.psql(server.adminURL, "SHOW ssl") == "on")

        let caFile = files.file("ca.pem")
        try certificate.certificatePEM.write(toFile: caFile, atomically: true, encoding: .utf8)
        let otherCAFile = files.file("other-ca.pem")
        try TestCertificate.make().certificatePEM.write(toFile: otherCAFile, atomically: true, encoding: .utf8)

        // 1. verify-full with our CA, to the IP (IP SAN) and to localhost (DNS SAN): encrypted.
        for host in ["127.0.0.1", "localhost"] {
            let database = try await server.psql(server.adminURL, "SELECT 'tls_full_' || md5(random()::text)")
            try await server.psql(server.adminURL, "CREATE DATABASE \(database)")
            let outcome = await Self.exercise(try Self.url(server, database: database, host: host, sslMode: "verify-full"), caFile: caFile)
            #expect(outcome.error == nil, "verify-full to \(host): \(outcome.error.map(String.init(describing:)) ?? "")")
            #expect(outcome.ssl == .integer(1), "verify-full to \(host): pg_stat_ssl.ssl")
            #expect(outcome.readBack == .text("over TLS"))
        }

        // 2. verify-full with a CA that did not sign the server's certificate: refused, the
        //    message names the CA file and neither the URL nor the password.
        let wrongURL = try Self.url(server, database: "postgres", sslMode: "verify-full")
        let wrong = await Self.exercise(wrongURL, caFile: otherCAFile)
        #expect(wrong.error?.code == .open, "\(wrong.error.map(String.init(describing:)) ?? "no error")")
        let wrongMessage = wrong.error?.message ?? ""
        #expect(wrongMessage.contains(otherCAFile), "\(wrongMessage)")
        #expect(!wrongMessage.contains(Self.password) && !wrongMessage.contains(wrongURL), "\(wrongMessage)")
        #expect(!"\(wrong.error.map(String.init(describing:)) ?? "")".contains(Self.password))

        // 3. require without a CA file: encrypted, nothing verified (libpq's meaning).
        let requireDatabase = try await server.psql(server.adminURL, "SELECT 'tls_require_' || md5(random()::text)")
        try await server.psql(server.adminURL, "CREATE DATABASE \(requireDatabase)")
        let required = await Self.exercise(try Self.url(server, database: requireDatabase, sslMode: "require"), caFile: nil)
        #expect(required.error == nil, "require: \(required.error.map(String.init(describing:)) ?? "")")
        #expect(required.ssl == .integer(1))
        #expect(required.readBack == .text("over TLS"))

        // 4. disable against hostssl-only pg_hba: refused as a login problem, saying why.
        let plain = await Self.exercise(try Self.url(server, database: "postgres", sslMode: "disable"), caFile: nil)
        #expect(plain.error?.code == .open, "\(plain.error.map(String.init(describing:)) ?? "no error")")
        let plainMessage = plain.error?.message ?? ""
        #expect(plainMessage.contains("28000") && plainMessage.contains("no encryption"), "\(plainMessage)")
        #expect(!plainMessage.contains(Self.password), "\(plainMessage)")

        try await server.destroy()
    }
}
