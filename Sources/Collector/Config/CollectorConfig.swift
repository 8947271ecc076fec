import CanoSDK
import PrometheusAPI

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
    /// Noise control for the default route (`default_notify`).
    public var defaultNotify = NotifyPolicy()
    /// Named time intervals (Alertmanager's `time_intervals`) that routes mute or activate by.
    public var timeIntervals: [String: TimeIntervalSet] = [:]
    /// Enrichment workflows and budgets (see `EnrichmentConfig`).
    public var enrichment = EnrichmentConfig()
    /// The "likely cause" rules after enrichment (see `DiagnosisConfig`).
    public var diagnosis = DiagnosisConfig()
    /// A Prometheus server to read container metrics from (`prometheus:`): the OOM
    /// diagnosis reads the working set, and the graph plugin draws it. Nil: neither.
    public var prometheus: PrometheusConfig?
    /// Watching the cluster itself (off unless `kubernetes.enabled`).
    public var kubernetes = KubernetesConfig()
    /// The web console at `/ui/` (off unless `ui.enabled`).
    public var ui = ConsoleConfig()

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
    /// Bearer token required, on top of `auth`, by the admin API (`/api/silences` writes).
    /// Nil: the admin API refuses writes (403) and says why.
    public var adminToken: Secret?
    /// The collector's address as people reach it (`server.external_url`, e.g.
    /// `https://cano.example.com`), without a trailing slash. Set: Issues not from
    /// Alertmanager get a "Silence" link to `<external_url>/silences/new`. Nil: no link.
    public var externalURL: String?
    /// How long SIGTERM waits for in-flight deliveries.
    public var shutdownGrace: Duration = .seconds(10)
    public init() {}
}

/// `ui:`, the built-in web console (docs/console.md).
public struct ConsoleConfig: Sendable, Equatable {
    /// Serve the console at `/ui/` and keep the journal of recent Issues it shows. Off: no
    /// route, no journal, nothing paid.
    public var enabled = false
    /// Who may read the console; nil: the intake's (`server.auth`). Basic auth is what a
    /// browser asks for by itself.
    public var auth: IntakeAuth?
    /// How many recent Issues the journal keeps.
    public var history = 1000
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
    /// The secret part (token or password), to tell credentials apart; nil for `none`.
    var credential: String? {
        switch self {
        case .bearer(let token): token.value
        case .basic(_, let password): password.value
        case .none: nil
        }
    }
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
    /// The storm guard (`storm:`); nil: the default for its type (``effectiveStorm``).
    public var storm: StormPolicy?
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
        a.name == b.name && a.type == b.type && a.config == b.config && a.delivery == b.delivery && a.isolation == b.isolation && a.storm == b.storm
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
    /// Deliveries to this destination start in the order they were queued, one at a time,
    /// and a retry holds back the ones behind it, so a chat channel shows Issues in order
    /// even through 429s. Nil: the plugin's default (on for chat destinations).
    public var ordered: Bool?
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
    /// Grouping, timing and mute windows for the Issues this route delivers.
    public var notify: NotifyPolicy
    public init(name: String? = nil, matchers: [Matcher], destinations: [String], continue: Bool = false, notify: NotifyPolicy = NotifyPolicy()) {
        self.name = name
        self.matchers = matchers
        self.destinations = destinations
        self.continue = `continue`
        self.notify = notify
    }
}

/// A route's noise control (docs/noise-control.md), in Alertmanager's terms. The default
/// route (`default_destinations`) has its own under `default_notify`.
public struct NotifyPolicy: Sendable, Equatable {
    /// How members are grouped into one notification.
    public enum Grouping: Sendable, Equatable {
        /// `group_by` not set: Alertmanager notifications group by their `groupKey`; other
        /// Issues are notified one by one.
        case upstream
        /// `group_by: [...]`: by these labels or fields (`namespace`, `workload`, `reason`,
        /// `source`, any Issue field a matcher can read, or a subject label). An empty list
        /// means one notification per Issue, for every source.
        case by([String])
        /// `group_by: ['...']`: everything the route delivers is one group.
        case all
    }
    public var grouping: Grouping = .upstream
    /// How long a new group waits for more members before its first notification.
    public var groupWait: Duration = .seconds(30)
    /// The wait between two notifications of one group (changes gathered in between).
    public var groupInterval: Duration = .seconds(300)
    /// Re-notifies a group (or a lone Issue) still firing and unchanged after this long,
    /// into its original thread. Nil: never (Alertmanager itself repeats its alerts).
    public var repeatInterval: Duration?
    /// A firing Issue is notified only once it has been firing this long; one that resolves
    /// sooner is never notified. Zero: at once.
    public var minDuration: Duration = .zero
    /// Names of `time_intervals` during which nothing is notified (held until they end).
    public var muteTimeIntervals: [String] = []
    /// Names of `time_intervals` outside which nothing is notified. Empty: always active.
    public var activeTimeIntervals: [String] = []
    public init() {}

    /// True when the policy may hold an Issue back (so it must go through a notify group).
    var holds: Bool {
        repeatInterval != nil || minDuration > .zero || !muteTimeIntervals.isEmpty || !activeTimeIntervals.isEmpty
    }
}

/// The storm guard of one destination (`storm:` in a destination's config): past
/// `threshold` new notifications within `window`, further Issues of the same route and
/// reason fold into one running summary per (route, reason), updated every
/// `update_interval`, until the rate falls back under the threshold for a whole window.
public struct StormPolicy: Sendable, Equatable {
    /// New Issues per `window` past which a storm begins; nil disables the guard.
    public var threshold: Int?
    public var window: Duration = .seconds(60)
    /// The wait between two updates of a storm summary.
    public var updateInterval: Duration = .seconds(30)
    public init(threshold: Int? = nil) { self.threshold = threshold }
}

extension DestinationConfig {
    /// Destination types read by people in a channel. Two defaults follow from it:
    /// - a burst of posts is noise there, so the storm guard is on unless configured (20
    ///   new Issues a minute); machine consumers (webhook, Kafka, incident tools) want
    ///   every Issue;
    /// - people read the messages in the order they were posted, so an Issue overtaken by
    ///   a later one (a 429 retried after others) misleads: deliveries are ordered.
    ///   Incident and ticket systems and pipes key each alert on its own and keep
    ///   concurrent delivery (`workers` calls at once) and its throughput.
    public static let chatTypes: Set<String> = ["slack", "msteams"]

    /// The storm guard in force: as configured, else on for chat destinations.
    public var effectiveStorm: StormPolicy {
        storm ?? StormPolicy(threshold: Self.chatTypes.contains(type) ? 20 : nil)
    }

    /// `delivery` with the type's defaults filled in: `ordered` is true for chat
    /// destinations unless configured. Every place that builds the engine's or the
    /// outbox's policies from the config uses this.
    public var effectiveDelivery: DeliveryPolicy {
        var policy = delivery
        if policy.ordered == nil { policy.ordered = Self.chatTypes.contains(type) }
        return policy
    }
}
