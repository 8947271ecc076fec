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
        /// PASS, FAIL, or INFO (facts that neither pass nor fail).
        public enum Verdict: String, Sendable {
            case pass = "PASS", fail = "FAIL", info = "INFO"
        }
        /// "load", "descriptor", "create", "deliver firing"...
        public var name: String
        public var verdict: Verdict
        public var detail: String
        /// What to do about a failure.
        public var advice: String?

        /// A verdict for one check.
        public init(_ name: String, _ verdict: Verdict, _ detail: String, advice: String? = nil) {
            self.name = name
            self.verdict = verdict
            self.detail = detail
            self.advice = advice
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
    ///   - timeout: each call's deadline.
    ///   - progress: called with each check as soon as it is decided, so a caller can
    ///     print it before the next plugin call runs (and possibly crashes the process).
    public static func run(
        path: String, configJSON: String = "{}", timeout: Duration = .seconds(10), logger: Logger,
        progress: @escaping @Sendable (ConformanceReport.Check) -> Void = { _ in }
    ) async -> ConformanceReport {
        var report = ConformanceReport(progress: progress)
        let server: CaptureServer
        do {
            server = try await CaptureServer.start()
        } catch {
            report.checks.append(.init("capture server", .fail, "could not start a loopback HTTP server: \(error)",
                                       advice: "the checker needs to bind 127.0.0.1 on an ephemeral port"))
            return report
        }
        await body(path: path, configJSON: configJSON, timeout: timeout, logger: logger, server: server, report: &report)
        report.captured = server.requests
        await server.stop()
        return report
    }

    private static func body(
        path: String, configJSON: String, timeout: Duration, logger: Logger, server: CaptureServer, report: inout ConformanceReport
    ) async {
        let captureURL = server.baseURL + "/capture"
        let config = Array(configJSON.replacing(captureURLPlaceholder, with: captureURL).utf8)
        guard case .object? = try? IssueCoding.decode(JSONValue.self, from: config) else {
            report.checks.append(.init("config", .fail, "--config-json is not a JSON object",
                                       advice: "pass an object, e.g. '{\"url\":\"\(captureURLPlaceholder)\"}'"))
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
                + "toolchain \(p.toolchain ?? "none (C/Rust/Go)"), \(p.isReentrant ? "reentrant" : "serialised calls")"))
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

        // 2. create
        let services = PluginServices(logger: logger, store: InMemoryKeyValueStore(), metrics: Metrics())
        let created = await BlockingThread.run {
            Result { () throws(DestinationSetupError) in
                try PluginInstance(plugin: plugin, name: "check", configJSON: config, services: services)
            }
        }
        let instance: PluginInstance
        switch created {
        case .success(let i):
            instance = i
            report.checks.append(.init("create", .pass, "instance created from the sample config"))
        case .failure(let error):
            report.checks.append(.init("create", .fail, error.reason, advice:
                "check the config you passed with --config-json (plugins that post over HTTP can use "
                + "\"\(captureURLPlaceholder)\" as their URL); create() must validate only and return CANO_STATUS_OK"))
            return
        }

        // 3. calls: firing, then resolved with the firing's reference
        let (firing, resolved) = sampleIssues()
        let operation: PluginInstance.Operation = plugin.kind == .destination ? .deliver : .enrich
        var reference: [UInt8]?
        for (label, issue) in [("firing", firing), ("resolved", resolved)] {
            guard let json = try? IssueCoding.encode(issue) else { continue }
            let context = makeContext(issue: issue, status: label, timeout: timeout, reference: reference)
            let result = await BlockingThread.run { instance.call(operation, issueJSON: json, context: context) }
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

        // 4. destroy
        await BlockingThread.run { instance.destroy() }
        report.checks.append(.init("destroy", .pass, "instance destroyed"))
    }

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
