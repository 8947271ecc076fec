import Foundation
import Testing
import TestSupport

/// The test PostgreSQL itself (Tests/TestSupport/PostgresServer.swift, scripts/postgres.sh):
/// a fresh database per test, reachable with psql, and a server that a test may stop,
/// start and restart under the same URL.
@Suite struct PostgresServerTests {
    @Test func aFreshDatabaseAnswersSelectOne() async throws {
        let server = try await PostgresServer.shared
        let url = try await server.makeDatabase(prefix: "select-one")
        #expect(try await server.psql(url, "SELECT 1") == "1")
        let name = try await server.psql(url, "SELECT current_database()")
        #expect(name.hasPrefix("select_one_"))
        #expect(url.hasSuffix("/" + name))
    }

    @Test func databasesAreIsolated() async throws {
        let server = try await PostgresServer.shared
        let first = try await server.makeDatabase(prefix: "iso")
        let second = try await server.makeDatabase(prefix: "iso")
        #expect(first != second)
        try await server.psql(first, "CREATE TABLE t (x int); INSERT INTO t VALUES (42)")
        #expect(try await server.psql(first, "SELECT x FROM t") == "42")
        #expect(try await server.psql(second, "SELECT count(*) FROM pg_tables WHERE tablename = 't'") == "0")
    }

    /// What "PostgreSQL down" and "restarted mid-load" tests rely on: a server of the test's
    /// own goes away and comes back at the same URL with its data.
    @Test func aDedicatedServerStopsStartsAndRestartsUnderTheSameURL() async throws {
        let server = try await PostgresServer.dedicated()
        let url = try await server.makeDatabase(prefix: "restart")
        try await server.psql(url, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")

        try await server.restart()
        #expect(try await server.psql(url, "SELECT x FROM kept") == "7")

        try await server.stop()
        await #expect(throws: (any Error).self) { try await server.psql(url, "SELECT 1") }
        try await server.start()
        #expect(try await server.psql(url, "SELECT x FROM kept") == "7")

        try await server.destroy()
        await #expect(throws: (any Error).self) { try await server.psql(url, "SELECT 1") }
    }

    @Test func urlSwapsOnlyTheDatabase() throws {
        #expect(try PostgresServer.url("postgres://u:p@db.example:5433/postgres?sslmode=verify-full", database: "t_1")
            == "postgres://u:p@db.example:5433/t_1?sslmode=verify-full")
        #expect(try PostgresServer.url("postgres://postgres@127.0.0.1:5432/postgres", database: "x")
            == "postgres://postgres@127.0.0.1:5432/x")
    }
}
