import CanoSDK

/// Reads the `enrichment:` section with the config loader's ``YAMLReader``, so problems
/// carry line:column and key path like every other section.
///
/// ```yaml
/// enrichment:
///   enabled: true
///   default_workflows: true
///   enricher_timeout: 2s
///   issue_budget: 5s
///   max_bytes: 262144
///   max_concurrent_calls: 16
///   plugins:
///     - {name: runbook, type: c-runbook, config: {base_url: "https://wiki"}}
///   workflows:
///     - name: payments-oom
///       when:
///         source: kubernetes            # or a list
///         aggregation_key: OOMKilled|CrashLoopBackOff
///         min_severity: LOW
///         namespace: payments-.*
///         matchers: ['team="payments"']
///       enrichers:
///         - container_status
///         - pod_logs: {tail_lines: 300, grep: "ERROR|panic"}
///         - {enricher: events, timeout: 1s, max_bytes: 8192}
/// ```
enum EnrichmentConfigParser {
    static func parse(_ at: YAMLReader.Located, _ r: YAMLReader) -> EnrichmentConfig {
        var config = EnrichmentConfig()
        let keys: Set<String> = ["enabled", "default_workflows", "workflows", "plugins", "enricher_timeout", "issue_budget", "max_bytes", "max_concurrent_calls"]
        for (key, value) in r.mapping(at, allowed: keys) {
            switch key {
            case "enabled": if let v = r.bool(value) { config.enabled = v }
            case "default_workflows": if let v = r.bool(value) { config.defaultWorkflows = v }
            case "workflows": config.workflows = r.sequence(value).compactMap { workflow($0, r) }
            case "plugins": config.plugins = r.sequence(value).compactMap { plugin($0, r) }
            case "enricher_timeout": if let v = positiveDuration(value, r) { config.enricherTimeout = v }
            case "issue_budget": if let v = positiveDuration(value, r) { config.issueBudget = v }
            case "max_bytes": if let v = r.int(value, range: 1024...(64 << 20)) { config.maxBytes = v }
            case "max_concurrent_calls": if let v = r.int(value, range: 1...1024) { config.maxConcurrentCalls = v }
            default: break
            }
        }
        if config.issueBudget >= .seconds(10) {
            r.problem(at, "issue_budget must be under 10s: Alertmanager gives up on a webhook after 10s and would resend")
        }
        var names: Set<String> = []
        for p in config.plugins where !names.insert(p.name).inserted {
            r.problem(at, "enricher plugin name \"\(p.name)\" is used twice")
        }
        return config
    }

    private static func workflow(_ at: YAMLReader.Located, _ r: YAMLReader) -> WorkflowConfig? {
        var name: String?
        var trigger = WorkflowTrigger()
        var steps: [EnricherStep] = []
        for (key, value) in r.mapping(at, allowed: ["name", "when", "enrichers"]) {
            switch key {
            case "name": name = r.string(value)
            case "when": trigger = self.trigger(value, r)
            case "enrichers": steps = r.sequence(value).compactMap { step($0, r) }
            default: break
            }
        }
        guard let name, !name.isEmpty else {
            r.problem(at, "a workflow needs a name")
            return nil
        }
        if steps.isEmpty { r.problem(at, "workflow \"\(name)\" needs at least one enricher") }
        return WorkflowConfig(name: name, trigger: trigger, steps: steps)
    }

    private static func trigger(_ at: YAMLReader.Located, _ r: YAMLReader) -> WorkflowTrigger {
        var t = WorkflowTrigger()
        let keys: Set<String> = ["source", "aggregation_key", "min_severity", "namespace", "matchers", "include_resolved"]
        for (key, value) in r.mapping(at, allowed: keys) {
            switch key {
            case "source":
                if case .sequence = value.node { t.sources = r.strings(value) } else if let s = r.string(value) { t.sources = [s] }
            case "aggregation_key": t.aggregationKey = regex(value, r)
            case "namespace": t.namespace = regex(value, r)
            case "min_severity": t.minSeverity = r.severity(value)
            case "matchers": t.matchers = r.matchers(value)
            case "include_resolved": if let v = r.bool(value) { t.includeResolved = v }
            default: break
            }
        }
        return t
    }

    /// `name`, `name: {params}` or `{enricher: name, params: {...}, timeout: 1s, max_bytes: N}`.
    private static func step(_ at: YAMLReader.Located, _ r: YAMLReader) -> EnricherStep? {
        if case .scalar = at.node {
            guard let name = r.string(at), !name.isEmpty else { return nil }
            return EnricherStep(name, location: at.location)
        }
        let members = r.mapping(at, allowed: nil)
        if members.count == 1, !["enricher", "params"].contains(members[0].key) {
            let params = r.json(members[0].value)
            guard params == .null || params.objectValue != nil else {
                r.problem(members[0].value, "the parameters of \(members[0].key) must be a mapping")
                return nil
            }
            return EnricherStep(members[0].key, parameters: params == .null ? .object([:]) : params, location: at.location)
        }
        var step = EnricherStep("", location: at.location)
        let allowed: Set<String> = ["enricher", "params", "timeout", "max_bytes"]
        for (key, value) in members {
            switch key {
            case "enricher": step.enricher = r.string(value) ?? ""
            case "params":
                step.parameters = r.json(value)
                if step.parameters == .null { step.parameters = .object([:]) }
                if step.parameters.objectValue == nil { r.problem(value, "params must be a mapping") }
            case "timeout": step.timeout = positiveDuration(value, r)
            case "max_bytes": step.maxBytes = r.int(value, range: 1024...(64 << 20))
            default: r.problem(value, "unknown key \"\(key)\"; expected one of: \(allowed.sorted().joined(separator: ", "))")
            }
        }
        guard !step.enricher.isEmpty else {
            r.problem(at, "an enricher step needs `enricher: NAME` (or write just the name)")
            return nil
        }
        return step
    }

    private static func plugin(_ at: YAMLReader.Located, _ r: YAMLReader) -> EnricherPluginConfig? {
        var name: String?
        var type: String?
        var config = JSONValue.object([:])
        for (key, value) in r.mapping(at, allowed: ["name", "type", "config"]) {
            switch key {
            case "name": name = r.string(value)
            case "type": type = r.string(value)
            case "config": config = r.pluginConfig(value)
            default: break
            }
        }
        guard let name, !name.isEmpty, let type, !type.isEmpty else {
            r.problem(at, "an enricher plugin needs a name and a type (the plugin's type name)")
            return nil
        }
        if BuiltinEnrichers.names.contains(name) {
            r.problem(at, "enricher plugin name \"\(name)\" is the name of a built-in enricher; pick another")
        }
        return EnricherPluginConfig(name: name, type: type, config: config)
    }

    /// An anchored trigger regex, checked by the same compilation ``Matcher`` uses (RE2's
    /// dialect), so ``WorkflowPlan`` can evaluate it as a matcher.
    private static func regex(_ at: YAMLReader.Located, _ r: YAMLReader) -> String? {
        guard let text = r.string(at) else { return nil }
        do throws(MatcherError) { _ = try Matcher.compile(text, text: text) } catch {
            let detail = error.reason.hasPrefix("invalid regular expression: ") ? String(error.reason.dropFirst(28)) : error.reason
            r.problem(at, "invalid regular expression \"\(text)\": \(detail)")
            return nil
        }
        return text
    }

    private static func positiveDuration(_ at: YAMLReader.Located, _ r: YAMLReader) -> Duration? {
        guard let d = r.duration(at) else { return nil }
        guard d > .zero else {
            r.problem(at, "must be longer than zero")
            return nil
        }
        return d
    }
}
