import CanoSDK

/// The whole configuration, as loaded from the YAML file (see `ConfigLoader`) and
/// documented in README.md ("Configuration reference"). Plain values: every default lives
/// here, once.
public struct CollectorConfig: Sendable, Equatable {
    public var server = ServerConfig()
    /// Where deliveries, references and state live: SQLite in `data_dir` (default) or a
    /// PostgreSQL database shared by every replica.
    public var storage = StorageConfig()
    /// The cluster name put on every Issue.
    public var cluster: String?
    /// Directory for the SQLite database (outbox, plugin state).
    public var dataDirectory = "./data"
    public var plugins = PluginSearchConfig()
    public var alertmanager = AlertmanagerConfig()
    public var destinations: [DestinationConfig] = []
    public var routes: [RouteConfig] = []
    /// Destinations for Issues no route matched (the default route).
    public var defaultDestinations: [String] = []
    /// Enrichment workflows and budgets (see `EnrichmentConfig`).
    public var enrichment = EnrichmentConfig()
    /// Watching the cluster itself (off unless `kubernetes.enabled`).
    public var kubernetes = KubernetesConfig()

    public init() {}

    /// The SQLite database file.
    public var databasePath: String { dataDirectory + "/cano-collector.db" }
}

/// The HTTP listener.
public struct ServerConfig: Sendable, Equatable {
    public var host = "0.0.0.0"
    public var port = 9099
    /// Larger request bodies get 413.
    public var maxBodyBytes = 4 << 20
    /// Optional auth for `POST /api/alerts`, as Alertmanager's http_config sends it.
    public var auth: IntakeAuth = .none
    /// How long SIGTERM waits for in-flight deliveries.
    public var shutdownGrace: Duration = .seconds(10)
    public init() {}
}

/// Where the collector keeps what must survive a restart or be shared by replicas
/// (docs/ha.md).
public struct StorageConfig: Sendable, Equatable {
    /// Set: every replica shares this PostgreSQL database. Nil: the SQLite file in `data_dir`.
    public var postgres: PostgresStorageConfig?
    public init() {}
}

/// `storage.postgres`: a PostgreSQL database shared by the replicas.
public struct PostgresStorageConfig: Sendable, Equatable {
    /// `postgres://user:password@host:port/database?sslmode=...` (from `url`, `url_file` or
    /// `${ENV}`); a secret as a whole, since it carries the password.
    public var url: Secret
    /// PEM file of the CA that signs the server's certificate (TLS per the URL's `sslmode`).
    public var caFile: String?
    /// Connections each replica opens.
    public var poolSize = 4
    /// How long a replica's claim on a delivery lasts without renewal (renewed every
    /// couple of seconds while it lives). After a replica dies, another one takes its
    /// deliveries over once the lease lapses.
    public var claimLease: Duration = .seconds(30)
    public init(url: Secret) { self.url = url }
}

/// Accepted credentials for the intake endpoint.
public enum IntakeAuth: Sendable, Equatable {
    case none
    case bearer(Secret)
    case basic(username: String, password: Secret)
}

/// Where plugins are found.
public struct PluginSearchConfig: Sendable, Equatable {
    /// Directories scanned for `*.so`. Empty means the defaults: `plugins/` next to the
    /// binary, then `/usr/lib/cano-collector/plugins`.
    public var directories: [String] = []
    /// Individual plugin files, loaded in addition to the directories.
    public var paths: [String] = []
    public init() {}
}

/// How Alertmanager alerts become Issues.
public struct AlertmanagerConfig: Sendable, Equatable {
    /// `severity` label value (lowercased) → Issue severity.
    public var severityMapping: [String: Severity] = [
        "critical": .high, "error": .high, "high": .high, "page": .high,
        "warning": .low, "warn": .low, "low": .low,
        "info": .info, "informational": .info,
        "none": .debug, "debug": .debug,
    ]
    /// For alerts with no or an unmapped `severity` label.
    public var defaultSeverity: Severity = .low
    public init() {}
}

/// One configured destination: a plugin type (or built-in) plus its config.
public struct DestinationConfig: Sendable, Equatable {
    /// Unique; routes refer to it.
    public var name: String
    /// The plugin type name (`webhook`, `slack`) or a built-in (`file`).
    public var type: String
    /// Handed to the plugin's create() as JSON, after `${ENV}` and `*_file` resolution.
    public var config: JSONValue
    public var delivery: DeliveryPolicy
    /// Where the plugin's code runs; nil: the default for its plugin (see
    /// `DestinationFactory.defaultIsolation(for:)`). The built-in `file` ignores it.
    public var isolation: PluginIsolation?
    /// "line:column" of its `type:` in the config file (empty when not loaded from one),
    /// so that a create failure found later (`validate`'s dry run) says where. Not part
    /// of equality: where a destination was written is not what it is.
    public var location: String

    public init(name: String, type: String, config: JSONValue = .object([:]), delivery: DeliveryPolicy = DeliveryPolicy(),
                isolation: PluginIsolation? = nil, location: String = "") {
        self.name = name
        self.type = type
        self.config = config
        self.delivery = delivery
        self.isolation = isolation
        self.location = location
    }

    public static func == (a: DestinationConfig, b: DestinationConfig) -> Bool {
        a.name == b.name && a.type == b.type && a.config == b.config && a.delivery == b.delivery && a.isolation == b.isolation
    }
}

/// Where a destination plugin runs (`isolation:` in a destination's config).
public enum PluginIsolation: String, Sendable, Equatable, CaseIterable {
    /// Loaded into the collector: fastest, but a crash or hang of the plugin is the collector's.
    case inProcess = "in_process"
    /// In a `plugin-host` child process: a crash or hang kills only the child, which is
    /// restarted with backoff (docs/plugins.md, "Isolation").
    case process
}

/// How the engine treats one destination's queue. Retry timing is decided in one place,
/// `RetryPolicy`, from these values.
public struct DeliveryPolicy: Sendable, Equatable {
    /// After this many failed attempts a delivery is dead-lettered; nil (the default): no
    /// limit, retries are bounded by `maxAge` alone, so an outage of hours loses nothing.
    public var maxAttempts: Int?
    /// A delivery older than this is dead-lettered instead of retried. Slack and PagerDuty
    /// outages last hours, so the default is half a day.
    public var maxAge: Duration = .seconds(12 * 3600)
    /// First retry delay; doubles per attempt, with full jitter.
    public var initialBackoff: Duration = .seconds(1)
    /// Backoff cap: a destination that comes back is noticed within this long.
    public var maxBackoff: Duration = .seconds(60)
    /// Past this many queued deliveries, further deliveries for this destination only are
    /// dead-lettered on arrival (reason "queue full"); other destinations are not affected.
    public var queueLimit = 10_000
    /// Delivery threads for this destination.
    public var workers = 2
    /// Per-call deadline handed to the plugin.
    public var timeout: Duration = .seconds(15)
    /// A delivery that was in a plugin call during this many unclean exits of the collector
    /// (or crashes of its isolated plugin process) is quarantined as a dead letter.
    public var quarantineAfterCrashes = 2
    public init() {}
}

/// One routing rule; see `IssueRouter`.
public struct RouteConfig: Sendable, Equatable {
    public var name: String?
    /// All must match.
    public var matchers: [Matcher]
    public var destinations: [String]
    /// Keep evaluating later routes after this one matched.
    public var `continue`: Bool
    public init(name: String? = nil, matchers: [Matcher], destinations: [String], continue: Bool = false) {
        self.name = name
        self.matchers = matchers
        self.destinations = destinations
        self.continue = `continue`
    }
}
