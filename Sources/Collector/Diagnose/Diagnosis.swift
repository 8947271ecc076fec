import CanoSDK

/// The likely cause of an Issue, as one rule of ``Diagnoser`` reads its evidence: what
/// broke, the facts that say so, and what to do next. Deterministic and explainable: the
/// same Issue and cluster state always give the same diagnosis, and every claim it makes
/// is one of its evidence lines.
///
/// It reaches destinations as the Issue's first enrichment (``enrichment``), so every
/// destination, including plugins built before diagnosis existed, shows it first.
public struct Diagnosis: Sendable, Equatable {
    /// The rule that matched (`oom_killed`, `exit_code`...); docs/diagnosis.md lists them.
    public var rule: String
    /// One line: the likely cause.
    public var cause: String
    /// The facts the cause rests on, each quoting where it was read.
    public var evidence: [String]
    /// One suggested next step.
    public var nextStep: String

    /// A diagnosis by `rule`.
    public init(rule: String, cause: String, evidence: [String], nextStep: String) {
        self.rule = rule
        self.cause = cause
        self.evidence = evidence
        self.nextStep = nextStep
    }

    /// The enrichment `type` that carries a diagnosis (``Enrichment/diagnosisType``).
    public static let enrichmentType = Enrichment.diagnosisType

    /// The diagnosis as an enrichment. Its layout is part of the JSON contract
    /// (docs/issue.schema.json): type `diagnosis`, title "Likely cause", then exactly three
    /// blocks: markdown (the cause), list (the evidence), markdown ("Next step: ...").
    /// Plain blocks, so every renderer shows it without a special case; the rule's name
    /// goes to the log line and to `cano_diagnoses_total{rule}`.
    public var enrichment: Enrichment {
        Enrichment(type: Self.enrichmentType, title: "Likely cause", blocks: [
            .markdown(cause), .list(evidence.isEmpty ? ["(no evidence recorded)"] : evidence), .markdown("Next step: \(nextStep)"),
        ])
    }
}

/// The `diagnosis:` section of the configuration.
///
/// ```yaml
/// diagnosis:
///   enabled: true     # the default
///   timeout: 1s       # time to read the pod, its events and node (and Prometheus), per Issue
///   llm: {...}        # optional, see LLMConfig
/// ```
public struct DiagnosisConfig: Sendable, Equatable {
    /// Off: Issues go to the outbox without a diagnosis.
    public var enabled = true
    /// How long the stage may spend reading the cluster, and Prometheus for OOM kills, for
    /// one Issue; on expiry the rules run on what the Issue and its enrichments already
    /// hold. Prometheus gets what the cluster reads left, less a margin (``DiagnosisStage``).
    public var timeout: Duration = .seconds(1)
    /// The optional LLM analysis; nil (the default) sends nothing anywhere.
    public var llm: LLMConfig?
    /// The defaults: on, 1 s, no LLM.
    public init() {}
}
