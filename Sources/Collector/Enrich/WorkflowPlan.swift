import CanoSDK

/// The compiled workflows: which enricher steps run for an Issue, in order.
///
/// Every matching workflow contributes its steps, configured workflows before the
/// built-in ones. An enricher runs at most once per Issue: the first workflow that names
/// it decides its parameters, so a user workflow overrides a default one.
struct WorkflowPlan: @unchecked Sendable {
    // @unchecked: Regex is not Sendable, but these are immutable after init.
    private struct Compiled {
        let workflow: WorkflowConfig
        let aggregationKey: Regex<AnyRegexOutput>?
        let namespace: Regex<AnyRegexOutput>?
        let matchers: [(Matcher, Regex<AnyRegexOutput>?)]
    }

    private let workflows: [Compiled]

    /// Regexes were validated when the config was loaded; one that fails to compile here
    /// (only possible for hand-built values) makes its condition never match.
    init(_ workflows: [WorkflowConfig]) {
        func anchored(_ pattern: String?) -> Regex<AnyRegexOutput>? {
            pattern.flatMap { try? Regex("^(?:\($0))$") }
        }
        self.workflows = workflows.map { w in
            Compiled(
                workflow: w,
                aggregationKey: anchored(w.trigger.aggregationKey),
                namespace: anchored(w.trigger.namespace),
                matchers: w.trigger.matchers.map { m in
                    (m, m.op == .matchesRegex || m.op == .notMatchesRegex ? anchored(m.value) : nil)
                })
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
        if t.aggregationKey != nil && !whole(c.aggregationKey, issue.aggregationKey) { return false }
        if t.namespace != nil && !whole(c.namespace, issue.subject.namespace ?? "") { return false }
        for (m, regex) in c.matchers {
            let actual = IssueRouter.value(of: m.field, in: issue)
            let ok: Bool
            switch m.op {
            case .equal: ok = actual == m.value
            case .notEqual: ok = actual != m.value
            case .matchesRegex: ok = whole(regex, actual)
            case .notMatchesRegex: ok = regex != nil && !whole(regex, actual)
            }
            if !ok { return false }
        }
        return true
    }

    private static func whole(_ regex: Regex<AnyRegexOutput>?, _ text: String) -> Bool {
        guard let regex else { return false }
        return (try? regex.wholeMatch(in: text)) != nil
    }
}
