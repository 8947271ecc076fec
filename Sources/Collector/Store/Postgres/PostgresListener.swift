import CanoSDK
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// One `LISTEN` on a dedicated connection (not from the pool: it stays open and idle for
/// the collector's life), worked by its own thread that connects, listens, watches the
/// connection and reconnects with backoff until stopped.
///
/// The handler runs once after each successful `LISTEN`, because notifications sent while
/// the connection was down are lost: the caller re-checks the database then.
final class PostgresListener: @unchecked Sendable {
    /// Between liveness pings (`SELECT 1`) on an idle listening connection: a server that
    /// vanished without a reset is noticed within this plus the ping timeout.
    static let pingInterval: TimeInterval = 15
    /// A ping without an answer after this long closes the connection (then reconnect).
    static let pingTimeout: TimeAmount = .seconds(10)
    /// First reconnect pause; doubles up to ``maxBackoff``.
    static let minBackoff: TimeInterval = 0.1
    /// Longest pause between reconnect attempts.
    static let maxBackoff: TimeInterval = 5

    private weak var database: PostgreSQLDatabase?
    private let channel: String
    private let handler: @Sendable () -> Void
    private let logger: Logger
    private let condition = NSCondition()
    private var stopped = false
    private var current: PostgresConnection?

    init(database: PostgreSQLDatabase, channel: String, handler: @escaping @Sendable () -> Void) {
        self.database = database
        self.channel = channel
        self.handler = handler
        logger = database.logger
    }

    /// Starts the listening thread.
    func start() {
        BlockingThread.start(name: "cano-pg-listen") { self.run() }
    }

    /// Stops listening and closes the connection; the thread ends soon after.
    func stop() {
        condition.lock()
        stopped = true
        let connection = current
        current = nil
        condition.broadcast()
        condition.unlock()
        if let connection { PostgreSQLDatabase.dispose(connection) }
    }

    private var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    /// `LISTEN "channel"`, the name quoted so any channel name is taken literally.
    private var listenSQL: String { "LISTEN \"\(channel.replacingOccurrences(of: "\"", with: "\"\""))\"" }

    private func run() {
        var backoff = Self.minBackoff
        var failing = false
        while !isStopped {
            guard let database else { return }
            do throws(DatabaseError) {
                let connection = try database.connect(operation: "listen on \(channel)")
                condition.lock()
                guard !stopped else {
                    condition.unlock()
                    PostgreSQLDatabase.dispose(connection)
                    return
                }
                current = connection
                condition.unlock()
                // Wake the watch loop below when the connection closes.
                connection.closeFuture.whenComplete { [condition] _ in
                    condition.lock()
                    condition.broadcast()
                    condition.unlock()
                }
                let handler = self.handler
                connection.addListener(channel: channel) { _, _ in handler() }
                do {
                    _ = try connection.query(PostgresQuery(unsafeSQL: listenSQL), logger: database.driverLogger).wait()
                } catch {
                    throw PostgresFailure.statement(error, target: database.target, operation: "listen on \(channel)").error
                }
                if failing {
                    logger.info("PostgreSQL LISTEN connection restored", metadata: ["channel": "\(channel)", "server": "\(database.target.name)"])
                }
                failing = false
                backoff = Self.minBackoff
                handler()
                watch(connection, database: database)
            } catch {
                // Secret-free by construction (PostgresFailure); the first failure of a run
                // of them is a warning, the rest debug (the database may be down for long).
                let metadata: Logger.Metadata = ["channel": "\(channel)", "error": "\(error.message)"]
                if failing {
                    logger.debug("PostgreSQL LISTEN connection still failing; retrying", metadata: metadata)
                } else {
                    logger.warning("PostgreSQL LISTEN connection failed; reconnecting with backoff", metadata: metadata)
                }
                failing = true
            }
            condition.lock()
            let connection = current
            current = nil
            condition.unlock()
            if let connection {
                PostgreSQLDatabase.dispose(connection)
                if !failing && !isStopped {
                    logger.warning("PostgreSQL LISTEN connection lost; reconnecting", metadata: ["channel": "\(channel)"])
                    failing = true
                }
            }
            condition.lock()
            if !stopped { _ = condition.wait(until: Date().addingTimeInterval(backoff)) }
            condition.unlock()
            backoff = min(backoff * 2, Self.maxBackoff)
        }
    }

    /// Returns when the connection closed or the listener stopped; pings in between.
    private func watch(_ connection: PostgresConnection, database: PostgreSQLDatabase) {
        while true {
            condition.lock()
            let due = Date().addingTimeInterval(Self.pingInterval)
            while !stopped && !connection.isClosed && Date() < due {
                _ = condition.wait(until: due)
            }
            let done = stopped || connection.isClosed
            condition.unlock()
            if done { return }
            let watchdog = connection.eventLoop.scheduleTask(in: Self.pingTimeout) { PostgreSQLDatabase.dispose(connection) }
            defer { watchdog.cancel() }
            do {
                _ = try connection.query("SELECT 1", logger: database.driverLogger).wait()
            } catch {
                return
            }
        }
    }
}
