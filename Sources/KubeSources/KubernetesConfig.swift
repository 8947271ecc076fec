/// The `kubernetes:` section of the collector configuration. Every key is optional; the
/// defaults below apply when absent.
public struct KubernetesConfig: Codable, Sendable, Equatable {
    /// Watch the cluster at all (default false).
    public var enabled: Bool
    /// A kubeconfig file; nil means the in-cluster service account.
    public var kubeconfig: String?
    /// The kubeconfig context; nil means its current-context.
    public var context: String?
    /// The cluster name put on every Issue (`Issue.cluster`).
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

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = KubernetesConfig()
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        kubeconfig = try c.decodeIfPresent(String.self, forKey: .kubeconfig)
        context = try c.decodeIfPresent(String.self, forKey: .context)
        clusterName = try c.decodeIfPresent(String.self, forKey: .clusterName)
        pods = try c.decodeIfPresent(SourceConfig.self, forKey: .pods) ?? d.pods
        events = try c.decodeIfPresent(EventsConfig.self, forKey: .events) ?? d.events
        jobs = try c.decodeIfPresent(SourceConfig.self, forKey: .jobs) ?? d.jobs
        helm = try c.decodeIfPresent(HelmConfig.self, forKey: .helm) ?? d.helm
        leaderElection = try c.decodeIfPresent(LeaderElectionConfig.self, forKey: .leaderElection) ?? d.leaderElection
        watchTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .watchTimeoutSeconds) ?? d.watchTimeoutSeconds
        pageSize = try c.decodeIfPresent(Int.self, forKey: .pageSize) ?? d.pageSize
        renotifyIntervalSeconds = try c.decodeIfPresent(Int.self, forKey: .renotifyIntervalSeconds) ?? d.renotifyIntervalSeconds
        resolveAfterSeconds = try c.decodeIfPresent(Int.self, forKey: .resolveAfterSeconds) ?? d.resolveAfterSeconds
        guard watchTimeoutSeconds > 0, pageSize > 0, renotifyIntervalSeconds >= 0, resolveAfterSeconds >= 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "kubernetes: watchTimeoutSeconds and pageSize must be positive; renotifyIntervalSeconds and resolveAfterSeconds must not be negative"))
        }
    }
}

/// Which namespaces a source looks at. Empty `include` means all; `exclude` wins.
public struct NamespaceFilter: Codable, Sendable, Equatable {
    public var include: [String]
    public var exclude: [String]
    public init(include: [String] = [], exclude: [String] = []) {
        self.include = include
        self.exclude = exclude
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        include = try c.decodeIfPresent([String].self, forKey: .include) ?? []
        exclude = try c.decodeIfPresent([String].self, forKey: .exclude) ?? []
    }
    /// Whether objects in `namespace` are considered.
    public func allows(_ namespace: String?) -> Bool {
        let ns = namespace ?? ""
        if exclude.contains(ns) { return false }
        return include.isEmpty || include.contains(ns)
    }
    /// The one namespace to watch server-side, when exactly one is included.
    var single: String? { include.count == 1 ? include[0] : nil }
}

/// A source that can be switched off and limited to namespaces.
public struct SourceConfig: Codable, Sendable, Equatable {
    public var enabled: Bool
    public var namespaces: NamespaceFilter
    public init(enabled: Bool = true, namespaces: NamespaceFilter = NamespaceFilter()) {
        self.enabled = enabled
        self.namespaces = namespaces
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        namespaces = try c.decodeIfPresent(NamespaceFilter.self, forKey: .namespaces) ?? NamespaceFilter()
    }
}

/// The Warning-events source. FailedCreate "exceeded quota" on ReplicaSets, Jobs and
/// StatefulSets is always reported (as a quota violation); `reasons` adds others.
public struct EventsConfig: Codable, Sendable, Equatable {
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
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        namespaces = try c.decodeIfPresent(NamespaceFilter.self, forKey: .namespaces) ?? NamespaceFilter()
        reasons = try c.decodeIfPresent([String].self, forKey: .reasons) ?? Self.defaultReasons
    }
}

/// The Helm releases source (release Secrets, metadata only).
public struct HelmConfig: Codable, Sendable, Equatable {
    public var enabled: Bool
    public var namespaces: NamespaceFilter
    /// A release in pending-install/upgrade/rollback longer than this is reported as stuck.
    public var pendingTimeoutSeconds: Int
    public init(enabled: Bool = true, namespaces: NamespaceFilter = NamespaceFilter(), pendingTimeoutSeconds: Int = 900) {
        self.enabled = enabled
        self.namespaces = namespaces
        self.pendingTimeoutSeconds = pendingTimeoutSeconds
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        namespaces = try c.decodeIfPresent(NamespaceFilter.self, forKey: .namespaces) ?? NamespaceFilter()
        pendingTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .pendingTimeoutSeconds) ?? 900
    }
}

/// Leader election with a coordination.k8s.io/v1 Lease: only the holder reports.
public struct LeaderElectionConfig: Codable, Sendable, Equatable {
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

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LeaderElectionConfig()
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        namespace = try c.decodeIfPresent(String.self, forKey: .namespace)
        leaseName = try c.decodeIfPresent(String.self, forKey: .leaseName) ?? d.leaseName
        identity = try c.decodeIfPresent(String.self, forKey: .identity)
        leaseDurationSeconds = try c.decodeIfPresent(Double.self, forKey: .leaseDurationSeconds) ?? d.leaseDurationSeconds
        renewDeadlineSeconds = try c.decodeIfPresent(Double.self, forKey: .renewDeadlineSeconds) ?? d.renewDeadlineSeconds
        retryPeriodSeconds = try c.decodeIfPresent(Double.self, forKey: .retryPeriodSeconds) ?? d.retryPeriodSeconds
        guard retryPeriodSeconds > 0, renewDeadlineSeconds > retryPeriodSeconds, leaseDurationSeconds > renewDeadlineSeconds else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "leaderElection: need leaseDurationSeconds > renewDeadlineSeconds > retryPeriodSeconds > 0"))
        }
    }
}
