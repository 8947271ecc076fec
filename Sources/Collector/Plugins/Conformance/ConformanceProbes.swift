#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import CanoSDK
import Logging
import PluginABI
import Synchronization
import Yams

// The extra probes of `plugins check`: config resolution as `run` does it, the outcome
// mapping against scripted answers, secret echoes, the dynamic symbol table and timing.

/// A plugin config as `run` reads a destination's `config:` block: `${VAR}` substituted,
/// `*_file` keys left as placeholders until the plugin (and its path_keys) is known.
struct ParsedPluginConfig {
    var config: JSONValue
    var secrets: [String]

    /// Reads `text` (JSON, or YAML) with the config reader `run` uses: `${VAR}` and
    /// `${VAR:-default}` are substituted from `environment`.
    /// - Returns: the config, or the problems found (one line each).
    static func parse(_ text: String, environment: [String: String]) -> Result<ParsedPluginConfig, ResolveProblems> {
        let root: Node?
        do { root = try YAMLReader.compose(text) } catch {
            return .failure(ResolveProblems(lines: ["not a JSON object: \(error)"]))
        }
        let reader = YAMLReader(environment: environment) { path in try String(contentsOfFile: path, encoding: .utf8) }
        let config = root.map { reader.pluginConfig(YAMLReader.Located(node: $0, path: "config"), deferFiles: true) } ?? .object([:])
        guard reader.problems.isEmpty, config.objectValue != nil else {
            let lines = reader.problems.map { ($0.location.isEmpty ? "" : "\($0.location) ") + "\($0.path): \($0.message)" }
            return .failure(ResolveProblems(lines: lines.isEmpty ? ["not a JSON object"] : lines))
        }
        return .success(ParsedPluginConfig(config: config, secrets: reader.secretValues))
    }

    /// The config with its `*_file` keys resolved as the factory does: `pathKeys` passed
    /// on, every other file read (a relative path from the working directory).
    func resolve(pathKeys: Set<String>) -> Result<ResolvedPluginConfig, ResolveProblems> {
        let resolved: (config: JSONValue, secrets: [String])
        do { resolved = try YAMLReader.resolveFiles(in: config, pathKeys: pathKeys) } catch {
            return .failure(ResolveProblems(lines: ["\(error)"]))
        }
        let secrets = (self.secrets + resolved.secrets + SecretScrubber.secrets(inPluginConfig: resolved.config))
            .filter { $0.utf8.count >= SecretSafe.minimumLength }
        guard let json = try? IssueCoding.encode(resolved.config) else { return .failure(ResolveProblems(lines: ["cannot encode the config as JSON"])) }
        return .success(ResolvedPluginConfig(json: json, secrets: Array(Set(secrets))))
    }
}

struct ResolveProblems: Error { var lines: [String] }

/// A plugin config resolved the way `run` resolves a destination's `config:` block.
struct ResolvedPluginConfig {
    /// The JSON the plugin's create() receives.
    var json: [UInt8]
    /// Secrets in it: secret-keyed values, URL credentials, `*_file` contents and secret
    /// `${VAR}` values (at least ``SecretSafe/minimumLength`` bytes).
    var secrets: [String]
}

/// Records, unscrubbed, what a plugin logs through the host, and forwards it.
final class PluginLogRecorder: Sendable {
    private let lines = Mutex<[String]>([])

    /// Everything logged so far (message and metadata values), unscrubbed.
    var recorded: [String] { lines.withLock { $0 } }

    func logger(forwardingTo base: Logger) -> Logger {
        Logger(label: base.label) { [self] _ in Handler(recorder: self, forward: base.handler) }
    }

    fileprivate func record(_ text: String) { lines.withLock { $0.append(text) } }

    private struct Handler: LogHandler {
        let recorder: PluginLogRecorder
        var forward: any LogHandler
        var metadata: Logger.Metadata {
            get { forward.metadata }
            set { forward.metadata = newValue }
        }
        var logLevel: Logger.Level {
            get { .trace }
            set { _ = newValue }
        }
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { forward[metadataKey: key] }
            set { forward[metadataKey: key] = newValue }
        }
        func log(event: LogEvent) {
            let values = (event.metadata ?? [:]).map { "\($0.key)=\($0.value)" }
            // Every level is searched for secrets; only what the base logger shows is forwarded.
            recorder.record(([event.message.description] + values).joined(separator: " "))
            if event.level >= forward.logLevel { forward.log(event: event) }
        }
    }
}

/// One scripted answer of the capture server, and what the plugin should make of it.
struct OutcomeProbe: Sendable {
    enum Expected: Sendable, Equatable {
        /// CANO_STATUS_OK
        case ok
        /// CANO_STATUS_RETRY; with a hint in this range (ms) when given.
        case retry(after: ClosedRange<Int64>?)
        /// CANO_STATUS_PERMANENT
        case permanent
    }

    var name: String
    var response: CaptureServer.Response
    var expected: Expected
    /// The call's deadline, when shorter than --timeout (the hang).
    var deadline: Duration?
    /// A retry-after that is not honoured is a WARN, not a FAIL: the HTTP-date form, which
    /// few services send. CanoSDK's plugins honour it; a plugin in another language is told.
    var hintIsAdvisory = false

    /// 202, 429 (seconds and HTTP date), 500, 400, a hang past the deadline and a reset.
    static func all(timeout: Duration, now: Date = Date()) -> [OutcomeProbe] {
        let hang = min(timeout, .seconds(2))
        return [
            .init(name: "202", response: .init(status: 202, body: Array("accepted".utf8)), expected: .ok),
            .init(name: "429 Retry-After: 7", response: .init(status: 429, headers: [("Retry-After", "7")]),
                  expected: .retry(after: 7000...7000)),
            .init(name: "429 Retry-After: HTTP date (+30 s)",
                  response: .init(status: 429, headers: [("Retry-After", httpDate(now.addingTimeInterval(30)))]),
                  expected: .retry(after: 20_000...31_000), hintIsAdvisory: true),
            .init(name: "500", response: .init(status: 500, body: Array("internal error".utf8)), expected: .retry(after: nil)),
            .init(name: "400", response: .init(status: 400, body: Array("bad request".utf8)), expected: .permanent),
            .init(name: "hang", response: .init(status: 200, body: Array("too late".utf8), delay: hang + .seconds(3)),
                  expected: .retry(after: nil), deadline: hang),
            .init(name: "connection reset", response: .init(reset: true), expected: .retry(after: nil)),
        ]
    }

    /// An IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
    static func httpDate(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }

    /// The verdict for what the plugin returned.
    func verdict(for result: PluginCallResult, elapsed: Duration, deadline: Duration) -> ConformanceReport.Check {
        let name = "outcome \(self.name)"
        let got = Self.describe(result)
        let late = elapsed > deadline + .seconds(1)
        if late {
            return .init(name, .fail, "returned \(got) after \(Self.seconds(elapsed)), past the call's deadline of \(Self.seconds(deadline))",
                         advice: "bound every request by ctx->deadline_unix_ms and return CANO_STATUS_RETRY when it passes")
        }
        switch expected {
        case .ok:
            guard result.status == Int32(CANO_STATUS_OK.rawValue) else {
                return .init(name, .fail, "returned \(got); expected OK", advice: "treat every 2xx as delivered (CANO_STATUS_OK)")
            }
        case .permanent:
            guard result.status == Int32(CANO_STATUS_PERMANENT.rawValue) else {
                return .init(name, .fail, "returned \(got); expected PERMANENT",
                             advice: "a 4xx other than 408 and 429 will never succeed as is: return CANO_STATUS_PERMANENT so it is dead-lettered at once")
            }
        case .retry(let range):
            guard result.status == Int32(CANO_STATUS_RETRY.rawValue) else {
                return .init(name, .fail, "returned \(got); expected RETRY",
                             advice: "429, 5xx, timeouts and connection errors are transient: return CANO_STATUS_RETRY")
            }
            if let range, !(result.retryAfterMillis.map(range.contains) ?? false) {
                let detail = "returned \(got); expected a retry-after of \(range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)") ms"
                let advice = "set result->retry_after_ms from Retry-After (delay-seconds, or an HTTP date minus now)"
                return .init(name, hintIsAdvisory ? .warn : .fail, detail, advice: advice)
            }
        }
        return .init(name, .pass, "returned \(got)")
    }

    static func describe(_ result: PluginCallResult) -> String {
        let status: String = switch result.status {
        case Int32(CANO_STATUS_OK.rawValue): "OK"
        case Int32(CANO_STATUS_RETRY.rawValue): "RETRY"
        case Int32(CANO_STATUS_PERMANENT.rawValue): "PERMANENT"
        default: "invalid status \(result.status)"
        }
        let after = result.retryAfterMillis.map { ", retry after \($0) ms" } ?? ""
        return status + after + (result.message.isEmpty ? "" : " (\(BoundedEcho.cap(result.message, limit: 200)))")
    }

    static func seconds(_ d: Duration) -> String {
        let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
        return "\(Double(ms) / 1000) s"
    }
}

/// Holds the capture server's current answer.
final class ScriptedAnswer: Sendable {
    private let answer = Mutex(CaptureServer.Response(status: 200, body: Array("ok".utf8)))
    func set(_ response: CaptureServer.Response) { answer.withLock { $0 = response } }
    var current: CaptureServer.Response { answer.withLock { $0 } }
}

/// A plugin file's dynamic symbol table, read with `nm -D` (binutils).
struct DynamicSymbols {
    /// Defined (exported) symbols, by name.
    var defined: Set<String>
    /// Undefined (imported) symbols, without their version suffix.
    var imported: Set<String>

    /// Symbols every shared object defines, which say nothing about the plugin.
    static let linkerSymbols: Set<String> = ["_init", "_fini", "__bss_start", "_edata", "_end", "__data_start", "data_start", "_IO_stdin_used"]

    /// nil when `nm` is not on PATH (or fails): the symbol checks are then skipped.
    static func read(_ path: String) -> DynamicSymbols? {
        guard let nm = executable("nm") else { return nil }
        guard let defined = run(nm, ["-D", "--defined-only", path]), let undefined = run(nm, ["-D", "--undefined-only", path]) else { return nil }
        func names(_ text: String) -> [String] {
            text.split(separator: "\n").compactMap { line in
                guard let last = line.split(separator: " ").last else { return nil }
                let name = last.split(separator: "@").first.map(String.init) ?? String(last)
                return name.isEmpty ? nil : name
            }
        }
        return DynamicSymbols(defined: Set(names(defined)), imported: Set(names(undefined)))
    }

    /// Exported beyond the entry point and the linker's own symbols.
    var extraExports: [String] {
        defined.subtracting(Self.linkerSymbols).subtracting([PluginLoaderSymbols.entry]).sorted()
    }

    private static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs a program and returns its stdout, or nil when it fails.
    private static func run(_ program: String, _ arguments: [String]) -> String? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, program, &actions, nil, argv, environ)
        close(fds[1])
        guard spawned == 0 else {
            close(fds[0])
            return nil
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fds[0], $0.baseAddress, $0.count) }
            if n > 0 { output += buffer[0..<n] } else if n < 0, errno == EINTR { continue } else { break }
        }
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        guard status == 0 else { return nil }
        return String(decoding: output, as: UTF8.self)
    }
}
