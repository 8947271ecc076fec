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

    static let destinations = """
        destinations:
          - {name: hit, type: file, config: {path: "-"}}
          - {name: miss, type: file, config: {path: "-"}}
        default_destinations: [miss]

        """

    func route(_ yaml: String, _ issue: CanoSDK.Issue) throws -> [String] {
        let config = try ConfigLoader.parse(Self.destinations + yaml)
        return IssueRouter(routes: config.routes, defaultDestinations: config.defaultDestinations).destinations(for: issue)
    }

    @Test func parsesAlertmanagerGrammar() throws {
        #expect(try Matcher.parse(#"path="C:\\temp \"x\"\nend""#).value == "C:\\temp \"x\"\nend")
        #expect(try Matcher.parse(#"instance=~"10\\.0\\..*""#).value == #"10\.0\..*"#)
        #expect(try Matcher.parseList(#"{team="db", reason="a,b", x=~"y",}"#) == [
            Matcher(field: "team", op: .equal, value: "db"), Matcher(field: "reason", op: .equal, value: "a,b"),
            Matcher(field: "x", op: .matchesRegex, value: "y"),
        ])
        #expect(try Matcher.parse(#""service.name"!="api""#) == Matcher(field: "service.name", op: .notEqual, value: "api"))
        #expect(try Matcher.parse("summary=disk full ").value == "disk full")
        // The rendering is Alertmanager's, and reads back to the same matcher.
        for text in [#"a="x\"y\\z""#, #""service.name"=~"a|b""#, #"labels.severity!="""#] {
            let m = try Matcher.parse(text)
            #expect(try Matcher.parse(m.description) == m)
        }
        #expect(try Matcher.parse(#"path="C:\\temp""#).description == #"path="C:\\temp""#)
    }

    @Test func refusalsCarryLineAndColumn() {
        let yaml = #"""
            routes:
              - matchers:
                  - 'severity=="HIGH"'
                  - 'job="api'
                  - "x!~\"[\""
                  - 'x=~"(?=a)a"'
                  - 'level==HIGH'
                match: {bad-name: x}
                match_re: {code: "5[0-9"}
                destinations: [hit]
            """#
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.parse(Self.destinations + yaml) }
        let problems = error?.problems.map(\.description) ?? []
        #expect(problems.contains { $0.hasPrefix(#"7:9 routes[0].matchers[0]: invalid matcher 'severity=="HIGH"': unexpected "="; expected a label value (at character 10)"#) })
        #expect(problems.contains { $0.hasPrefix(#"8:9 routes[0].matchers[1]: invalid matcher 'job="api'"#) })
        #expect(problems.contains { $0.hasPrefix(#"9:9 routes[0].matchers[2]: invalid matcher 'x!~"["': invalid regular expression"#) })
        #expect(problems.contains { $0.hasPrefix(#"10:9 routes[0].matchers[3]: invalid matcher 'x=~"(?=a)a"': invalid regular expression: (?=a"#) })
        #expect(problems.contains { $0.hasPrefix(#"11:9 routes[0].matchers[4]: invalid matcher 'level==HIGH': the value of level starts with "=""#) })
        #expect(problems.contains { $0.hasPrefix(#"12:23 routes[0].match.bad-name: invalid label name "bad-name""#) })
        #expect(problems.contains { $0.hasPrefix(#"13:22 routes[0].match_re.code: invalid matcher 'code=~5[0-9': invalid regular expression"#) }, "\(problems)")
        #expect(problems.count == 7, "\(problems)")
    }

    @Test func yamlThenMatcherUnescaping() throws {
        // The README's example as copied from alertmanager.yml: YAML single quotes keep both
        // backslashes, YAML double quotes take one pair away; the matcher grammar then turns
        // \\ into \, so the dots are literal.
        for line in [#"'instance=~"10\\.0\\..*"'"#, #""instance=~\"10\\\\.0\\\\..*\"""#] {
            let yaml = "routes: [{matchers: [\(line)], destinations: [hit]}]"
            #expect(try route(yaml, issue(labels: ["instance": "10.0.3.4"])) == ["hit"], "\(line)")
            #expect(try route(yaml, issue(labels: ["instance": "10a0b3c4"])) == ["miss"], "\(line)")
        }
    }

    @Test func legacyMatchAndMatchRE() throws {
        // match_re values are regexes as YAML gives them: no matcher unescaping.
        let yaml = #"routes: [{match: {team: db, labels.severity: critical}, match_re: {instance: '10\.0\..*'}, matchers: ['env!="dev"'], destinations: [hit]}]"#
        #expect(try route(yaml, issue(labels: ["team": "db", "severity": "critical", "instance": "10.0.0.1"])) == ["hit"])
        #expect(try route(yaml, issue(labels: ["team": "db", "severity": "critical", "instance": "10a0b0c1"])) == ["miss"])
        #expect(try route(yaml, issue(labels: ["team": "db", "severity": "warning", "instance": "10.0.0.1"])) == ["miss"])
        #expect(try route(yaml, issue(labels: ["team": "db", "severity": "critical", "instance": "10.0.0.1", "env": "dev"])) == ["miss"])
        // A label may be named like a secret file; it is a label, not a file to read.
        #expect(try route("routes: [{match: {config_file: x}, destinations: [hit]}]", issue(labels: ["config_file": "x"])) == ["hit"])
    }

    @Test func utf8FormReachesAnyLabelName() throws {
        let yaml = #"routes: [{matchers: ['{"service.name"="api", k8s.io/app=~"web|db"}'], destinations: [hit]}]"#
        #expect(try route(yaml, issue(labels: ["service.name": "api", "k8s.io/app": "db"])) == ["hit"])
        #expect(try route(yaml, issue(labels: ["service.name": "api", "k8s.io/app": "dbx"])) == ["miss"])
    }

    /// Routes and workflow triggers share ``Matcher``: a `!~` with a bad regex cannot be
    /// configured or built for either, and a valid one decides the same for both.
    @Test func routingAndWorkflowTriggersAgree() throws {
        let yaml = """
            routes: [{matchers: ['x!~"["'], destinations: [hit]}]
            enrichment:
              workflows: [{name: w, when: {matchers: ['x!~"["'], namespace: "("}, enrichers: [container_status]}]
            """
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.parse(Self.destinations + yaml) }
        let problems = error?.problems.map(\.description) ?? []
        #expect(problems.contains { $0.hasPrefix("5:22 routes[0].matchers[0]: invalid matcher 'x!~\"[\"': invalid regular expression") }, "\(problems)")
        #expect(problems.contains { $0.contains("enrichment.workflows[0].when.matchers[0]: invalid matcher 'x!~\"[\"': invalid regular expression") }, "\(problems)")
        #expect(problems.contains { $0.contains(#"enrichment.workflows[0].when.namespace: invalid regular expression "(": expected ')'"#) }, "\(problems)")
        #expect(problems.count == 3, "\(problems)")
        #expect(throws: MatcherError.self) { try Matcher("x", .notMatchesRegex, "[") }

        let matcher = try Matcher.parse(#"x!~"a|""#)
        let router = IssueRouter(routes: [RouteConfig(matchers: [matcher], destinations: ["hit"])], defaultDestinations: [])
        let plan = WorkflowPlan([WorkflowConfig(name: "w", trigger: WorkflowTrigger(matchers: [matcher]), steps: [EnricherStep("container_status")])])
        for labels in [[:], ["x": "a"], ["x": "b"], ["x": "["]] as [[String: String]] {
            let routed = !router.destinations(for: issue(labels: labels)).isEmpty
            let triggered = !plan.steps(for: issue(labels: labels)).isEmpty
            #expect(routed == triggered, "\(labels)")
            #expect(routed == (labels["x"].map { $0 != "a" } ?? false), "\(labels)")
        }
    }
}
