#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Logging

/// The enrichment step of the pipeline: an ``IssueSink`` in front of the durable outbox.
///
/// For each Issue of a batch (all Issues concurrently) it runs the steps of the matching
/// workflows concurrently, each on its own thread within its timeout and the Issue's
/// total budget, then submits the enriched batch to `next` and returns `next`'s receipt.
/// So the sender is acknowledged only after the outbox committed, and nothing is lost:
/// an enricher that fails, is slow or hangs costs at most its budget and leaves a short
/// note ("pod logs: timed out after 2s") instead of its blocks.
public final class EnrichmentStage: IssueSink {
    private let next: any IssueSink
    private let config: EnrichmentConfig
    private let plan: WorkflowPlan
    private let enrichers: [String: any Enricher]
    private let limiters: [String: CallLimiter]
    private let metrics: Metrics
    private let logger: Logger

    /// Checks that every step names a known enricher (a built-in or a configured plugin).
    public init(
        config: EnrichmentConfig, enrichers: EnricherRegistry, next: any IssueSink, metrics: Metrics, logger: Logger
    ) throws(EnrichmentSetupError) {
        let workflows = config.workflows + (config.defaultWorkflows ? DefaultWorkflows.all + DefaultWorkflows.graphs(config.plugins) : [])
        for workflow in config.workflows {
            for step in workflow.steps {
                guard let enricher = enrichers.enricher(named: step.enricher) else {
                    throw EnrichmentSetupError(.unknownEnricher, location: step.location,
                        "workflow \"\(workflow.name)\" uses enricher \"\(step.enricher)\", which is neither built in nor a configured "
                            + "enricher plugin; known: \(enrichers.names.sorted().joined(separator: ", "))")
                }
                do throws(EnricherFailure) {
                    try enricher.validate(EnricherParameters(step.parameters.objectValue ?? [:]))
                } catch {
                    throw EnrichmentSetupError(.invalidParameters, location: step.location,
                                               "workflow \"\(workflow.name)\", enricher \(step.enricher): \(error.message)")
                }
            }
        }
        self.next = next
        self.config = config
        self.plan = WorkflowPlan(workflows)
        self.enrichers = enrichers.all
        self.limiters = enrichers.all.mapValues { _ in CallLimiter(limit: config.maxConcurrentCalls) }
        self.metrics = metrics
        self.logger = logger
        metrics.describe("cano_enrichments_total", type: "counter",
                         help: "Enricher runs, by enricher and result (ok, empty, truncated, failed, timeout, skipped).")
        metrics.describe("cano_enrichment_duration_seconds", type: "histogram", help: "Time an enricher took, by enricher.")
    }

    /// Enriches the batch (within the budget), then submits it to the next sink and
    /// returns its receipt; its errors pass through unchanged, so nothing is acknowledged
    /// that was not committed.
    public func submit(_ issues: [Issue]) async throws(SubmitError) -> SubmitReceipt {
        guard config.enabled else { return try await next.submit(issues) }
        let enriched = await withTaskGroup(of: (Int, Issue).self) { group in
            for (index, issue) in issues.enumerated() {
                group.addTask { (index, await self.enrich(issue)) }
            }
            var out = issues
            for await (index, issue) in group { out[index] = issue }
            return out
        }
        return try await next.submit(enriched)
    }

    /// `issue` with the enrichments of its matching workflows appended. Returns within
    /// the Issue budget (plus scheduling noise), whatever the enrichers do.
    public func enrich(_ issue: Issue) async -> Issue {
        let steps = plan.steps(for: issue)
        guard !steps.isEmpty else { return issue }
        let issueDeadline = ContinuousClock.now + config.issueBudget
        let results = await withTaskGroup(of: (Int, [Enrichment]).self) { group in
            for (index, entry) in steps.enumerated() {
                guard let enricher = enrichers[entry.step.enricher] else { continue }
                group.addTask { (index, await self.run(enricher, entry.step, issue, issueDeadline: issueDeadline)) }
            }
            var byIndex: [Int: [Enrichment]] = [:]
            for await (index, enrichments) in group { byIndex[index] = enrichments }
            return byIndex
        }
        var out = issue
        for index in steps.indices { out.enrichments += results[index] ?? [] }
        return out
    }

    private func run(_ enricher: any Enricher, _ step: EnricherStep, _ issue: Issue, issueDeadline: ContinuousClock.Instant) async -> [Enrichment] {
        let timeout = step.timeout ?? config.enricherTimeout
        let start = ContinuousClock.now
        let deadline = min(start + timeout, issueDeadline)
        let parameters = EnricherParameters(step.parameters.objectValue ?? [:])
        guard enricher.blocks else {
            let outcome = Result { () throws(EnricherFailure) in try enricher.enrich(issue, parameters: parameters, deadline: deadline) }
            return record(enricher, step, issue, outcome, start: start, timeout: timeout, issueDeadline: issueDeadline)
        }
        let limiter = limiters[enricher.name] ?? CallLimiter(limit: config.maxConcurrentCalls)
        guard await limiter.acquire(until: deadline) else {
            metrics.increment("cano_enrichments_total", ["enricher": enricher.name, "result": "skipped"])
            logger.warning("enricher skipped: all its call slots are held by earlier calls that have not returned", metadata: [
                "enricher": .string(enricher.name), "fingerprint": .string(issue.fingerprint), "slots": .stringConvertible(limiter.limit)])
            return [Self.note(enricher, "skipped, \(limiter.limit) earlier calls have not returned yet")]
        }
        let outcome = await DeadlineRunner.run(until: deadline) { () -> Result<[Enrichment], EnricherFailure> in
            // The slot is freed when the call really returns, not when the stage stops waiting.
            defer { limiter.release() }
            do throws(EnricherFailure) {
                return .success(try enricher.enrich(issue, parameters: parameters, deadline: deadline))
            } catch {
                return .failure(error)
            }
        }
        return record(enricher, step, issue, outcome, start: start, timeout: timeout, issueDeadline: issueDeadline)
    }

    /// Turns one call's outcome (nil: it timed out) into enrichments or a note, with metrics and logs.
    private func record(
        _ enricher: any Enricher, _ step: EnricherStep, _ issue: Issue, _ outcome: Result<[Enrichment], EnricherFailure>?,
        start: ContinuousClock.Instant, timeout: Duration, issueDeadline: ContinuousClock.Instant
    ) -> [Enrichment] {
        let elapsed = ContinuousClock.now - start
        metrics.observe("cano_enrichment_duration_seconds", ["enricher": enricher.name], elapsed.seconds)
        let result: String
        var enrichments: [Enrichment]
        switch outcome {
        case .success(let produced)?:
            let capped = EnrichmentSizeCap.apply(produced, maxBytes: step.maxBytes ?? config.maxBytes)
            enrichments = capped.enrichments
            result = produced.isEmpty ? "empty" : capped.truncated ? "truncated" : "ok"
        case .failure(let failure)? where failure.code == .noClusterAccess:
            result = "skipped"
            enrichments = []
        case .failure(let failure)?:
            result = failure.code == .timedOut ? "timeout" : "failed"
            enrichments = [Self.note(enricher, failure.message)]
            logger.warning("enricher failed", metadata: [
                "enricher": .string(enricher.name), "fingerprint": .string(issue.fingerprint),
                "code": .string(failure.code.rawValue), "reason": .string(Redactor.redact(failure.message))])
        case nil:
            result = "timeout"
            // When the Issue's budget bound first, name it rather than the leftover milliseconds.
            let budget = start + timeout > issueDeadline ? min(timeout, config.issueBudget) : timeout
            enrichments = [Self.note(enricher, "timed out after \(Self.format(budget))")]
            logger.warning("enricher timed out; delivering without it", metadata: [
                "enricher": .string(enricher.name), "fingerprint": .string(issue.fingerprint), "budget": .string(Self.format(budget))])
        }
        metrics.increment("cano_enrichments_total", ["enricher": enricher.name, "result": result])
        return enrichments
    }

    /// The short block that stands in for an enricher that produced nothing usable.
    static func note(_ enricher: any Enricher, _ message: String) -> Enrichment {
        Enrichment(type: enricher.name, title: nil, blocks: [.markdown("_\(enricher.displayName): \(Redactor.redact(message))_")])
    }

    /// "2s", "1.5s", "250ms".
    static func format(_ d: Duration) -> String {
        let ms = Int64(d.seconds * 1000)
        if ms < 1000 { return "\(ms)ms" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(Double(ms) / 1000)s"
    }
}

extension Duration {
    /// The duration in seconds, as a Double (for metrics).
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// A workflow that cannot run as configured; found when the stage is built, because
/// enricher plugins load after the config.
public struct EnrichmentSetupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public enum Code: String, Sendable {
        case unknownEnricher
        case invalidParameters
        case pluginUnavailable
    }
    /// What is wrong.
    public var code: Code
    /// "line:column" of the step in the config file, or empty.
    public var location: String
    /// The explanation, naming the workflow and the enricher.
    public var message: String
    /// A setup error, at `location` in the config file when known.
    public init(_ code: Code, location: String = "", _ message: String) {
        self.code = code
        self.location = location
        self.message = message
    }
    /// "line:column: message".
    public var description: String { location.isEmpty ? message : "\(location): \(message)" }
}
