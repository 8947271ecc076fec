import CanoSDK
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL for tests, run by `scripts/postgres.sh` (Debian's `postgresql`: initdb
/// and pg_ctl in a temporary folder, loopback only, trust authentication, fsync off).
///
/// ``shared`` is the server of this test process: `CANO_TEST_POSTGRES_URL` when set
/// (`scripts/test.sh` starts one for the whole run), else one this process starts on first
/// use and destroys at exit. Tests never share a database: ``makeDatabase(prefix:)`` makes
/// a fresh one each time. A test that stops or restarts PostgreSQL takes a ``dedicated()``
/// server of its own, so the tests running beside it keep theirs.
///
/// Every process is run on a thread of its own (``BlockingThread``), never on Swift's
/// cooperative pool.
public final class PostgresServer: Sendable {
    /// The admin URL: `postgres://postgres@127.0.0.1:PORT/postgres` for the servers the script
    /// runs.
    public let adminURL: String
    /// The script's folder for this server (`CANO_POSTGRES_HOME`: data, log, `state`), or nil
    /// when the server came from `CANO_TEST_POSTGRES_URL` and the environment names none (the
    /// script's default folder is used then).
    public let home: String?
    /// Whether this process started the server (and destroys it at exit).
    public let startedHere: Bool

    private init(adminURL: String, home: String?, startedHere: Bool) {
        self.adminURL = adminURL
        self.home = home
        self.startedHere = startedHere
    }

    // MARK: - Getting a server

    /// The server of this test process (see the type's documentation). Throws, with what to
    /// install, when there is neither `CANO_TEST_POSTGRES_URL` nor a PostgreSQL to start.
    public static var shared: PostgresServer {
        get async throws { try await sharedServer.value }
    }

    private static let sharedServer = Task<PostgresServer, any Error> {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["CANO_TEST_POSTGRES_URL"], !url.isEmpty {
            return PostgresServer(adminURL: url, home: environment["CANO_POSTGRES_HOME"], startedHere: false)
        }
        return try await startOwn(prefix: "cano-pg-shared")
    }

    /// A server of the caller's own, for tests that stop, start or restart PostgreSQL. It is
    /// destroyed at process exit (or earlier with ``destroy()``).
    public static func dedicated() async throws -> PostgresServer {
        try await startOwn(prefix: "cano-pg")
    }

    private static func startOwn(prefix: String) async throws -> PostgresServer {
        try checkInstalled()
        let base = (ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp")
        let home = "\(base.hasSuffix("/") ? String(base.dropLast()) : base)/\(prefix)-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
        OwnedServers.add(home)
        let url = try await script(["start"], home: home, ownerPID: getpid())
        return PostgresServer(adminURL: url, home: home, startedHere: true)
    }

    /// Fails with what to install when no PostgreSQL server can be started here.
    private static func checkInstalled() throws {
        if let bin = ProcessInfo.processInfo.environment["CANO_POSTGRES_BIN"],
           FileManager.default.isExecutableFile(atPath: bin + "/initdb") { return }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        if versions.contains(where: { FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/initdb") }) { return }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        if path.split(separator: ":").contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }) { return }
        throw TestSupportError("""
            PostgreSQL is needed by this test and none is available: CANO_TEST_POSTGRES_URL is not set \
            and initdb is not installed. Install the server (apt-get install postgresql; \
            scripts/install-deps.sh does), or start one and export its admin URL: \
            eval "$(scripts/postgres.sh env)"
            """)
    }

    // MARK: - Databases

    /// Creates a fresh, empty database and returns its URL (the admin URL with the database
    /// name swapped in). `prefix` is for humans reading `\l`: lowercased, other characters
    /// than [a-z0-9_] replaced.
    public func makeDatabase(prefix: String = "cano") async throws -> String {
        var cleaned = String(prefix.lowercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" ? $0 : "_" })
        if cleaned.isEmpty || !(cleaned.first!.isLetter || cleaned.first == "_") { cleaned = "t_" + cleaned }
        let suffix = "_\(getpid())_\(Self.nextDatabaseNumber())_\(UUID().uuidString.prefix(6).lowercased())"
        let name = String(cleaned.prefix(63 - suffix.count)) + suffix
        _ = try await psql(adminURL, "CREATE DATABASE \"\(name)\"")
        return try Self.url(adminURL, database: name)
    }

    /// Runs `sql` with `psql` against `url` (stop at the first error, no psqlrc) and returns
    /// its unaligned, tuples-only output with the trailing newline removed.
    @discardableResult
    public func psql(_ url: String, _ sql: String) async throws -> String {
        let psql = try Self.psqlPath()
        let (status, output) = try await Self.run(psql, ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], environment: [:])
        guard status == 0 else {
            throw TestSupportError("psql \(Self.redacted(url)) -c \(sql): exit \(status): \(output)")
        }
        return output.hasSuffix("\n") ? String(output.dropLast()) : output
    }

    /// ``psql(_:_:)`` under the name the store tests read best with: one value back.
    @discardableResult
    public func scalar(_ url: String, _ sql: String) async throws -> String {
        try await psql(url, sql)
    }

    // MARK: - Stopping and restarting

    /// `pg_ctl restart` (fast shutdown: open connections are cut), back with the same URL and
    /// data once it accepts queries again. On the shared server this cuts every test's
    /// connections: prefer a ``dedicated()`` server.
    public func restart() async throws {
        try await scriptForThisServer(["restart"])
    }

    /// Stops the server (fast shutdown); its data stays for ``start()``.
    public func stop() async throws {
        try await scriptForThisServer(["stop"])
    }

    /// Starts a stopped server again: same data, same port, same URL.
    public func start() async throws {
        let url = try await scriptForThisServer(["start"])
        guard url == adminURL else {
            throw TestSupportError("PostgreSQL came back on \(url), not \(adminURL) (its port was taken meanwhile)")
        }
    }

    /// Stops a server this process started and deletes its data (also done at exit).
    public func destroy() async throws {
        guard startedHere, let home else {
            throw TestSupportError("this PostgreSQL was given by CANO_TEST_POSTGRES_URL; its owner destroys it")
        }
        try await Self.script(["destroy"], home: home, ownerPID: nil)
        OwnedServers.remove(home)
    }

    @discardableResult
    private func scriptForThisServer(_ arguments: [String]) async throws -> String {
        try await Self.script(arguments, home: home, ownerPID: nil)
    }

    // MARK: - Processes

    /// Runs scripts/postgres.sh and returns its stdout (the URL, for `start`).
    @discardableResult
    private static func script(_ arguments: [String], home: String?, ownerPID: pid_t?) async throws -> String {
        var environment: [String: String] = [:]
        if let home { environment["CANO_POSTGRES_HOME"] = home }
        if let ownerPID { environment["CANO_POSTGRES_OWNER_PID"] = String(ownerPID) }
        let (status, output) = try await run("/bin/bash", [scriptPath] + arguments, environment: environment)
        guard status == 0 else {
            throw TestSupportError("scripts/postgres.sh \(arguments.joined(separator: " ")) (CANO_POSTGRES_HOME=\(home ?? "default")) exited \(status): \(output)")
        }
        return output.split(separator: "\n").last.map(String.init) ?? ""
    }

    private static let scriptPath = Fixtures.repositoryRoot + "/scripts/postgres.sh"

    /// Runs a command to its end on a thread of its own; output goes through a file, not a
    /// pipe, so a server that inherits a descriptor cannot hold the read open.
    private static func run(_ executable: String, _ arguments: [String], environment extra: [String: String]) async throws -> (Int32, String) {
        let result: Result<(Int32, String), any Error> = await BlockingThread.run(name: "test-postgres") {
            Result {
                let output = FileManager.default.temporaryDirectory.appendingPathComponent("cano-pg-out-\(UUID().uuidString)")
                FileManager.default.createFile(atPath: output.path, contents: nil)
                defer { try? FileManager.default.removeItem(at: output) }
                let handle = try FileHandle(forWritingTo: output)
                defer { try? handle.close() }
                let process = ChildProcess()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                var environment = ProcessInfo.processInfo.environment
                for (key, value) in extra { environment[key] = value }
                process.environment = environment
                process.standardInput = FileHandle.nullDevice
                process.standardOutput = handle
                process.standardError = handle
                try Subprocess.start(process)
                process.waitUntilExit()
                return (process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
            }
        }
        return try result.get()
    }

    private static func psqlPath() throws -> String {
        var candidates = ["/usr/bin/psql"]
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted { $0.compare($1, options: .numeric) == .orderedDescending }
        candidates += versions.map { "/usr/lib/postgresql/\($0)/bin/psql" }
        candidates += (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/psql" }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestSupportError("psql is not installed: apt-get install postgresql-client (or postgresql; scripts/install-deps.sh installs it)")
        }
        return found
    }

    // MARK: - URLs

    /// `url` with its path (the database) replaced by `database`; user, host, port and query
    /// (sslmode...) kept.
    public static func url(_ url: String, database: String) throws -> String {
        guard var components = URLComponents(string: url), components.host != nil else {
            throw TestSupportError("not a PostgreSQL URL: \(redacted(url))")
        }
        components.path = "/" + database
        guard let made = components.string else { throw TestSupportError("cannot build a URL from \(redacted(url))") }
        return made
    }

    /// `url` without its password, for messages.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "(a URL)"
    }

    private static let counter = Counter()

    private static func nextDatabaseNumber() -> Int { counter.next() }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.lock(); defer { lock.unlock() }
        value += 1
        return value
    }
}

/// The servers this process started, destroyed by an exit handler. (A process that dies
/// before its handler runs is covered by the script's watchdog.)
private enum OwnedServers {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var homes: Set<String> = []
    nonisolated(unsafe) private static var registered = false

    static func add(_ home: String) {
        lock.lock(); defer { lock.unlock() }
        homes.insert(home)
        if !registered {
            registered = true
            atexit { OwnedServers.destroyAll() }
        }
    }

    static func remove(_ home: String) {
        lock.lock(); defer { lock.unlock() }
        homes.remove(home)
    }

    /// At exit: no threads to hand work to any more, so plain `system()`.
    static func destroyAll() {
        lock.lock()
        let all = homes
        homes.removeAll()
        lock.unlock()
        let script = Fixtures.repositoryRoot + "/scripts/postgres.sh"
        for home in all {
            _ = system("CANO_POSTGRES_HOME=\(shellQuoted(home)) /bin/bash \(shellQuoted(script)) destroy >/dev/null 2>&1")
        }
    }

    private static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
