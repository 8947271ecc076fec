#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One thing that went wrong (or stopped going wrong) in a cluster: the unit that
/// cano-collector routes, enriches and delivers.
///
/// An `Issue` crosses the plugin boundary as JSON (``IssueCoding``). The JSON contract is
/// published as `docs/issue.schema.json`; ``schemaVersion`` changes only when a field's
/// meaning changes, never when an optional field is added.
public struct Issue: Codable, Sendable, Equatable {
    /// The version of the JSON contract this value follows.
    public static let currentSchemaVersion = 1

    /// Unique per Issue value (a UUID string).
    public var id: String
    /// See ``currentSchemaVersion``.
    public var schemaVersion: Int
    public var type: IssueType
    public var source: IssueSource
    public var severity: Severity
    public var status: IssueStatus
    /// One line, e.g. "KubePodCrashLooping" or "Pod payments/worker OOMKilled".
    public var title: String
    public var description: String?
    /// Groups related Issues (the alert name, or the detector's reason).
    public var aggregationKey: String
    /// Identifies "the same problem" across repeats, status changes and restarts.
    public var fingerprint: String
    public var subject: Subject
    public var cluster: String?
    /// When cano-collector created this value.
    public var createdAt: Date
    /// When the problem started.
    public var startsAt: Date
    /// When it ended; `nil` while firing.
    public var endsAt: Date?
    public var links: [Link]
    public var enrichments: [Enrichment]
    /// Set on Issues of type ``IssueType/group`` only: the members and what changed.
    public var group: IssueGroup?
    /// The group the source notified this Issue in, when it has one: Alertmanager's
    /// `groupKey`. Routes group by it unless they set `group_by`.
    public var groupKey: String?
    /// That group's labels (Alertmanager's `groupLabels`).
    public var groupLabels: [String: String]?

    /// Creates an Issue; `id` and `createdAt` default to fresh values.
    public init(
        id: String = UUID().uuidString.lowercased(),
        type: IssueType,
        source: IssueSource,
        severity: Severity,
        status: IssueStatus,
        title: String,
        description: String? = nil,
        aggregationKey: String,
        fingerprint: String,
        subject: Subject = Subject(),
        cluster: String? = nil,
        createdAt: Date = Date(),
        startsAt: Date,
        endsAt: Date? = nil,
        links: [Link] = [],
        enrichments: [Enrichment] = [],
        group: IssueGroup? = nil,
        groupKey: String? = nil,
        groupLabels: [String: String]? = nil
    ) {
        self.id = id
        self.schemaVersion = Issue.currentSchemaVersion
        self.type = type
        self.source = source
        self.severity = severity
        self.status = status
        self.title = title
        self.description = description
        self.aggregationKey = aggregationKey
        self.fingerprint = fingerprint
        self.subject = subject
        self.cluster = cluster
        self.createdAt = createdAt
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.links = links
        self.enrichments = enrichments
        self.group = group
        self.groupKey = groupKey
        self.groupLabels = groupLabels
    }
}

/// Where an Issue came from in kind: a metric alert or an observed event.
public enum IssueType: String, Codable, Sendable, CaseIterable {
    case alert
    case event
    /// One notification for several Issues (``Issue/group`` holds them). Only destinations
    /// that declare they render groups receive it.
    case group
}

/// The system that reported the Issue. Open-ended: plugins may see sources added later.
public struct IssueSource: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public var description: String { rawValue }

    public static let prometheus = IssueSource(rawValue: "prometheus")
    public static let kubernetes = IssueSource(rawValue: "kubernetes")
    public static let helm = IssueSource(rawValue: "helm")
}

/// How urgent an Issue is. Ordered: `.debug < .info < .low < .high`.
public enum Severity: String, Codable, Sendable, CaseIterable, Comparable {
    case high = "HIGH"
    case low = "LOW"
    case info = "INFO"
    case debug = "DEBUG"

    private var rank: Int {
        switch self {
        case .debug: 0
        case .info: 1
        case .low: 2
        case .high: 3
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// Whether the problem is ongoing.
public enum IssueStatus: String, Codable, Sendable, CaseIterable {
    case firing
    case resolved
}

/// The Kubernetes object (or other thing) an Issue is about.
public struct Subject: Codable, Sendable, Equatable {
    /// "Pod", "Deployment", "Job", "Node", "HelmRelease"...; nil when unknown.
    public var kind: String?
    public var name: String?
    public var namespace: String?
    public var node: String?
    public var container: String?
    public var labels: [String: String]
    public var annotations: [String: String]

    public init(
        kind: String? = nil, name: String? = nil, namespace: String? = nil, node: String? = nil,
        container: String? = nil, labels: [String: String] = [:], annotations: [String: String] = [:]
    ) {
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.node = node
        self.container = container
        self.labels = labels
        self.annotations = annotations
    }
}

/// A titled URL.
public struct Link: Codable, Sendable, Equatable {
    public var title: String
    public var url: String
    public init(title: String, url: String) {
        self.title = title
        self.url = url
    }
}

/// A titled group of context blocks added by one enricher ("Pod logs", "Resources"...).
public struct Enrichment: Codable, Sendable, Equatable {
    /// What produced it, e.g. "pod_logs", "alert_labels".
    public var type: String
    public var title: String?
    public var blocks: [Block]
    public init(type: String, title: String? = nil, blocks: [Block]) {
        self.type = type
        self.title = title
        self.blocks = blocks
    }

    private enum CodingKeys: String, CodingKey { case type, title, blocks }

    /// Blocks of a type this SDK does not know (added by a newer host) are skipped, so an
    /// older plugin still delivers the rest of the Issue instead of failing it.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(String.self, forKey: .type)
        title = try c.decodeIfPresent(String.self, forKey: .title)
        var list = try c.nestedUnkeyedContainer(forKey: .blocks)
        var blocks: [Block] = []
        while !list.isAtEnd {
            if let block = try list.decode(LenientBlock.self).block { blocks.append(block) }
        }
        self.blocks = blocks
    }
}

/// Decodes a block, or nothing when its `type` is unknown; malformed known blocks still throw.
private struct LenientBlock: Decodable {
    let block: Block?
    private enum CodingKeys: String, CodingKey { case type }
    init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .type)
        block = Block.knownTypes.contains(type) ? try Block(from: decoder) : nil
    }
}

extension Issue {
    /// The Issue's links and enrichments as plain text lines, each part after a blank line:
    /// "Links:" then "- title: url", and per enrichment "== title ==" then its blocks'
    /// ``Block/plainTextLines``. The diagnosis is left out: it goes first, on its own
    /// (``diagnosisLines``). What plugins whose service shows plain text (Opsgenie's
    /// description, Jira, Datadog events) append after their own header lines.
    public var plainTextContext: [String] {
        var lines: [String] = []
        if !links.isEmpty {
            lines.append("")
            lines.append("Links:")
            lines += links.map { "- \($0.title): \($0.url)" }
        }
        for enrichment in enrichments where enrichment.type != Enrichment.diagnosisType {
            lines.append("")
            lines.append("== \(enrichment.title ?? enrichment.type) ==")
            lines += enrichment.blocks.flatMap(\.plainTextLines)
        }
        return lines
    }
}

extension Enrichment {
    /// The `type` of the enrichment that carries the host's diagnosis of an Issue: title
    /// "Likely cause", then exactly three blocks: markdown (the cause), list (the evidence),
    /// markdown ("Next step: ..."). The host puts it first among the enrichments, so
    /// destinations that show enrichments in order show it first (docs/diagnosis.md).
    public static let diagnosisType = "diagnosis"
}

extension Issue {
    /// The host's diagnosis (see ``Enrichment/diagnosisType``), when it made one.
    public var diagnosis: Enrichment? { enrichments.first { $0.type == Enrichment.diagnosisType } }

    /// The diagnosis as plain text for services that show text (Opsgenie, Jira, Datadog,
    /// ServiceNow, PagerDuty's details): "Likely cause: ...", "- evidence" lines, "Next
    /// step: ...", then a blank line. Empty without a diagnosis. Plugins put it right after
    /// the Issue's own description, before everything else.
    public var diagnosisLines: [String] {
        guard let diagnosis else { return [] }
        var lines = diagnosis.blocks.flatMap(\.plainTextLines)
        guard !lines.isEmpty else { return [] }
        lines[0] = "Likely cause: " + lines[0]
        return lines + [""]
    }
}
