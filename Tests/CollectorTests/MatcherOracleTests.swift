@testable import Collector
import CanoSDK
import Dispatch
import Foundation
import Synchronization
import Testing
import TestSupport
import Yams

/// Alertmanager itself is the oracle for matchers: every case of
/// `Tests/Fixtures/matchers/corpus.yaml` is decided by `amtool config routes test`
/// (Debian's prometheus-alertmanager, 0.25) and by our config loader and router, and the
/// decisions must agree, except where the fixture records a deliberate difference.
@Suite struct MatcherOracleTests {
    enum Decision: String, Sendable { case match, nomatch, invalid }

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        /// A `matchers:` line, or "" for a case of the legacy maps only.
        var matcher: String
        var match: [String: String] = [:]
        var matchRE: [String: String] = [:]
        var labels: [String: String]
        /// Ours.
        var expect: Decision
        /// Alertmanager 0.25's.
        var alertmanager: Decision
        var description: String { "\(name): \(matcher)\(match.isEmpty ? "" : " match \(match)")\(matchRE.isEmpty ? "" : " match_re \(matchRE)")" }

        /// The case's route conditions as YAML flow items, the same for both configs.
        var conditions: String {
            func map(_ m: [String: String]) -> String {
                "{" + m.sorted { $0.key < $1.key }.map { "\(yamlDoubleQuoted($0.key)): \(yamlDoubleQuoted($0.value))" }.joined(separator: ", ") + "}"
            }
            var items: [String] = []
            if match.isEmpty && matchRE.isEmpty || !matcher.isEmpty { items.append("matchers: [\(yamlDoubleQuoted(matcher))]") }
            if !match.isEmpty { items.append("match: \(map(match))") }
            if !matchRE.isEmpty { items.append("match_re: \(map(matchRE))") }
            return items.joined(separator: ", ")
        }
    }

    static func corpus() throws -> [Case] {
        let text = try String(contentsOfFile: Fixtures.repositoryRoot + "/Tests/Fixtures/matchers/corpus.yaml", encoding: .utf8)
        guard let root = try Yams.load(yaml: text) as? [String: Any], let cases = root["cases"] as? [[String: Any]] else {
            throw TestSupportError("corpus.yaml: expected a mapping with a cases list")
        }
        return try cases.map { c in
            // YAML's implicit types (10.0.3.4 is a string, "503" quoted) are kept as text.
            func text(_ v: Any?) -> String? { v.map { "\($0)" } }
            func strings(_ v: Any?) -> [String: String] {
                (v as? [AnyHashable: Any] ?? [:]).reduce(into: [String: String]()) { $0["\($1.key)"] = text($1.value) }
            }
            guard let name = text(c["name"]), c["matcher"] != nil || c["match"] != nil || c["match_re"] != nil,
                  let expect = text(c["expect"]).flatMap(Decision.init(rawValue:)) else {
                throw TestSupportError("corpus.yaml: a case needs name, matcher (or match/match_re) and expect: \(c)")
            }
            let am = text(c["am_0_25"]).flatMap(Decision.init(rawValue:)) ?? expect
            return Case(name: name, matcher: text(c["matcher"]) ?? "", match: strings(c["match"]), matchRE: strings(c["match_re"]),
                        labels: strings(c["labels"]), expect: expect, alertmanager: am)
        }
    }

    /// The case's matcher as one route of a cano-collector config, loaded like any config
    /// (so the YAML layer applies), then routed.
    static func ours(_ c: Case) -> (Decision, String) {
        let yaml = """
            destinations:
              - {name: hit, type: file, config: {path: "-"}}
              - {name: miss, type: file, config: {path: "-"}}
            routes:
              - {\(c.conditions), destinations: [hit]}
            default_destinations: [miss]
            """
        let config: CollectorConfig
        do {
            config = try ConfigLoader.parse(yaml)
        } catch let error as ConfigError {
            // Refused where it is written: line 5, the scalar's column.
            let located = error.problems.allSatisfy { $0.location.hasPrefix("5:") && ($0.message.hasPrefix("invalid matcher") || $0.message.hasPrefix("invalid label name")) }
            return (.invalid, located ? "" : "refused without its line:column: \(error)")
        } catch {
            return (.invalid, "unexpected error \(error)")
        }
        let issue = Issue(type: .alert, source: .prometheus, severity: .high, status: .firing, title: "T", aggregationKey: "T", fingerprint: "f",
                          subject: Subject(kind: "Pod", name: "p", namespace: "ns", labels: c.labels), startsAt: Date())
        let destinations = IssueRouter(routes: config.routes, defaultDestinations: config.defaultDestinations).destinations(for: issue)
        return (destinations == ["hit"] ? .match : .nomatch, "")
    }

    /// Alertmanager's decision: a config whose only child route carries the matcher and a
    /// receiver named after the case.
    static func alertmanager(_ c: Case, amtool: String, directory: TemporaryDirectory) throws -> (Decision, String) {
        let file = directory.file("\(c.name).yml")
        try """
            route:
              receiver: none
              routes:
                - {receiver: \(c.name), \(c.conditions)}
            receivers:
              - name: none
              - name: \(c.name)

            """.write(toFile: file, atomically: true, encoding: .utf8)
        // amtool reads each label as a classic matcher, so values are quoted and escaped;
        // names it cannot read only occur where the config is refused anyway.
        let labels = c.labels.filter { MatcherGrammar.isClassicName($0.key) }.map { "\($0.key)=\"\(MatcherGrammar.escape($0.value))\"" }
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: amtool)
        process.arguments = ["config", "routes", "test", "--config.file=\(file)"] + labels
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try Subprocess.start(process)
        let stdout = String(decoding: Subprocess.readToEnd(out.fileHandleForReading), as: UTF8.self)
        let stderr = String(decoding: Subprocess.readToEnd(err.fileHandleForReading), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return (.invalid, stderr) }
        switch stdout.split(separator: "\n").first.map(String.init) {
        case c.name: return (.match, stderr)
        case "none": return (.nomatch, stderr)
        default: return (.invalid, "unexpected output: \(stdout) \(stderr)")
        }
    }

    /// YAML's double-quoted scalar is a superset of JSON strings.
    static func yamlDoubleQuoted(_ s: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return String(decoding: try! encoder.encode(s), as: UTF8.self)
    }

    @Test func corpusIsLargeAndNamedUniquely() throws {
        let cases = try Self.corpus()
        #expect(cases.count >= 50)
        #expect(Set(cases.map(\.name)).count == cases.count)
        // Issue fields are resolved from the Issue, not the labels: the corpus avoids them.
        #expect(cases.allSatisfy { c in c.labels.keys.allSatisfy { !Matcher.issueFields.contains($0) } })
    }

    @Test func routerDecidesAsTheFixtureSays() throws {
        for c in try Self.corpus() {
            let (decision, detail) = Self.ours(c)
            #expect(decision == c.expect, "\(c)")
            #expect(detail.isEmpty, "\(c): \(detail)")
        }
    }

    @Test func alertmanagerDecidesTheSame() async throws {
        let amtool = try #require(["/usr/bin/amtool", "/usr/local/bin/amtool"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                  "amtool is missing: apt-get install prometheus-alertmanager")
        let cases = try Self.corpus()
        let directory = try TemporaryDirectory(prefix: "cano-amtool")
        defer { directory.remove() }
        let results = Mutex([Int: Result<(Decision, String), any Error>]())
        // One amtool process per case, four at a time, each waited for on a thread of our
        // own. Waiting blocks, so never on Swift's cooperative pool, and not with
        // DispatchQueue.concurrentPerform either: on Linux that runs on the same dispatch
        // root-queue threads as the pool (two on a 2-core machine), and it stalled every
        // other test for 13 s.
        let next = Mutex(0)
        await BlockingThread.run(name: "test-amtool") {
            let workers = DispatchGroup()
            for worker in 0..<4 {
                workers.enter()
                BlockingThread.start(name: "test-amtool-\(worker)") {
                    defer { workers.leave() }
                    while true {
                        let i = next.withLock { n -> Int in defer { n += 1 }; return n }
                        guard i < cases.count else { return }
                        let result = Result { try Self.alertmanager(cases[i], amtool: amtool, directory: directory) }
                        results.withLock { $0[i] = result }
                    }
                }
            }
            workers.wait()
        }
        for (i, c) in cases.enumerated() {
            let (decision, detail) = try #require(results.withLock { $0[i] }).get()
            #expect(decision == c.alertmanager, "\(c): amtool said \(decision.rawValue) \(detail)")
        }
    }
}
