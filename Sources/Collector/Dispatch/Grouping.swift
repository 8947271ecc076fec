import CanoSDK
import Crypto

/// What kind of notify group a row of `notify_groups` is.
enum NotifyGroupKind: String, Sendable {
    /// One Issue notified alone but held back (silenced, `min_duration`, muted) or
    /// repeated (`repeat_interval`): its notifications are the Issue itself.
    case single
    case alertmanager, route, storm

    /// The kind grouped Issues carry; nil for `single`.
    var issueKind: IssueGroup.Kind? { IssueGroup.Kind(rawValue: rawValue) }
}

/// Which notify group an Issue joins at one destination, from its route's policy alone
/// (pure: no state is read). Alertmanager's dispatcher keys aggregation groups the same
/// way: by route and the values of `group_by`.
struct Grouping: Sendable, Equatable {
    /// The group's key, unique per destination: the route id and the grouping values.
    var key: String
    var kind: NotifyGroupKind
    /// The `group_by` values (or Alertmanager's `groupLabels`).
    var labels: [String: String]
    /// How long a new group waits for more members before its first notification.
    var wait: Duration
    /// The wait between two notifications of the group.
    var interval: Duration

    /// The group `issue` joins under `match`'s route, or nil when the route notifies it
    /// alone (`group_by: []`, or the default with an Issue no upstream grouped).
    static func of(_ issue: Issue, _ match: IssueRouter.Match) -> Grouping? {
        let policy = match.notify
        switch policy.grouping {
        case .upstream:
            // Alertmanager already waited and spaces its notifications of the group by its
            // own group_interval: each of its notifications is reflected at once.
            guard let upstream = issue.groupKey, !upstream.isEmpty else { return nil }
            return Grouping(key: match.routeID + "|alertmanager|" + upstream, kind: .alertmanager,
                            labels: issue.groupLabels ?? [:], wait: .zero, interval: .zero)
        case .all:
            return Grouping(key: match.routeID + "|...", kind: .route, labels: [:], wait: policy.groupWait, interval: policy.groupInterval)
        case .by(let names):
            guard !names.isEmpty else { return nil }
            var labels: [String: String] = [:]
            for name in names { labels[name] = value(of: name, in: issue) }
            let values = names.sorted().map { "\($0)=\(labels[$0] ?? "")" }.joined(separator: "\u{0}")
            return Grouping(key: match.routeID + "|by|" + values, kind: .route, labels: labels, wait: policy.groupWait, interval: policy.groupInterval)
        }
    }

    /// The storm summary of `issue`'s route and reason, for a storm that began at `epoch`
    /// (Unix ms), so a later storm opens a new summary rather than reviving an old one.
    static func storm(_ issue: Issue, _ match: IssueRouter.Match, epoch: Int64, updateInterval: Duration) -> Grouping {
        Grouping(key: match.routeID + "|storm|\(epoch)|" + issue.aggregationKey, kind: .storm,
                 labels: ["reason": issue.aggregationKey], wait: .zero, interval: updateInterval)
    }

    /// The key of the one-member group that holds an Issue notified alone (silenced, under
    /// `min_duration`, muted, or repeated).
    static func single(_ issue: Issue, _ match: IssueRouter.Match) -> Grouping {
        Grouping(key: match.routeID + "|single|" + issue.fingerprint, kind: .single, labels: [:], wait: .zero, interval: .zero)
    }

    /// A `group_by` name's value for `issue`: the Kubernetes terms `workload` and `reason`,
    /// else what a matcher reads under that name (an Issue field, else a subject label).
    static func value(of name: String, in issue: Issue) -> String {
        switch name {
        case "reason": return issue.aggregationKey
        case "workload":
            let s = issue.subject
            if let kind = s.annotations["workloadKind"], let workload = s.annotations["workloadName"] { return kind + "/" + workload }
            for (label, kind) in [("deployment", "Deployment"), ("statefulset", "StatefulSet"), ("daemonset", "DaemonSet"),
                                  ("job_name", "Job"), ("cronjob", "CronJob")] {
                if let v = s.labels[label], !v.isEmpty { return kind + "/" + v }
            }
            return [s.kind, s.name].compactMap { $0 }.joined(separator: "/")
        default: return Matcher.value(of: name, in: issue)
        }
    }

    /// The notification's fingerprint: stable for the key, distinct from every Issue's.
    static func fingerprint(destinationKey key: String) -> String {
        let digest = SHA256.hash(data: Array(key.utf8))
        return "group-" + Hex.lowercase(digest.prefix(16))
    }
}
