import ArgumentParser
import Collector
import Foundation
import Logging

/// The store options of the commands that work on the collector's database directly
/// (`deliveries`, `silences`): the config file's store (PostgreSQL or its `data_dir`), or a
/// data directory's SQLite file. SQLite allows this while the collector runs; a running
/// collector sees the changes on its next read.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The collector's data directory (holds cano-collector.db).")
    var dataDirectory = "./data"
    @Option(name: .customLong("config"), help: "The collector's config file: its store (PostgreSQL or data_dir) is used instead of --data-dir.")
    var config: String?

    /// Opens the store (migrating it if needed). `label` names the logger.
    /// - Throws: ``StoreOptionsError`` when `--data-dir` holds no database; the config's
    ///   or the database's own errors otherwise.
    private func openDatabase(label: String) throws -> any SQLDatabase {
        if let config {
            let loaded = try ConfigLoader.load(path: config)
            SecretScrubber.shared.register(config: loaded)
            return try CollectorStorage.open(loaded.storage, dataDirectory: loaded.dataDirectory, logger: Logger(label: label))
        }
        let path = CollectorSchema.path(inDataDirectory: dataDirectory)
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreOptionsError(message: "no collector database at \(path) (check --data-dir)")
        }
        return try CollectorSchema.open(path: path)
    }

    /// Runs `body` on the opened store, then closes it: a command must not exit with
    /// PostgreSQL connections or a SQLite handle still open under the exit handlers.
    /// - Throws: what ``openDatabase(label:)`` or `body` throws.
    func withDatabase<T>(label: String, _ body: (any SQLDatabase) throws -> T) throws -> T {
        let database = try openDatabase(label: label)
        defer { database.close() }
        return try body(database)
    }
}

/// The store cannot be opened (no usage text is printed).
struct StoreOptionsError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
