import ArgumentParser
import Collector
import Foundation
import Logging

/// `cano-collector deliveries`: inspect the outbox and re-queue dead letters. Works on the
/// database file directly (SQLite allows it while the collector runs; a running collector
/// picks re-queued deliveries up within its poll interval).
struct DeliveriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliveries",
        abstract: "List deliveries and retry dead letters.",
        subcommands: [List.self, Retry.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List deliveries, newest first.")

        @OptionGroup var store: StoreOptions
        @Flag(help: "Only dead letters (deliveries that failed for good).")
        var failed = false
        @Option(help: "Only this destination.")
        var destination: String?
        @Option(help: "At most this many rows.")
        var limit = 100

        func run() async throws {
            let records = try store.withDatabase(label: "cano.deliveries") { try DeliveryStore(database: $0).records(state: failed ? .dead : nil, destination: destination, limit: limit) }
            if records.isEmpty {
                print(failed ? "no dead letters" : "no deliveries")
                return
            }
            print(["ID", "DESTINATION", "STATE", "STATUS", "ATTEMPTS", "UPDATED", "FINGERPRINT", "LAST MESSAGE"].joined(separator: "\t"))
            for r in records {
                let updated = r.updatedText
                print([String(r.id), r.destination, r.state.rawValue, r.status, String(r.attempts), updated, r.fingerprint, r.lastMessage ?? ""]
                    .joined(separator: "\t"))
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queue dead letters again with a fresh attempt budget.")

        @OptionGroup var store: StoreOptions
        @Argument(help: "Dead-letter ids (from `deliveries list --failed`).")
        var ids: [Int64] = []
        @Flag(help: "Retry every dead letter.")
        var allFailed = false

        func validate() throws {
            if ids.isEmpty == !allFailed {
                throw ValidationError("give dead-letter ids or --all-failed (not both)")
            }
        }

        func run() async throws {
            let requeued = try store.withDatabase(label: "cano.deliveries") { try DeliveryStore(database: $0).retryDeadLetters(ids: allFailed ? nil : ids) }
            let missing = Set(ids).subtracting(requeued).sorted()
            print("re-queued \(requeued.count) dead letter(s)")
            if !missing.isEmpty {
                print("not dead letters (ignored): \(missing.map(String.init).joined(separator: ", "))")
                throw ExitCode(1)
            }
        }
    }
}

/// A `deliveries` failure that is not a usage mistake (no usage text is printed).
struct DeliveriesCommandError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
