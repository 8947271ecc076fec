import CanoSDK

/// Decides which destinations get an Issue. Routes are tried in order; the first match
/// wins unless it says `continue`. Issues that no route matched go to the default
/// destinations. A destination appears at most once per Issue.
public struct IssueRouter: @unchecked Sendable {
    // @unchecked: Regex is not Sendable, but these are immutable after init.
    private struct CompiledMatcher {
        let matcher: Matcher
        let regex: Regex<AnyRegexOutput>?
    }
    private struct CompiledRoute {
        let route: RouteConfig
        let matchers: [CompiledMatcher]
    }

    private let routes: [CompiledRoute]
    private let defaultDestinations: [String]

    /// Compiles the routes. Matchers were validated when the config was loaded.
    public init(routes: [RouteConfig], defaultDestinations: [String]) {
        self.routes = routes.map { route in
            CompiledRoute(route: route, matchers: route.matchers.map { m in
                let anchored = (m.op == .matchesRegex || m.op == .notMatchesRegex) ? try? Regex("^(?:\(m.value))$") : nil
                return CompiledMatcher(matcher: m, regex: anchored)
            })
        }
        self.defaultDestinations = defaultDestinations
    }

    /// The destinations for `issue`, in route order, without repeats.
    public func destinations(for issue: Issue) -> [String] {
        var result: [String] = []
        var matchedAny = false
        for route in routes where route.matchers.allSatisfy({ Self.matches($0, issue) }) {
            matchedAny = true
            for d in route.route.destinations where !result.contains(d) { result.append(d) }
            if !route.route.continue { break }
        }
        if !matchedAny { result = defaultDestinations }
        return result
    }

    private static func matches(_ m: CompiledMatcher, _ issue: Issue) -> Bool {
        let actual = value(of: m.matcher.field, in: issue)
        switch m.matcher.op {
        case .equal: return actual == m.matcher.value
        case .notEqual: return actual != m.matcher.value
        case .matchesRegex: return m.regex.map { (try? $0.wholeMatch(in: actual)) != nil } ?? false
        case .notMatchesRegex: return m.regex.map { (try? $0.wholeMatch(in: actual)) == nil } ?? true
        }
    }

    /// The value a matcher's left side refers to; see ``Matcher``.
    static func value(of field: String, in issue: Issue) -> String {
        switch field {
        case "severity": return issue.severity.rawValue
        case "source": return issue.source.rawValue
        case "type": return issue.type.rawValue
        case "status": return issue.status.rawValue
        case "namespace": return issue.subject.namespace ?? ""
        case "cluster": return issue.cluster ?? ""
        case "kind": return issue.subject.kind ?? ""
        case "name": return issue.subject.name ?? ""
        case "node": return issue.subject.node ?? ""
        case "container": return issue.subject.container ?? ""
        case "aggregation_key": return issue.aggregationKey
        case "title": return issue.title
        default:
            let label = field.hasPrefix("labels.") ? String(field.dropFirst("labels.".count)) : field
            return issue.subject.labels[label] ?? ""
        }
    }
}
