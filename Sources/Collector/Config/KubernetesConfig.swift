/// The `kubernetes:` section of the collector configuration. Every key is optional; the
/// defaults below apply when absent.
public struct KubernetesConfig: Sendable, Equatable {
    /// Watch the cluster at all (default false).
    public var enabled: Bool
    /// A kubeconfig file; nil means the in-cluster service account.
    public var kubeconfig: String?
    /// The kubeconfig context; nil means its current-context.
    public var context: String?
    /// The cluster name put on every Issue (`Issue.cluster`): the top-level `cluster` key.
    public var clusterName: String?
    public var pods: SourceConfig
    public var events: EventsConfig
    public var jobs: SourceConfig
    public var helm: HelmConfig
    public var leaderElection: LeaderElectionConfig
    /// How long each watch request stays open before it is renewed (server-side timeout).
    public var watchTimeoutSeconds: Int
    /// List page size.
    public var pageSize: Int
    /// A one-off problem (OOMKilled, Evicted, quota, failed Job, Warning event) for the same
    /// workload and reason is reported again only after this long.
    public var renotifyIntervalSeconds: Int
    /// A crash-looping (or image-pull-failing) workload counts as healthy again once its
    /// containers have run this long without a new failure.
    public var resolveAfterSeconds: Int

    public init(
        enabled: Bool = false, kubeconfig: String? = nil, context: String? = nil, clusterName: String? = nil,
        pods: SourceConfig = SourceConfig(), events: EventsConfig = EventsConfig(), jobs: SourceConfig = SourceConfig(),
        helm: HelmConfig = HelmConfig(), leaderElection: LeaderElectionConfig = LeaderElectionConfig(),
        watchTimeoutSeconds: Int = 300, pageSize: Int = 500, renotifyIntervalSeconds: Int = 3600, resolveAfterSeconds: Int = 120
    ) {
        self.enabled = enabled
        self.kubeconfig = kubeconfig
        self.context = context
        self.clusterName = clusterName
        self.pods = pods
        self.events = events
        self.jobs = jobs
        self.helm = helm
        self.leaderElection = leaderElection
        self.watchTimeoutSeconds = watchTimeoutSeconds
        self.pageSize = pageSize
        self.renotifyIntervalSeconds = renotifyIntervalSeconds
        self.resolveAfterSeconds = resolveAfterSeconds
    }
}

/// Which namespaces a source looks at. Empty `include` means all; `exclude` wins.
public struct NamespaceFilter: Sendable, Equatable {
    public var include: [String]
    public var exclude: [String]
    public init(include: [String] = [], exclude: [String] = []) {
        self.include = include
        self.exclude = exclude
    }
    /// Whether objects in `namespace` are considered.
    public func allows(_ namespace: String?) -> Bool {
        let ns = namespace ?? ""
        if exclude.contains(ns) { return false }
        return include.isEmpty || include.contains(ns)
    }
    /// The one namespace to watch server-side, when exactly one is included.
    public var single: String? { include.count == 1 ? include[0] : nil }
}

/// A source that can be switched off and limited to namespaces.
public struct SourceConfig: Sendable, Equatable {
    public var enabled: Bool
    public var namespaces: NamespaceFilter
    public init(enabled: Bool = true, namespaces: NamespaceFilter = NamespaceFilter()) {
        self.enabled = enabled
        self.namespaces = namespaces
    }
}

/// The Warning-events source. FailedCreate "exceeded quota" on ReplicaSets, Jobs and
/// StatefulSets is always reported (as a quota violation); `reasons` adds others.
public struct EventsConfig: Sendable, Equatable {
    public var enabled: Bool
    public var namespaces: NamespaceFilter
    /// Further Warning reasons reported as Issues.
    public var reasons: [String]
    public static let defaultReasons = ["FailedScheduling", "FailedMount", "FailedAttachVolume"]
    public init(enabled: Bool = true, namespaces: NamespaceFilter = NamespaceFilter(), reasons: [String] = EventsConfig.defaultReasons) {
        self.enabled = enabled
        self.namespaces = namespaces
        self.reasons = reasons
    }
}

/// The Helm releases source (release Secrets, metadata only).
public struct HelmConfig: Sendable, Equatable {
    public var enabled: Bool
    public var namespaces: NamespaceFilter
    /// A release in pending-install/upgrade/rollback longer than this is reported as stuck.
    public var pendingTimeoutSeconds: Int
    public init(enabled: Bool = true, namespaces: NamespaceFilter = NamespaceFilter(), pendingTimeoutSeconds: Int = 900) {
        self.enabled = enabled
        self.namespaces = namespaces
        self.pendingTimeoutSeconds = pendingTimeoutSeconds
    }
}

/// Leader election with a coordination.k8s.io/v1 Lease: only the holder reports.
public struct LeaderElectionConfig: Sendable, Equatable {
    public var enabled: Bool
    /// The Lease's namespace; nil means the collector's own (service account) namespace.
    public var namespace: String?
    public var leaseName: String
    /// This replica's identity; nil means the HOSTNAME (the Pod name) plus a random suffix.
    public var identity: String?
    /// A follower takes over this long after the leader's last renewal.
    public var leaseDurationSeconds: Double
    /// The leader gives up if it cannot renew for this long (less than the lease duration).
    public var renewDeadlineSeconds: Double
    /// How often to try to acquire or renew.
    public var retryPeriodSeconds: Double

    public init(
        enabled: Bool = true, namespace: String? = nil, leaseName: String = "cano-collector-leader", identity: String? = nil,
        leaseDurationSeconds: Double = 15, renewDeadlineSeconds: Double = 10, retryPeriodSeconds: Double = 2
    ) {
        self.enabled = enabled
        self.namespace = namespace
        self.leaseName = leaseName
        self.identity = identity
        self.leaseDurationSeconds = leaseDurationSeconds
        self.renewDeadlineSeconds = renewDeadlineSeconds
        self.retryPeriodSeconds = retryPeriodSeconds
    }
}
