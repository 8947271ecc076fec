import CanoSDK
import Testing
import TestSupport
@testable import OpsgenieDestination

@Suite("Opsgenie payload") struct OpsgeniePayloadTests {
    let config: OpsgenieConfig

    init() throws { config = try OpsgenieConfig(["api_key": "k-12345678"]) }

    func config(_ extra: [String: JSONValue]) throws -> OpsgenieConfig {
        var object: [String: JSONValue] = ["api_key": "k-12345678"]
        for (k, v) in extra { object[k] = v }
        return try OpsgenieConfig(.object(object))
    }

    @Test func aliasIsTheFingerprintForFiringAndResolve() {
        let firing = makeIssue(fingerprint: "3f1a9c0d2b7e4f65")
        let resolved = makeIssue(status: .resolved, fingerprint: "3f1a9c0d2b7e4f65")
        #expect(OpsgeniePayload.alias(for: firing) == "3f1a9c0d2b7e4f65")
        #expect(OpsgeniePayload.alias(for: resolved) == OpsgeniePayload.alias(for: firing))
        #expect(OpsgeniePayload.create(firing, config: config)["alias"]?.stringValue == "3f1a9c0d2b7e4f65")
        #expect(OpsgeniePayload.alias(for: makeIssue(fingerprint: "other")) == "other")
    }

    @Test func anOverlongFingerprintGivesAStableAliasWithinTheLimit() {
        let long = String(repeating: "ab", count: 400)
        let a = OpsgeniePayload.alias(for: makeIssue(fingerprint: long))
        #expect(a.unicodeScalars.count == 512)
        #expect(a == OpsgeniePayload.alias(for: makeIssue(status: .resolved, fingerprint: long)))
    }

    @Test func messageIsCutTo130CharactersWithoutSplittingOne() {
        #expect(OpsgeniePayload.message(makeIssue(title: "Short")) == "Short")
        // 200 "é" written as e + U+0301: 400 scalars, and a cut between the two would leave
        // a bare accent.
        let decomposed = OpsgeniePayload.message(makeIssue(title: String(repeating: "e\u{301}", count: 200)))
        #expect(decomposed.unicodeScalars.count <= 130)
        #expect(decomposed.hasSuffix("…"))
        #expect(decomposed.dropLast().allSatisfy { $0 == "e\u{301}" })
        #expect(decomposed.unicodeScalars.count == 129)  // 64 pairs + the marker
        let emoji = OpsgeniePayload.message(makeIssue(title: String(repeating: "🚨", count: 131)))
        #expect(emoji.unicodeScalars.count == 130 && emoji.hasSuffix("…"))
        let exact = String(repeating: "x", count: 130)
        #expect(OpsgeniePayload.message(makeIssue(title: exact)) == exact)
    }

    @Test func descriptionCarriesContextAndIsCutVisiblyAt15000() {
        let text = OpsgeniePayload.description(makeIssue(enrichments: [
            Enrichment(type: "pod_logs", title: "Pod logs", blocks: [.markdown("OOM at 12:00"), .list(["a", "b"]),
                                                                      .table(.init(headers: ["k", "v"], rows: [["x", "1"]]))]),
        ]))
        for part in ["Pod shop/cart-7d9f-x2 is crash looping", "Cluster: prod-eu", "Subject: Pod shop/cart-7d9f-x2 (node node-a, container cart)",
                     "Severity: HIGH", "- Runbook: https://runbooks.example/crashloop", "== Pod logs ==", "OOM at 12:00", "- a", "k | v", "x | 1"] {
            #expect(text.contains(part), "missing \(part) in \(text)")
        }
        #expect(!text.contains("cut by cano-collector"))

        let huge = OpsgeniePayload.description(makeIssue(description: String(repeating: "Ünïcödé ", count: 3_000)))
        #expect(huge.unicodeScalars.count <= 15_000)
        #expect(huge.unicodeScalars.count > 14_900)
        #expect(huge.hasSuffix(OpsgeniePayload.descriptionCutMarker))
    }

    @Test func priorityFollowsSeverityThroughTheMap() throws {
        let expected: [Severity: String] = [.high: "P1", .low: "P3", .info: "P5", .debug: "P5"]
        for (severity, priority) in expected {
            #expect(OpsgeniePayload.create(makeIssue(severity: severity), config: config)["priority"]?.stringValue == priority)
        }
        let custom = try config(["priorities": ["LOW": "P2"]])
        #expect(OpsgeniePayload.priority(makeIssue(severity: .low), config: custom) == "P2")
        #expect(OpsgeniePayload.priority(makeIssue(severity: .high), config: custom) == "P1")
    }

    @Test func tagsComeFromConfigThenLabels() throws {
        #expect(OpsgeniePayload.tags(makeIssue(), config: config)
            == ["alertname:KubePodCrashLooping", "cluster:prod-eu", "namespace:shop", "severity:critical"])
        let custom = try config(["tags": ["k8s", "team-a"], "tag_labels": ["pod", "alertname", "missing"]])
        let issue = makeIssue(labels: ["alertname": "X", "pod": .init(repeating: "p", count: 80)])
        let tags = OpsgeniePayload.tags(issue, config: custom)
        #expect(tags.count == 4)
        #expect(tags[0] == "k8s" && tags[1] == "team-a" && tags[3] == "alertname:X")
        #expect(tags[2].unicodeScalars.count == 50 && tags[2].hasPrefix("pod:ppp") && tags[2].hasSuffix("…"))

        var many: [String: String] = [:]
        for i in 0..<30 { many["l\(i)"] = "v" }
        let capped = OpsgeniePayload.tags(makeIssue(labels: many), config: try config(["tag_labels": .array((0..<30).map { .string("l\($0)") })]))
        #expect(capped.count == 20)
    }

    @Test func detailsAreStringsWithinTheTotalLimit() throws {
        let details = OpsgeniePayload.details(makeIssue(annotations: ["severity": "see runbook", "summary": "crash"]),
                                              config: try config(["details": ["env": "prod"]]))
        #expect(details["env"] == "prod")
        #expect(details["alertname"] == "KubePodCrashLooping")
        #expect(details["severity"] == "HIGH", "the Issue's context is written before the labels")
        #expect(details["label.severity"] == "critical", "a label whose name is taken is kept under a prefix")
        #expect(details["annotation.severity"] == "see runbook")
        #expect(details["summary"] == "crash")
        #expect(details["cluster"] == "prod-eu" && details["fingerprint"] == "3f1a9c0d2b7e4f65")
        #expect(details["link: Runbook"] == "https://runbooks.example/crashloop")
        #expect(details[OpsgeniePayload.omittedDetailsKey] == nil)

        var big: [String: String] = [:]
        for i in 0..<40 { big["label\(i)"] = String(repeating: "v", count: 900) }
        let limited = OpsgeniePayload.details(makeIssue(labels: big), config: config)
        let total = limited.reduce(0) { $0 + $1.key.unicodeScalars.count + $1.value.unicodeScalars.count }
        #expect(total <= 8_000)
        #expect(limited[OpsgeniePayload.omittedDetailsKey]?.contains("more details left out") == true)
        #expect(limited["cluster"] == "prod-eu", "context comes before labels")

        let quiet = OpsgeniePayload.details(makeIssue(), config: try config(["include_labels": false, "include_annotations": false]))
        #expect(quiet["alertname"] == nil && quiet["runbook_url"] == nil && quiet["cluster"] == "prod-eu")
    }

    @Test func respondersEntitySourceAndVisibility() throws {
        let custom = try config(["team": "platform", "team_label": "team", "visible_to": [["type": "team", "name": "sre"]], "source": "prod-eu cano"])
        let body = OpsgeniePayload.create(makeIssue(labels: ["team": "payments"]), config: custom)
        #expect(body["responders"] == [["type": "team", "name": "payments"]], "the label's team replaces the static team")
        #expect(body["visibleTo"] == [["type": "team", "name": "sre"]])
        #expect(body["source"] == "prod-eu cano")
        #expect(body["entity"] == "Pod shop/cart-7d9f-x2")
        let fallback = OpsgeniePayload.create(makeIssue(labels: [:]), config: custom)
        #expect(fallback["responders"] == [["type": "team", "name": "platform"]], "no label: the static team")
        let withSchedule = try config(["team_label": "team", "responders": [["type": "team", "name": "payments"], ["type": "schedule", "name": "oncall"]]])
        let same = OpsgeniePayload.create(makeIssue(labels: ["team": "payments"]), config: withSchedule)
        #expect(same["responders"] == [["type": "team", "name": "payments"], ["type": "schedule", "name": "oncall"]],
                "the routed team is not added twice")
        let plain = OpsgeniePayload.create(makeIssue(), config: config)
        #expect(plain["responders"] == nil && plain["visibleTo"] == nil)
    }

    /// The routed team: annotation > label > namespace map > static `team`; a blank value
    /// falls through to the next source; `responders` entries are always added after it.
    @Test(arguments: [
        (["team": "t-label"], ["opsgenie.com/team": "t-annotation"], "shop", "t-annotation"),
        (["team": "t-label"], [:], "shop", "t-label"),
        ([:], [:], "shop", "t-namespace"),
        ([:], [:], "other", "t-static"),
        (["team": "  "], ["opsgenie.com/team": ""], "shop", "t-namespace"),
        (["team": " t-label\n"], [:], "other", "t-label"),
    ] as [([String: String], [String: String], String, String)])
    func teamPrecedence(labels: [String: String], annotations: [String: String], namespace: String, team: String) throws {
        let routed = try config([
            "team": "t-static", "team_label": "team", "team_annotation": "opsgenie.com/team", "team_by_namespace": ["shop": "t-namespace"],
            "responders": [["type": "schedule", "name": "oncall"]],
        ])
        var issue = makeIssue(labels: labels, annotations: annotations)
        issue.subject.namespace = namespace
        #expect(OpsgeniePayload.team(issue, config: routed) == team)
        #expect(OpsgeniePayload.create(issue, config: routed)["responders"]
            == [["type": "team", "name": .string(team)], ["type": "schedule", "name": "oncall"]])
    }

    @Test func closeBodySaysWhoAndWhen() {
        let body = OpsgeniePayload.close(makeIssue(status: .resolved), config: config)
        #expect(body["source"] == "cano-collector")
        #expect(body["note"]?.stringValue == "Resolved at 2027-01-15T08:00:00.000Z: KubePodCrashLooping")
        #expect(body.objectValue?.keys.sorted() == ["note", "source"])
    }

    @Test func errorAnswersAreReadWithTheirFields() {
        let body = Array(#"{"message":"Request body is not processable. Please check the errors.","errors":{"message":"Message can not be empty.","alias":"too long"},"took":0.001,"requestId":"r-1"}"#.utf8)
        let answer = OpsgenieAnswer(body)
        #expect(answer.requestId == "r-1")
        #expect(answer.explanation(status: 422)
            == "Request body is not processable. Please check the errors. (alias: too long; message: Message can not be empty.)")
        #expect(OpsgenieAnswer(Array("not json".utf8)).explanation(status: 500) == nil)
        #expect(OpsgenieAnswer(Array(#"{"message":"Could not authenticate"}"#.utf8)).explanation(status: 401)?.contains("region: eu") == true)
    }
}
