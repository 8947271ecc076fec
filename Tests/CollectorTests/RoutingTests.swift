@testable import Collector
import CanoSDK
import Testing
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

@Suite struct RoutingTests {
    func issue(severity: Severity = .high, namespace: String = "payments", labels: [String: String] = [:], source: IssueSource = .prometheus) -> CanoSDK.Issue {
        CanoSDK.Issue(type: .alert, source: source, severity: severity, status: .firing, title: "T", aggregationKey: "T", fingerprint: "f",
              subject: Subject(kind: "Pod", name: "p", namespace: namespace, labels: labels), startsAt: Date())
    }

    @Test func parsesMatchers() throws {
        #expect(try Matcher.parse(#"severity="HIGH""#) == Matcher(field: "severity", op: .equal, value: "HIGH"))
        #expect(try Matcher.parse(#" team != "infra" "#) == Matcher(field: "team", op: .notEqual, value: "infra"))
        #expect(try Matcher.parse(#"namespace=~"prod-.*""#) == Matcher(field: "namespace", op: .matchesRegex, value: "prod-.*"))
        #expect(try Matcher.parse("alertname!~Watchdog|InfoInhibitor") == Matcher(field: "alertname", op: .notMatchesRegex, value: "Watchdog|InfoInhibitor"))
        #expect(throws: MatcherError.self) { try Matcher.parse("severity") }
        #expect(throws: MatcherError.self) { try Matcher.parse(#"="x""#) }
        #expect(throws: MatcherError.self) { try Matcher.parse(#"a="x"#) }
        #expect(throws: MatcherError.self) { try Matcher.parse(#"a=~"[""#) }
    }

    @Test func firstMatchWinsUnlessContinue() throws {
        let router = IssueRouter(routes: [
            RouteConfig(matchers: [try Matcher.parse(#"severity="HIGH""#)], destinations: ["pager", "slack"], continue: true),
            RouteConfig(matchers: [try Matcher.parse(#"namespace=~"pay.*""#)], destinations: ["slack", "payments"]),
            RouteConfig(matchers: [try Matcher.parse(#"namespace!="""#)], destinations: ["never"]),
        ], defaultDestinations: ["fallback"])
        #expect(router.destinations(for: issue()) == ["pager", "slack", "payments"])
        #expect(router.destinations(for: issue(severity: .low)) == ["slack", "payments"])
        #expect(router.destinations(for: issue(severity: .low, namespace: "")) == ["fallback"])
    }

    @Test func regexesAreAnchoredAndLabelsAreReachable() throws {
        let router = IssueRouter(routes: [
            RouteConfig(matchers: [try Matcher.parse(#"namespace=~"pay""#)], destinations: ["partial"]),
            RouteConfig(matchers: [try Matcher.parse(#"team="db""#), try Matcher.parse(#"labels.severity="critical""#)], destinations: ["db"]),
            RouteConfig(matchers: [try Matcher.parse(#"source="kubernetes""#), try Matcher.parse(#"alertname!~"Watchdog""#)], destinations: ["kube"]),
        ], defaultDestinations: [])
        #expect(router.destinations(for: issue()) == [])
        #expect(router.destinations(for: issue(labels: ["team": "db", "severity": "critical"])) == ["db"])
        #expect(router.destinations(for: issue(labels: ["team": "db", "severity": "warning"])) == [])
        #expect(router.destinations(for: issue(source: .kubernetes)) == ["kube"])
    }
}
