import ArgumentParser
import CanoSDK
import Collector
import Foundation

/// `cano-collector silences`: add, list and expire silences in the collector's store. Works
/// on the store directly, like `deliveries`: the running collector (every replica, with
/// PostgreSQL) sees a change on its next read, and an expiry releases held Issues at once.
struct SilencesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silences",
        abstract: "Add, list and expire silences.",
        discussion: "A silence holds back delivery of the Issues that match all its matchers while it is active; Issues still firing when it ends are delivered then.",
        subcommands: [Add.self, List.self, Expire.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a silence.",
            discussion: """
                Example: cano-collector silences add --matcher 'namespace="payments"' --matcher 'alertname=~"KubePod.*"' \
                --duration 2h --author alice --comment "maintenance window" --data-dir /var/lib/cano-collector
                """)

        @OptionGroup var store: StoreOptions
        @Option(name: .customLong("matcher"), help: "A matcher such as namespace=\"payments\" or severity=~\"HIGH|LOW\" (repeat for more; all must match).")
        var matchers: [String] = []
        @Option(help: "How long the silence lasts from its start, such as 90m, 2h or 1d.")
        var duration: String?
        @Option(help: "When it ends (RFC 3339, such as 2026-03-01T16:00:00Z), instead of --duration.")
        var end: String?
        @Option(help: "When it starts (RFC 3339); default now.")
        var start: String?
        @Option(help: "Who creates it.")
        var author: String
        @Option(help: "Why.")
        var comment: String

        func run() async throws {
            let silence: Silence
            do throws(SilenceError) {
                silence = try Silence.make(matcherLines: matchers, startsAt: start, endsAt: end, duration: duration,
                                           createdBy: author, comment: comment)
            } catch {
                throw SilencesCommandError(message: Self.option(for: error) + error.description)
            }
            let id = try store.withDatabase(label: "cano.silences") { try SilenceStore(database: $0).add(silence) }
            print(id)
        }

        /// The command-line option a field comes from, so the message points at what to fix.
        private static func option(for error: SilenceError) -> String {
            switch error.field {
            case "matchers": "--matcher: "
            case "createdBy": "--author: "
            case "comment": "--comment: "
            case "startsAt": "--start: "
            case "endsAt": "--end/--duration: "
            case "duration": "--duration: "
            default: ""
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List silences, soonest end first.")

        @OptionGroup var store: StoreOptions
        @Flag(help: "Include expired silences (kept 5 days).")
        var expired = false
        @Flag(help: "Print JSON (one array, as GET /api/silences returns) instead of a table.")
        var json = false

        func run() async throws {
            let now = Date()
            let silences = try store.withDatabase(label: "cano.silences") { try SilenceStore(database: $0).list(includeExpired: expired, now: now) }
            if json {
                let items = silences.map { s in
                    JSONValue.object([
                        "id": .string(s.id), "matchers": .array(s.matcherStrings.map(JSONValue.string)),
                        "startsAt": .string(RFC3339.format(s.startsAt)), "endsAt": .string(RFC3339.format(s.endsAt)),
                        "createdBy": .string(s.createdBy), "comment": .string(s.comment), "updatedAt": .string(RFC3339.format(s.updatedAt)),
                        "status": .object(["state": .string(s.state(at: now).rawValue)]),
                    ])
                }
                print(String(decoding: try IssueCoding.encode(JSONValue.array(items)), as: UTF8.self))
                return
            }
            if silences.isEmpty {
                print(expired ? "no silences" : "no active or pending silences")
                return
            }
            print(["ID", "STATE", "STARTS", "ENDS", "CREATED BY", "MATCHERS", "COMMENT"].joined(separator: "\t"))
            for s in silences {
                print([s.id, s.state(at: now).rawValue, RFC3339.format(s.startsAt), RFC3339.format(s.endsAt), Self.cell(s.createdBy),
                       s.matcherStrings.joined(separator: ","), Self.cell(s.comment)].joined(separator: "\t"))
            }
        }

        /// One table cell: tabs and newlines would break the columns.
        private static func cell(_ text: String) -> String {
            text.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")
        }
    }

    struct Expire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Expire silences now (they are kept, expired, for 5 days).")

        @OptionGroup var store: StoreOptions
        @Argument(help: "Silence ids (from `silences list`).")
        var ids: [String] = []

        func validate() throws {
            if ids.isEmpty { throw ValidationError("give the ids of the silences to expire") }
        }

        func run() async throws {
            let failed = try self.store.withDatabase(label: "cano.silences") { database in
                let store = SilenceStore(database: database)
                var failed = false
                for id in ids {
                    do {
                        let silence = try store.expire(id: id)
                        print("expired \(silence.id)")
                    } catch let error as SilenceError {
                        // Go on with the other ids; the exit status says something failed.
                        FileHandle.standardError.write(Data("\(error.description)\n".utf8))
                        failed = true
                    }
                }
                return failed
            }
            if failed { throw ExitCode(1) }
        }
    }
}

/// A `silences` failure that is not a usage mistake (no usage text is printed).
struct SilencesCommandError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
