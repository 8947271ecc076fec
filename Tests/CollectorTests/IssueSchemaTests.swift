@testable import Collector
import CanoSDK
import TestSupport
import Testing
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

@Suite struct IssueSchemaTests {
    /// Every block kind, both statuses, optional fields present and absent.
    static func samples() throws -> [CanoSDK.Issue] {
        let mapper = AlertMapper(config: AlertmanagerConfig(), cluster: "c")
        var issues: [CanoSDK.Issue] = []
        for fixture in ["am-0.25-captured/firing-oomkilled.json", "am-0.25-captured/resolved-crashlooping.json", "zulip-v4-groupkey-2alerts-nonk8s.json"] {
            let webhook = try IssueCoding.decode(AlertmanagerWebhook.self, from: Fixtures.data("alertmanager/" + fixture))
            for case .alert(let raw) in webhook.alerts {
                issues.append(try mapper.map(raw, externalURL: nil))
            }
        }
        var rich = issues[0]
        rich.enrichments = [Enrichment(type: "everything", title: "All blocks", blocks: [
            .header("Header"), .markdown("*bold* `code`"), .table(.init(headers: ["a", "b"], rows: [["1", "2"]])),
            .file(.init(name: "log.txt", mimeType: "text/plain", bytes: Array("line\n".utf8))),
            .json(.object(["k": .array([.number(1), .bool(true), .null, .string("s")])])), .list(["x", "y"]), .divider,
            .links([Link(title: "Runbook", url: "https://r")]),
        ])]
        issues.append(rich)
        issues.append(groupSample(members: issues))
        return issues
    }

    /// A grouped Issue (type `group`) over `members`: one resolved and with the optional
    /// fields (`stormEnded`, a member's enrichments, `groupKey`/`groupLabels`) present.
    static func groupSample(members: [CanoSDK.Issue]) -> CanoSDK.Issue {
        var listed = members
        listed[0].status = .resolved
        listed[0].endsAt = listed[0].startsAt.addingTimeInterval(60)
        let group = IssueGroup(
            key: "{}:{alertname=\"KubePodCrashLooping\"}", kind: .storm, labels: ["alertname": "KubePodCrashLooping"],
            members: listed.enumerated().map { IssueGroupMember($0.element, withEnrichments: $0.offset == listed.count - 1) },
            joined: [listed[1].fingerprint], resolvedSince: [listed[0].fingerprint], isRepeat: false, stormEnded: true)
        var issue = CanoSDK.Issue(
            type: .group, source: .prometheus, severity: .high, status: .firing, title: "\(group.firing) alerts KubePodCrashLooping",
            description: "\(group.firing) firing · \(group.resolved) resolved", aggregationKey: "KubePodCrashLooping", fingerprint: "group-1",
            subject: Subject(labels: group.labels), cluster: "c", startsAt: listed[0].startsAt,
            enrichments: [Enrichment(type: "group_members", title: "Members", blocks: [.table(.init(headers: ["Status", "Issue"], rows: listed.map { [$0.status.rawValue, $0.title] }))])],
            group: group)
        issue.groupKey = group.key
        issue.groupLabels = group.labels
        return issue
    }

    @Test func everythingTheHostEmitsValidates() async throws {
        try await IssueSchema.validate(try Self.samples().map { try IssueCoding.encode($0) })
    }

    @Test func theSchemaRejectsWhatIsWrong() async throws {
        var json = try IssueCoding.decode(JSONValue.self, from: IssueCoding.encode(Self.samples()[0]))
        guard case .object(var members) = json else { Issue.record("not an object"); return }
        members["severity"] = .string("CRITICAL")
        json = .object(members)
        await #expect(throws: IssueSchema.Violation.self) { try await IssueSchema.validate([try IssueCoding.encode(json)]) }
    }

    @Test func unknownBlockTypesAreSkippedNotFatal() throws {
        let json = #"{"type":"x","blocks":[{"type":"markdown","text":"a"},{"type":"sparkline","points":[1,2]},{"type":"divider"}]}"#
        let enrichment = try IssueCoding.decode(Enrichment.self, from: Array(json.utf8))
        #expect(enrichment.blocks == [.markdown("a"), .divider])
        #expect(throws: DecodingError.self) { try IssueCoding.decode(Enrichment.self, from: Array(#"{"type":"x","blocks":[{"type":"markdown"}]}"#.utf8)) }
    }

    @Test func roundTripsThroughJSON() throws {
        for issue in try Self.samples() {
            let decoded = try IssueCoding.decode(CanoSDK.Issue.self, from: IssueCoding.encode(issue))
            #expect(decoded.fingerprint == issue.fingerprint)
            #expect(decoded.enrichments == issue.enrichments)
            #expect(decoded.subject == issue.subject)
        }
    }
}
