import CanoSDK

/// Decides which destinations get an Issue. Routes are tried in order; the first match
/// wins unless it says `continue`. Issues that no route matched go to the default
/// destinations. A destination appears at most once per Issue (the first route that
/// names it decides its noise control).
public struct IssueRouter: Sendable {
    private let routes: [RouteConfig]
    private let defaultDestinations: [String]
    private let defaultNotify: NotifyPolicy

    /// One destination an Issue goes to, and the route that sends it there.
    public struct Match: Sendable, Equatable {
        public var destination: String
        /// Names the route in notify groups: `route:<name>`, or `routes[<index>]` for an
        /// unnamed one, or `default` (a group keeps the policy of the route that made it).
        public var routeID: String
        public var notify: NotifyPolicy
    }

    /// The routes' matchers are already compiled (``Matcher``); nothing can fail here.
    public init(routes: [RouteConfig], defaultDestinations: [String], defaultNotify: NotifyPolicy = NotifyPolicy()) {
        self.routes = routes
        self.defaultDestinations = defaultDestinations
        self.defaultNotify = defaultNotify
    }

    /// Every route's id and policy (for a notify group whose Issue is long gone).
    public var policies: [String: NotifyPolicy] {
        var result = ["default": defaultNotify]
        for (index, route) in routes.enumerated() { result[Self.id(route, index)] = route.notify }
        return result
    }

    /// The destinations for `issue`, in route order, without repeats.
    public func destinations(for issue: Issue) -> [String] { matches(for: issue).map(\.destination) }

    /// The destinations for `issue` with their routes, in route order, without repeats.
    public func matches(for issue: Issue) -> [Match] {
        var result: [Match] = []
        var matchedAny = false
        for (index, route) in routes.enumerated() where route.matchers.allSatisfy({ $0.matches(issue) }) {
            matchedAny = true
            let id = Self.id(route, index)
            for d in route.destinations where !result.contains(where: { $0.destination == d }) {
                result.append(Match(destination: d, routeID: id, notify: route.notify))
            }
            if !route.continue { break }
        }
        if !matchedAny { result = defaultDestinations.map { Match(destination: $0, routeID: "default", notify: defaultNotify) } }
        return result
    }

    private static func id(_ route: RouteConfig, _ index: Int) -> String {
        if let name = route.name, !name.isEmpty { return "route:" + name }
        return "routes[\(index)]"
    }
}
