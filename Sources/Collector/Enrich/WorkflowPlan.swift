import CanoSDK

/// The compiled workflows: which enricher steps run for an Issue, in order.
///
/// Every matching workflow contributes its steps, configured workflows before the
/// built-in ones. An enricher runs at most once per Issue: the first workflow that names
/// it decides its parameters, so a user workflow overrides a default one.
struct WorkflowPlan: Sendable {
    private struct Compiled {
        let workflow: WorkflowConfig
        /// The trigger's matchers plus its `aggregation_key` and `namespace` regexes, as
        /// matchers: one evaluator (``Matcher``) for routes and workflows.
        let matchers: [Matcher]
    }

    private let workflows: [Compiled]

    /// The trigger regexes were validated when the config was loaded, with the same
    /// ``Matcher`` compilation; an invalid one here can only be hand-built, and traps.
    init(_ workflows: [WorkflowConfig]) {
        self.workflows = workflows.map { w in
            var matchers = w.trigger.matchers
            if let key = w.trigger.aggregationKey { matchers.append(Matcher(field: "aggregation_key", op: .matchesRegex, value: key)) }
            if let ns = w.trigger.namespace { matchers.append(Matcher(field: "namespace", op: .matchesRegex, value: ns)) }
            return Compiled(workflow: w, matchers: matchers)
        }
    }

    /// The steps for `issue`, with the workflow each came from.
    func steps(for issue: Issue) -> [(workflow: String, step: EnricherStep)] {
        var result: [(String, EnricherStep)] = []
        var seen: Set<String> = []
        for compiled in workflows where Self.matches(compiled, issue) {
            for step in compiled.workflow.steps where seen.insert(step.enricher).inserted {
                result.append((compiled.workflow.name, step))
            }
        }
        return result
    }

    private static func matches(_ c: Compiled, _ issue: Issue) -> Bool {
        let t = c.workflow.trigger
        if issue.status == .resolved && !t.includeResolved { return false }
        if !t.sources.isEmpty && !t.sources.contains(issue.source.rawValue) { return false }
        if let min = t.minSeverity, issue.severity < min { return false }
        return c.matchers.allSatisfy { $0.matches(issue) }
    }
}
