import CanoSDK

/// Decides which destinations get an Issue. Routes are tried in order; the first match
/// wins unless it says `continue`. Issues that no route matched go to the default
/// destinations. A destination appears at most once per Issue.
public struct IssueRouter: Sendable {
    private let routes: [RouteConfig]
    private let defaultDestinations: [String]

    /// The routes' matchers are already compiled (``Matcher``); nothing can fail here.
    public init(routes: [RouteConfig], defaultDestinations: [String]) {
        self.routes = routes
        self.defaultDestinations = defaultDestinations
    }

    /// The destinations for `issue`, in route order, without repeats.
    public func destinations(for issue: Issue) -> [String] {
        var result: [String] = []
        var matchedAny = false
        for route in routes where route.matchers.allSatisfy({ $0.matches(issue) }) {
            matchedAny = true
            for d in route.destinations where !result.contains(d) { result.append(d) }
            if !route.continue { break }
        }
        if !matchedAny { result = defaultDestinations }
        return result
    }
}
