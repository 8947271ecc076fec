import CanoSDK
import Testing
import TestSupport
@testable import JiraDestination

/// The pure request builders.
@Suite("Jira payload") struct JiraPayloadTests {
    @Test func dedupLabels() {
        #expect(JiraPayload.dedupLabel(for: "3f1a9c0d2b7e4f65") == "cano-fp-3f1a9c0d2b7e4f65")
        #expect(JiraPayload.dedupLabel(for: "pod_oom.shop-cart") == "cano-fp-pod_oom.shop-cart")
        // Spaces, quotes or slashes cannot be in a label (or safely in JQL): hashed, stably.
        let odd = JiraPayload.dedupLabel(for: "fp/with space\"quote")
        #expect(odd.hasPrefix("cano-fph-") && odd.count == "cano-fph-".count + 16)
        #expect(odd == JiraPayload.dedupLabel(for: "fp/with space\"quote"))
        #expect(odd != JiraPayload.dedupLabel(for: "fp/with space\"quotf"))
        let long = JiraPayload.dedupLabel(for: String(repeating: "a", count: 300))
        #expect(long.hasPrefix("cano-fph-") && long.utf16.count <= 255)
    }

    @Test func searchBody() {
        let body = JiraPayload.search(project: "OPS", label: "cano-fp-x")
        #expect(body["jql"] == "project = \"OPS\" AND labels = \"cano-fp-x\" AND statusCategory != Done ORDER BY created DESC")
        #expect(body["maxResults"] == 2)
        #expect(body["fields"] == ["status"])
    }

    @Test func documentsAreADF() {
        let doc = JiraPayload.document("first line\r\nsecond line\n\n\nnext paragraph\n")
        let expected: JSONValue = [
            "type": "doc", "version": 1,
            "content": [
                ["type": "paragraph", "content": [["type": "text", "text": "first line"], ["type": "hardBreak"], ["type": "text", "text": "second line"]]],
                ["type": "paragraph", "content": [["type": "text", "text": "next paragraph"]]],
            ],
        ]
        #expect(doc == expected)
        #expect(JiraPayload.document("") == ["type": "doc", "version": 1, "content": [["type": "paragraph", "content": []]]])
    }

    @Test func fitUTF16CountsAsJiraDoes() {
        #expect(Truncation.truncate("short", to: 255, in: .utf16CodeUnits) == "short")
        let flags = String(repeating: "🇩🇪", count: 100)  // 2 scalars, 4 UTF-16 units each
        let cut = Truncation.truncate(flags, to: 255, in: .utf16CodeUnits)
        #expect(cut.utf16.count <= 255)
        #expect(cut == String(repeating: "🇩🇪", count: 63) + "…", "whole flags only")
    }

    @Test func enrichmentsAndFilesAreText() {
        let issue = makeIssue(enrichments: [
            Enrichment(type: "pod_logs", title: "Logs", blocks: [.markdown("OOMKilled"), .list(["a", "b"])]),
        ])
        let text = JiraPayload.description(issue)
        #expect(text.contains("== Logs ==\nOOMKilled\n- a\n- b"), "\(text)")
        #expect(text.hasSuffix("It finds this issue again by its label cano-fp-3f1a9c0d2b7e4f65."))
    }
}
