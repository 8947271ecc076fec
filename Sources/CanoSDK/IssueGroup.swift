#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What makes an Issue of type ``IssueType/group`` a group: one notification standing for a
/// set of related Issues (its members), updated in place as members join and resolve.
///
/// The host builds it (`Sources/Collector/Dispatch`); a destination sees it only if it
/// declares that it renders groups (`CANO_CAPABILITY_GROUPS`, Swift `static var
/// capabilities`). Others get each member as an Issue of its own.
///
/// The group Issue itself stays a complete Issue: its title is the summary ("12 pods
/// CrashLoopBackOff in payments"), its first enrichment a `group_members` table, so a
/// destination that renders any Issue shows a useful message without reading this value.
public struct IssueGroup: Codable, Sendable, Equatable {
    /// Why the members are together.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// One Alertmanager group notification (its `groupKey`).
        case alertmanager
        /// The route's `group_by`.
        case route
        /// The storm guard folded a burst of Issues of one route and reason.
        case storm
    }

    /// Stable for the group's life: Alertmanager's groupKey, or the route and its
    /// `group_by` values. A group that ended (every member resolved) and fires again is a
    /// new group with the same key but a new `startsAt`.
    public var key: String
    public var kind: Kind
    /// The values the members share: Alertmanager's `groupLabels`, or the `group_by` values
    /// (`namespace`, `reason`…). Empty for a storm summary's own key.
    public var labels: [String: String]
    /// Every member, newest first among the firing ones, then the resolved ones.
    public var members: [IssueGroupMember]
    /// Members firing now.
    public var firing: Int
    /// Members resolved (still listed until the whole group resolves).
    public var resolved: Int
    /// Fingerprints that joined (started firing) since the previous notification of this group.
    public var joined: [String]
    /// Fingerprints that resolved since the previous notification of this group.
    public var resolvedSince: [String]
    /// True for a notification that only repeats an unchanged group (`repeat_interval`).
    public var isRepeat: Bool
    /// Storm summaries only: the storm is over (the closing summary). Later changes still
    /// update the same message.
    public var stormEnded: Bool?

    /// A group value; see the properties for their meaning.
    public init(key: String, kind: Kind, labels: [String: String], members: [IssueGroupMember],
                joined: [String] = [], resolvedSince: [String] = [], isRepeat: Bool = false, stormEnded: Bool? = nil) {
        self.key = key
        self.kind = kind
        self.labels = labels
        self.members = members
        self.firing = members.filter { $0.status == .firing }.count
        self.resolved = members.count - self.firing
        self.joined = joined
        self.resolvedSince = resolvedSince
        self.isRepeat = isRepeat
        self.stormEnded = stormEnded
    }
}

/// One member of an ``IssueGroup``: the member Issue without its enrichments, which the
/// group carries only for members that joined in this notification (``enrichments``).
public struct IssueGroupMember: Codable, Sendable, Equatable {
    public var fingerprint: String
    public var title: String
    /// The member Issue's description (an alert's `description` or `summary`), at most
    /// ``descriptionLimit`` Unicode scalars: the one line a reader of a member list wants
    /// beside the title. Nil when the member has none.
    public var description: String?
    public var status: IssueStatus
    public var severity: Severity
    public var aggregationKey: String
    public var subject: Subject
    public var startsAt: Date
    /// When it resolved; nil while firing.
    public var endsAt: Date?
    public var links: [Link]
    /// The member's own enrichments (logs, events…), present only for members that
    /// joined in this notification, and for at most the first few of them: a group of
    /// 500 members would otherwise carry 500 log excerpts. Destinations put them in the
    /// message's thread or leave them out.
    public var enrichments: [Enrichment]?

    /// Longest ``description`` kept, in Unicode scalars: a group of 500 members stays a
    /// message, not a document.
    public static let descriptionLimit = 300

    /// The member view of `issue`; `withEnrichments` keeps its enrichments.
    public init(_ issue: Issue, withEnrichments: Bool = false) {
        fingerprint = issue.fingerprint
        title = issue.title
        description = issue.description.map { Truncation.truncate($0, to: Self.descriptionLimit, in: .unicodeScalars) }
        status = issue.status
        severity = issue.severity
        aggregationKey = issue.aggregationKey
        subject = issue.subject
        startsAt = issue.startsAt
        endsAt = issue.endsAt
        links = issue.links
        enrichments = withEnrichments && !issue.enrichments.isEmpty ? issue.enrichments : nil
    }
}
