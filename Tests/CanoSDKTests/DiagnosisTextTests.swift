import CanoSDK
import Foundation
import Testing

/// How text destinations show the host's diagnosis: first, on its own, and not again among
/// the enrichments.
@Suite struct DiagnosisTextTests {
    static func issue(diagnosed: Bool) -> CanoSDK.Issue {
        var enrichments = [Enrichment(type: "events", title: "Events", blocks: [.markdown("no recent events")])]
        if diagnosed {
            enrichments.insert(Enrichment(type: Enrichment.diagnosisType, title: "Likely cause", blocks: [
                .markdown("web exited with code 1"), .list(["last exit code 1, reason Error", "command: sh -c exit 1"]),
                .markdown("Next step: Read the previous container's log."),
            ]), at: 0)
        }
        return CanoSDK.Issue(type: .event, source: .kubernetes, severity: .high, status: .firing, title: "web crash-looping",
                     aggregationKey: "CrashLoopBackOff", fingerprint: "fp", startsAt: Date(timeIntervalSince1970: 0), enrichments: enrichments)
    }

    @Test func theDiagnosisIsItsOwnParagraph() {
        let issue = Self.issue(diagnosed: true)
        #expect(issue.diagnosisLines == [
            "Likely cause: web exited with code 1", "- last exit code 1, reason Error", "- command: sh -c exit 1",
            "Next step: Read the previous container's log.", "",
        ])
        #expect(issue.plainTextContext == ["", "== Events ==", "no recent events"])
        #expect(!issue.plainTextContext.joined().contains("Likely cause"))
    }

    @Test func withoutADiagnosisThereIsNothing() {
        let issue = Self.issue(diagnosed: false)
        #expect(issue.diagnosis == nil)
        #expect(issue.diagnosisLines.isEmpty)
    }
}
