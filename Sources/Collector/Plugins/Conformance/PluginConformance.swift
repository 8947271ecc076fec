#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Logging

/// The outcome of `cano-collector plugins check`: one verdict per check, with advice.
public struct ConformanceReport: Sendable {
    /// One check's verdict.
    public struct Check: Sendable {
        /// PASS, FAIL, WARN (a risk that does not fail the run) or INFO (facts that
        /// neither pass nor fail, and skipped checks).
        public enum Verdict: String, Sendable {
            case pass = "PASS", fail = "FAIL", warn = "WARN", info = "INFO"
        }
        /// "load", "descriptor", "create", "deliver firing"...
        public var name: String
        public var verdict: Verdict
        public var detail: String
        /// What to do about a failure.
        public var advice: String?

        /// A verdict for one check. `detail` and `advice` are scrubbed of the sample config's
        /// secrets (a plugin's message may quote what a server echoed) and `detail` is capped.
        public init(_ name: String, _ verdict: Verdict, _ detail: String, advice: String? = nil) {
            self.name = name
            self.verdict = verdict
            self.detail = BoundedEcho.cap(SecretScrubber.shared.scrub(detail), limit: 2048)
            self.advice = advice.map { SecretScrubber.shared.scrub($0) }
        }

        /// "PASS  name: detail", plus an advice line for failures.
        public var text: String {
            "\(verdict.rawValue)  \(name): \(detail)\n" + (advice.map { "      advice: \($0)\n" } ?? "")
        }
    }

    /// Every check so far, in order.
    public var checks: [Check] = [] {
        didSet { if let last = checks.last, checks.count > oldValue.count { progress(last) } }
    }
    private let progress: @Sendable (Check) -> Void
    /// The requests the plugin sent to the capture server.
    public var captured: [CaptureServer.Request] = []

    init(progress: @escaping @Sendable (Check) -> Void = { _ in }) {
        self.progress = progress
    }

    /// True when no check failed.
    public var passed: Bool { !checks.contains { $0.verdict == .fail } }

    /// The report as printed by the CLI.
    public var text: String {
        checks.map(\.text).joined() + resultLine
    }

    /// The last line: "result: PASS" or "result: FAIL".
    public var resultLine: String { passed ? "result: PASS\n" : "result: FAIL\n" }
}

/// A conformance run for one plugin file: load it, validate its descriptor, create it
/// with a sample config and deliver a firing then a resolved sample Issue. Plugin calls
/// run on a dedicated thread; a misbehaving plugin gets a FAIL and advice, not a crash
/// of the checker (short of the plugin itself crashing the process).
public enum PluginConformance {
    /// Replaced in the config JSON by the capture server's URL.
    public static let captureURLPlaceholder = "{{capture_url}}"

    /// Runs every check.
    ///
    /// - Parameters:
    ///   - configJSON: the instance config; `{{capture_url}}` becomes the capture URL.
    ///     `${VAR}` and `key_file: PATH` are resolved as `run` resolves a destination's
    ///     `config:` (from `environment`, and files relative to the working directory).
    ///   - timeout: each call's deadline.
    ///   - progress: called with each check as soon as it is decided, so a caller can
    ///     print it before the next plugin call runs (and possibly crashes the process).
    public static func run(
        path: String, configJSON: String = "{}", timeout: Duration = .seconds(10),
        environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger,
        progress: @escaping @Sendable (ConformanceReport.Check) -> Void = { _ in }
    ) async -> ConformanceReport {
        var report = ConformanceReport(progress: progress)
        let server: CaptureServer
        let script = ScriptedAnswer()
        do {
            server = try await CaptureServer.start(responder: { _ in script.current })
        } catch {
            report.checks.append(.init("capture server", .fail, "could not start a loopback HTTP server: \(error)",
                                       advice: "the checker needs to bind 127.0.0.1 on an ephemeral port"))
            return report
        }
        await body(path: path, configJSON: configJSON, timeout: timeout, environment: environment, logger: logger,
                   server: server, script: script, report: &report)
        report.captured = server.requests
        await server.stop()
        return report
    }

    private static func body(
        path: String, configJSON: String, timeout: Duration, environment: [String: String], logger: Logger,
        server: CaptureServer, script: ScriptedAnswer, report: inout ConformanceReport
    ) async {
        let captureURL = server.baseURL + "/capture"
        let usesCapture = configJSON.contains(captureURLPlaceholder)
        let parsed: ParsedPluginConfig
        switch ParsedPluginConfig.parse(configJSON.replacing(captureURLPlaceholder, with: captureURL), environment: environment) {
        case .success(let p): parsed = p
        case .failure(let problems):
            report.checks.append(.init("config", .fail, "--config-json: " + problems.lines.joined(separator: "; "),
                                       advice: "pass an object, e.g. '{\"url\":\"\(captureURLPlaceholder)\"}'; ${VAR} must be set "
                                           + "(or use ${VAR:-default})"))
            return
        }

        // 1. load + descriptor
        let loaded = await BlockingThread.run { Result { () throws(PluginLoadError) in try PluginLoader.load(path: path) } }
        let plugin: LoadedPlugin
        switch loaded {
        case .success(let p):
            plugin = p
            report.checks.append(.init("load", .pass, "dlopen and \(PluginLoaderSymbols.entry) resolved"))
            report.checks.append(.init("descriptor", .pass,
                "\(p.name) \(p.version), \(p.kind.rawValue), ABI \(PluginLoader.abiMajor).\(p.abiMinor), "
                + "toolchain \(p.toolchain ?? "none (C/Rust/Go)"), \(p.isReentrant ? "reentrant" : "serialised calls")"
                + (p.pathKeys.isEmpty ? "" : ", path keys: \(p.pathKeys.sorted().joined(separator: ", "))")
                + (p.kind == .destination ? ", capabilities: \(p.capabilities)" : "")))
        case .failure(let error):
            let loadCodes: Set<PluginLoadError.Code> = [.fileNotFound, .dlopenFailed, .missingSymbol, .nullDescriptor]
            if loadCodes.contains(error.code) {
                report.checks.append(.init("load", .fail, error.reason, advice: advice(for: error.code)))
            } else {
                report.checks.append(.init("load", .pass, "dlopen and \(PluginLoaderSymbols.entry) resolved"))
                report.checks.append(.init("descriptor", .fail, error.reason, advice: advice(for: error.code)))
            }
            return
        }

        // `nm` runs as a child process and is waited for: off the cooperative pool.
        symbolChecks(symbols: await BlockingThread.run(name: "cano-nm") { DynamicSymbols.read(path) }, report: &report)

        // `*_file` keys are resolved once the plugin is loaded: its path_keys decide which
        // are paths to pass on rather than Secrets to read.
        let sample: ResolvedPluginConfig
        // As in `run`: path_keys apply to destinations; an enricher's files are all read.
        switch parsed.resolve(pathKeys: plugin.kind == .destination ? plugin.pathKeys : []) {
        case .success(let r): sample = r
        case .failure(let problems):
            report.checks.append(.init("config", .fail, "--config-json: " + problems.lines.joined(separator: "; "),
                                       advice: "every key_file must name a readable file"))
            return
        }
        let config = sample.json
        // What the plugin may echo back (a token in an error body) is redacted in every check;
        // the raw results and log lines are searched for these values at the end.
        SecretScrubber.shared.register(sample.secrets)
        var rawEchoes: [(where: String, text: String)] = []

        // 2. create
        let logs = PluginLogRecorder()
        let services = PluginServices(logger: logs.logger(forwardingTo: logger), store: InMemoryKeyValueStore(), metrics: Metrics())
        let clock = ContinuousClock()
        // Timed on the calling thread, around create() alone: not the thread's start-up. The
        // timed one is `validate`'s (CANO_CREATE_VALIDATE_ONLY), which must be quick; then
        // the instance the calls use, whose one credential check may take a few seconds.
        let (created, createTime) = await BlockingThread.run {
            let started = clock.now
            let dry = Result { () throws(DestinationSetupError) in
                try PluginInstance(plugin: plugin, name: "check", configJSON: config, services: services, flags: .validateOnly)
            }
            let dryTime = clock.now - started
            guard case .success(let instance) = dry else { return (dry, dryTime) }
            instance.destroy()
            return (Result { () throws(DestinationSetupError) in
                try PluginInstance(plugin: plugin, name: "check", configJSON: config, services: services)
            }, dryTime)
        }
        let instance: PluginInstance
        switch created {
        case .success(let i):
            instance = i
            if createTime > slowCreate {
                report.checks.append(.init("create", .fail,
                    "create() with CANO_CREATE_VALIDATE_ONLY took \(OutcomeProbe.seconds(createTime)) (more than \(OutcomeProbe.seconds(slowCreate)))",
                    advice: "create() runs for every destination at start-up and in `validate`: validate and prepare, no slow I/O; "
                        + "a credential check belongs only in a create without CANO_CREATE_VALIDATE_ONLY, bounded to a few seconds"))
            } else {
                report.checks.append(.init("create", .pass, "instance created from the sample config"))
            }
        case .failure(let error):
            rawEchoes.append(("create message", error.reason))
            report.checks.append(.init("create", .fail, error.reason, advice:
                "check the config you passed with --config-json (plugins that post over HTTP can use "
                + "\"\(captureURLPlaceholder)\" as their URL); create() must validate only and return CANO_STATUS_OK"))
            secretCheck(sample.secrets, echoes: rawEchoes + logs.recorded.map { ("log", $0) }, report: &report)
            return
        }

        // 3. calls: firing, then resolved with the firing's reference
        let (firing, resolved) = sampleIssues()
        let firingJSON = (try? IssueCoding.encode(firing)) ?? []
        let operation: PluginInstance.Operation = plugin.kind == .destination ? .deliver : .enrich
        var reference: [UInt8]?
        for (label, issue) in [("firing", firing), ("resolved", resolved)] {
            guard let json = try? IssueCoding.encode(issue) else { continue }
            let context = makeContext(issue: issue, status: label, timeout: timeout, reference: reference)
            let result = await BlockingThread.run { instance.call(operation, issueJSON: json, context: context) }
            rawEchoes.append(("\(operation) \(label) message", result.message))
            let check = verdict(for: result, operation: operation, label: label)
            report.checks.append(check)
            if operation == .deliver, label == "firing", let r = result.reference { reference = r }
        }
        if operation == .deliver {
            let text = reference.map { "returned reference \"\(String(decoding: $0.prefix(80), as: UTF8.self))\", handed back on the resolved delivery" }
                ?? "no reference returned (fine for destinations that cannot update a sent message)"
            report.checks.append(.init("reference", .info, text))
        }
        let requests = server.requests
        report.checks.append(.init("capture", .info, requests.isEmpty
            ? "the capture server received no requests (fine for plugins that do not post over HTTP)"
            : "the capture server received \(requests.count) request(s): " + requests.map { "\($0.method) \(bodyShape($0.body))" }.joined(separator: ", ")))

        // 4. the outcome mapping, against scripted answers
        if operation == .deliver, usesCapture {
            for probe in OutcomeProbe.all(timeout: timeout) {
                script.set(probe.response)
                let deadline = probe.deadline ?? timeout
                let context = makeContext(issue: firing, status: "probe-\(probe.name)", timeout: deadline, reference: nil)
                // Timed on the calling thread, as create() is: the plugin's own time, not
                // the wait for a free thread of the cooperative pool to resume us.
                let (result, elapsed) = await BlockingThread.run {
                    let before = clock.now
                    let result = instance.call(.deliver, issueJSON: firingJSON, context: context)
                    return (result, clock.now - before)
                }
                rawEchoes.append(("outcome \(probe.name) message", result.message))
                report.checks.append(probe.verdict(for: result, elapsed: elapsed, deadline: deadline))
            }
            script.set(CaptureServer.Response(status: 200, body: Array("ok".utf8)))
        } else if operation == .deliver {
            report.checks.append(.init("outcome mapping", .info,
                "skipped: the config does not use \(captureURLPlaceholder), so the plugin's HTTP status mapping was not exercised"))
        }

        // 5. destroy
        await BlockingThread.run { _ = instance.destroy() }
        report.checks.append(.init("destroy", .pass, "instance destroyed"))
        secretCheck(sample.secrets, echoes: rawEchoes + logs.recorded.map { ("log", $0) }, report: &report)
    }

    /// A validate-only create() slower than this is a FAIL: it must not do slow I/O.
    static let slowCreate = Duration.seconds(1)

    /// A secret from the config in a raw result message or log line is a FAIL (the report
    /// itself shows it redacted).
    private static func secretCheck(_ secrets: [String], echoes: [(where: String, text: String)], report: inout ConformanceReport) {
        guard !secrets.isEmpty else {
            report.checks.append(.init("secrets", .info, "skipped: the config holds no secret-named value (token, password, secret, key...)"))
            return
        }
        let leaks = echoes.filter { echo in secrets.contains { echo.text.contains($0) } }.map(\.where)
        if leaks.isEmpty {
            report.checks.append(.init("secrets", .pass, "no secret from the config appeared in a result message or log line"))
        } else {
            var seen = Set<String>()
            let places = leaks.filter { seen.insert($0).inserted }
            report.checks.append(.init("secrets", .fail, "a secret from the config was echoed in: " + places.joined(separator: ", "),
                advice: "never put config secrets (tokens, passwords, URL credentials) in result->message or log(): "
                    + "they end up in the collector's logs; name the key or the URL's host instead"))
        }
    }

    /// Exports beyond the entry point (WARN) and imports of curl_global_* (FAIL), from the
    /// dynamic symbol table (`symbols`); skipped when `nm` is not installed (nil).
    private static func symbolChecks(symbols: DynamicSymbols?, report: inout ConformanceReport) {
        guard let symbols else {
            report.checks.append(.init("exports", .info, "skipped: `nm` (binutils) is not installed, so the dynamic symbol table was not read"))
            return
        }
        let extra = symbols.extraExports
        if extra.isEmpty {
            report.checks.append(.init("exports", .pass, "only \(PluginLoaderSymbols.entry) is exported"))
        } else {
            report.checks.append(.init("exports", .warn,
                "\(extra.count) symbol(s) exported besides \(PluginLoaderSymbols.entry), e.g. " + extra.prefix(5).joined(separator: ", "),
                advice: "export only cano_plugin_entry: C with -fvisibility=hidden, Swift with everything but the entry internal; "
                    + "link with -Bsymbolic so your copies never interpose on the host's"))
        }
        let curl = ["curl_global_init", "curl_global_cleanup", "curl_global_init_mem", "curl_global_sslset"].filter(symbols.imported.contains)
        // CanoSDK's HTTPClient.initializeProcess() (for the host) links curl_global_init into
        // every Swift plugin; that alone is not a call.
        let sdkOnly = curl == ["curl_global_init"] && symbols.defined.contains(sdkCurlInit)
        if curl.isEmpty {
            report.checks.append(.init("curl global", .pass, "does not import curl_global_init/curl_global_cleanup"))
        } else if sdkOnly {
            report.checks.append(.init("curl global", .info,
                "imports curl_global_init only through CanoSDK's HTTPClient.initializeProcess(); never call that from a plugin"))
        } else {
            report.checks.append(.init("curl global", .fail, "imports " + curl.joined(separator: ", "),
                advice: "the host calls curl_global_init() once before loading plugins and owns cleanup: "
                    + "never call curl_global_* from a plugin (a cleanup tears libcurl down under every other destination)"))
        }
    }

    /// The mangled `CanoSDK.HTTPClient.initializeProcess()`.
    static let sdkCurlInit = "$s7CanoSDK10HTTPClientC17initializeProcessyyFZ"

    private static func verdict(for result: PluginCallResult, operation: PluginInstance.Operation, label: String) -> ConformanceReport.Check {
        let name = "\(operation) \(label)"
        guard result.isValidStatus else {
            return .init(name, .fail, "returned invalid status \(result.status)", advice:
                "set result->status to CANO_STATUS_OK (1), CANO_STATUS_RETRY (2) or CANO_STATUS_PERMANENT (3); "
                + "the host treats anything else as a retry and the Issue is eventually dead-lettered")
        }
        let outcome = result.outcome
        switch outcome.status {
        case .delivered:
            if operation == .enrich {
                guard let payload = result.payload, (try? IssueCoding.decode([Enrichment].self, from: payload)) != nil else {
                    return .init(name, .fail, "enrich() returned OK without a JSON array of enrichments in result->payload",
                                 advice: "return [{\"type\":...,\"title\":...,\"blocks\":[...]}] as in docs/issue.schema.json")
                }
            }
            return .init(name, .pass, outcome.message)
        case .retry:
            let after = result.retryAfterMillis.map { " (retry after \($0) ms)" } ?? ""
            return .init(name, .fail, "asked to retry\(after): \(outcome.message)",
                         advice: "the sample delivery should succeed; point the plugin at the capture server with \"\(captureURLPlaceholder)\"")
        case .permanent:
            return .init(name, .fail, "permanent failure: \(outcome.message)",
                         advice: "the sample Issue is valid per docs/issue.schema.json; check the plugin's parsing and config")
        }
    }

    private static func advice(for code: PluginLoadError.Code) -> String {
        switch code {
        case .fileNotFound: "check the path"
        case .dlopenFailed: "run `ldd` on the file; build it as a shared object for this architecture (cc -shared -fPIC)"
        case .missingSymbol: "export `const cano_plugin_descriptor *cano_plugin_entry(void)` with default visibility"
        case .nullDescriptor: "cano_plugin_entry() must return a pointer to a static descriptor"
        case .descriptorTooSmall: "set struct_size = sizeof(cano_plugin_descriptor) and compile against cano_plugin.h"
        case .abiMajorMismatch, .abiMinorTooNew: "rebuild the plugin against this collector's cano_plugin.h (abi_major = CANO_ABI_MAJOR, abi_minor = CANO_ABI_MINOR)"
        case .unknownKind: "set kind to CANO_KIND_DESTINATION or CANO_KIND_ENRICHER"
        case .missingCallback: "set every callback its kind requires (see docs/plugin-abi.md)"
        case .badName: "name the plugin with [a-z0-9_-]+, e.g. \"pagerduty\""
        case .toolchainMismatch: "build Swift plugins with exactly the collector's Swift toolchain"
        default: "see docs/plugin-abi.md"
        }
    }

    /// A firing and a resolved Issue for the same (fictional) alert.
    static func sampleIssues() -> (firing: Issue, resolved: Issue) {
        let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
        let firing = Issue(
            type: .alert, source: .prometheus, severity: .high, status: .firing,
            title: "KubePodCrashLooping", description: "Pod payments/worker-7d9c is restarting (cano-collector plugins check sample)",
            aggregationKey: "KubePodCrashLooping", fingerprint: "cano-check-5f1d2c",
            subject: Subject(kind: "Pod", name: "worker-7d9c", namespace: "payments", container: "worker",
                             labels: ["alertname": "KubePodCrashLooping", "severity": "critical"]),
            cluster: "check", startsAt: start,
            enrichments: [Enrichment(type: "sample", title: "Why", blocks: [.markdown("The container exited with code 1.")])])
        var resolved = firing
        resolved.id = UUID().uuidString.lowercased()
        resolved.status = .resolved
        resolved.endsAt = start.addingTimeInterval(600)
        return (firing, resolved)
    }

    private static func makeContext(issue: Issue, status: String, timeout: Duration, reference: [UInt8]?) -> DeliveryContext {
        let millis = Int64(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return DeliveryContext(
            attempt: 1, deadlineUnixMillis: Int64(Date().timeIntervalSince1970 * 1000) + millis,
            deadline: .now + timeout, idempotencyKey: "check:\(issue.fingerprint):\(status)", reference: reference)
    }

    private static func bodyShape(_ body: [UInt8]) -> String {
        if let issue = try? IssueCoding.decode(Issue.self, from: body) { return "an Issue (\(issue.status.rawValue), \(body.count) bytes)" }
        return "\(body.count) bytes"
    }
}

/// Names shared by the loader and its reports.
enum PluginLoaderSymbols {
    static let entry = "cano_plugin_entry"
}
