import CanoSDK

/// The `enrichment:` section of the configuration: which enrichers run for which Issues,
/// and how much time and space they get. Plain values; defaults live here, once.
public struct EnrichmentConfig: Sendable, Equatable {
    /// Off: Issues pass through unchanged.
    public var enabled = true
    /// Also run the built-in workflows (``DefaultWorkflows``) after the configured ones.
    public var defaultWorkflows = true
    /// Checked in order, before the built-in ones; every matching workflow contributes.
    public var workflows: [WorkflowConfig] = []
    /// Enricher plugin instances (kind enricher); workflows name them like built-ins.
    public var plugins: [EnricherPluginConfig] = []
    /// Default time one enricher gets.
    public var enricherTimeout: Duration = .seconds(2)
    /// Total time for all enrichers of one Issue, from its arrival. Well under
    /// Alertmanager's 10 s webhook timeout, since the sender waits for the outbox commit.
    public var issueBudget: Duration = .seconds(5)
    /// Default size cap of one enricher's output, in bytes of content.
    public var maxBytes = 256 * 1024
    /// Threads one enricher may occupy at once, counting abandoned calls that have not
    /// returned yet; bounds the threads a hung API or plugin can pile up.
    public var maxConcurrentCalls = 16
    /// The defaults: enabled, built-in workflows on, 2 s per enricher, 5 s per Issue.
    public init() {}
}

/// One workflow: when its trigger matches an Issue, its steps run.
public struct WorkflowConfig: Sendable, Equatable {
    /// Names the workflow in logs and errors.
    public var name: String
    /// When it applies.
    public var trigger: WorkflowTrigger
    /// The enrichers it runs, in display order.
    public var steps: [EnricherStep]
    /// A workflow.
    public init(name: String, trigger: WorkflowTrigger, steps: [EnricherStep]) {
        self.name = name
        self.trigger = trigger
        self.steps = steps
    }
}

/// When a workflow applies. Every given condition must hold; an empty trigger matches
/// every firing Issue.
public struct WorkflowTrigger: Sendable, Equatable {
    /// Issue sources (`prometheus`, `kubernetes`, `helm`); empty means any.
    public var sources: [String] = []
    /// Anchored regex on the aggregation key: the alert name or the detector's reason.
    public var aggregationKey: String?
    /// Only Issues at least this severe.
    public var minSeverity: Severity?
    /// Anchored regex on the subject's namespace.
    public var namespace: String?
    /// Route-style matchers (`kind="Pod"`, `team=~"pay.*"`); see ``Matcher``.
    public var matchers: [Matcher] = []
    /// Also enrich resolved Issues (off: a resolution rarely needs logs).
    public var includeResolved = false
    /// A trigger; every argument left out matches anything.
    public init(sources: [String] = [], aggregationKey: String? = nil, minSeverity: Severity? = nil,
                namespace: String? = nil, matchers: [Matcher] = [], includeResolved: Bool = false) {
        self.sources = sources
        self.aggregationKey = aggregationKey
        self.minSeverity = minSeverity
        self.namespace = namespace
        self.matchers = matchers
        self.includeResolved = includeResolved
    }
}

/// One enricher call of a workflow.
public struct EnricherStep: Sendable, Equatable {
    /// A built-in enricher (`pod_logs`) or a configured enricher plugin's name.
    public var enricher: String
    /// The step's parameters, a JSON object handed to the enricher.
    public var parameters: JSONValue
    /// Overrides ``EnrichmentConfig/enricherTimeout``.
    public var timeout: Duration?
    /// Overrides ``EnrichmentConfig/maxBytes``.
    public var maxBytes: Int?
    /// "line:column" in the config file, so an unknown enricher name found later (plugins
    /// load after the config) can still point at its line.
    public var location: String
    /// A step calling `enricher`.
    public init(_ enricher: String, parameters: JSONValue = .object([:]), timeout: Duration? = nil, maxBytes: Int? = nil, location: String = "") {
        self.enricher = enricher
        self.parameters = parameters
        self.timeout = timeout
        self.maxBytes = maxBytes
        self.location = location
    }
}

/// One enricher plugin instance: a loaded plugin of kind enricher plus its config.
public struct EnricherPluginConfig: Sendable, Equatable {
    /// The name workflows use.
    public var name: String
    /// The plugin type name the .so declares.
    public var type: String
    /// Handed to the plugin's create() as JSON.
    public var config: JSONValue
    /// An enricher plugin instance.
    public init(name: String, type: String, config: JSONValue = .object([:])) {
        self.name = name
        self.type = type
        self.config = config
    }
}
