#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import PrometheusAPI
import Logging

/// The diagnosis step of the pipeline: an ``IssueSink`` between enrichment and the
/// outbox. For each firing Issue it reads the cluster and, for an OOM kill, Prometheus
/// (``FactGatherer``, on a thread of its own, within ``DiagnosisConfig/timeout``), runs
/// the ``Diagnoser``'s rules on that and on the Issue's enrichments, and puts the answer
/// first among the enrichments; then, when configured, asks the ``LLMAnalyst``.
///
/// It never holds an Issue back: a slow or unreachable API server costs at most the
/// timeout, after which the rules run on what the Issue already holds; no rule that
/// matches means no block. Text it quotes (termination messages, commands, log lines)
/// goes through the ``Redactor`` first, as logs do.
public final class DiagnosisStage: IssueSink {
    private let next: any IssueSink
    private let config: DiagnosisConfig
    private let gatherer: FactGatherer
    /// Bounds the threads cluster reads may hold, abandoned ones included (see ``CallLimiter``).
    private let limiter: CallLimiter
    /// The optional LLM second opinion (`diagnosis.llm`).
    private let analyst: LLMAnalyst?
    private let metrics: Metrics
    private let logger: Logger

    /// A stage reading the cluster through `kube` (nil: no cluster access, the rules see
    /// only the Issue) and OOM kills' memory history from `prometheus` (nil: none), in
    /// front of `next`. `maxConcurrentReads` bounds the threads reads may hold.
    public init(config: DiagnosisConfig, kube: (any KubeReader)?, prometheus: PrometheusConfig? = nil, next: any IssueSink,
                metrics: Metrics, logger: Logger, maxConcurrentReads: Int = 16) {
        self.next = next
        self.config = config
        self.gatherer = FactGatherer(api: KubeAPI(reader: kube), prometheus: prometheus.map(PrometheusClient.init), metrics: metrics, logger: logger)
        self.limiter = CallLimiter(limit: maxConcurrentReads)
        self.analyst = config.llm.map { LLMAnalyst(config: $0, metrics: metrics, logger: logger) }
        self.metrics = metrics
        self.logger = logger
        metrics.describe("cano_diagnoses_total", type: "counter",
                         help: "Firing Issues diagnosed, by the rule that matched (none: no rule did).")
        metrics.describe("cano_diagnosis_timeouts_total", type: "counter",
                         help: "Diagnoses whose cluster reads ran past diagnosis.timeout; the rules ran on the Issue alone.")
        metrics.describe("cano_diagnosis_prometheus_errors_total", type: "counter",
                         help: "OOM diagnoses for which Prometheus answered nothing usable (unreachable, an HTTP error, not a matrix).")
    }

    /// Diagnoses the batch's firing Issues concurrently, then submits the batch to `next`
    /// and returns its receipt; its errors pass through unchanged.
    public func submit(_ issues: [Issue]) async throws(SubmitError) -> SubmitReceipt {
        guard config.enabled else { return try await next.submit(issues) }
        var out = issues
        var waiting: [Int] = []
        for (index, issue) in issues.enumerated() where Self.wantsDiagnosis(issue) {
            // Nothing to read and nobody to ask: the rules alone, inline (an Alertmanager
            // batch of 500 without cluster access must not cost 500 tasks).
            if analyst == nil && !gatherer.canRead(issue) {
                out[index] = withDiagnosis(issue, facts: DiagnosisFacts(issue: issue))
            } else {
                waiting.append(index)
            }
        }
        if !waiting.isEmpty {
            out = await withTaskGroup(of: (Int, Issue).self) { group in
                for index in waiting {
                    let issue = issues[index]
                    group.addTask { (index, await self.diagnose(issue)) }
                }
                var all = out
                for await (index, issue) in group { all[index] = issue }
                return all
            }
        }
        return try await next.submit(out)
    }

    /// Firing, single Issues without a diagnosis yet (a group's members were diagnosed
    /// on their way in; a resolved Issue needs none).
    static func wantsDiagnosis(_ issue: Issue) -> Bool {
        issue.status == .firing && issue.type != .group && !issue.enrichments.contains { $0.type == Diagnosis.enrichmentType }
    }

    /// `issue` with its diagnosis as the first enrichment (unchanged when no rule matches),
    /// then, when configured and `analysis` allows (the console's preview does not pay for
    /// one), the LLM's analysis right after it.
    public func diagnose(_ issue: Issue, analysis allowed: Bool = true) async -> Issue {
        var out = withDiagnosis(issue, facts: await gather(issue))
        if allowed, let analyst, out.severity >= analyst.config.minSeverity, let analysis = await analyst.analyse(out) {
            out.enrichments.insert(analysis, at: out.diagnosis == nil ? 0 : 1)
        }
        return out
    }

    /// `issue` with the rules' answer on `facts` first among its enrichments, counted.
    private func withDiagnosis(_ issue: Issue, facts: DiagnosisFacts) -> Issue {
        guard let diagnosis = Diagnoser.diagnose(facts) else {
            metrics.increment("cano_diagnoses_total", ["rule": "none"])
            return issue
        }
        metrics.increment("cano_diagnoses_total", ["rule": diagnosis.rule])
        logger.debug("diagnosed", metadata: ["fingerprint": .string(issue.fingerprint), "rule": .string(diagnosis.rule)])
        var out = issue
        out.enrichments.insert(Self.redacted(diagnosis).enrichment, at: 0)
        return out
    }

    /// The facts, read from the cluster within the timeout; the Issue alone when there is
    /// no cluster access, no Kubernetes object to read, no free thread or no time left.
    private func gather(_ issue: Issue) async -> DiagnosisFacts {
        let gatherer = self.gatherer
        guard gatherer.canRead(issue) else { return DiagnosisFacts(issue: issue) }
        let deadline = ContinuousClock.now + config.timeout
        // A fifth of the timeout (at most 250 ms) to hand the facts back before the deadline.
        let prometheusDeadline = deadline - min(config.timeout / 5, .milliseconds(250))
        let limiter = self.limiter
        if await limiter.acquire(until: deadline),
           let gathered = await DeadlineRunner.run(until: deadline, {
               // The slot is freed when the reads really return, not when the stage stops waiting.
               defer { limiter.release() }
               return gatherer.gather(issue, prometheusDeadline: prometheusDeadline)
           }) {
            return gathered
        }
        metrics.increment("cano_diagnosis_timeouts_total")
        logger.warning("diagnosis: reading the cluster took longer than diagnosis.timeout; diagnosing from the Issue alone", metadata: [
            "fingerprint": .string(issue.fingerprint), "timeout": .string(EnrichmentStage.format(config.timeout))])
        return DiagnosisFacts(issue: issue)
    }

    static func redacted(_ d: Diagnosis) -> Diagnosis {
        Diagnosis(rule: d.rule, cause: Redactor.redact(d.cause), evidence: d.evidence.map(Redactor.redact), nextStep: Redactor.redact(d.nextStep))
    }
}
