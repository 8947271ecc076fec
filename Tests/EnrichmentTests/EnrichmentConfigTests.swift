@testable import Collector
import CanoSDK
import Testing

@Suite struct EnrichmentConfigTests {
    let base = """
        destinations: [{name: out, type: file, config: {path: "-"}}]
        default_destinations: [out]

        """

    @Test func parsesTheEnrichmentSection() throws {
        let config = try ConfigLoader.parse(base + """
            enrichment:
              default_workflows: false
              enricher_timeout: 1500ms
              issue_budget: 4s
              max_bytes: 65536
              plugins:
                - {name: runbook, type: c-runbook, config: {base_url: "https://wiki"}}
              workflows:
                - name: payments
                  when:
                    source: [kubernetes, prometheus]
                    aggregation_key: OOMKilled|KubePodCrashLooping
                    min_severity: low
                    namespace: payments-.*
                    matchers: ['team="payments"']
                  enrichers:
                    - container_status
                    - pod_logs: {tail_lines: 300, grep: "ERROR|panic"}
                    - {enricher: events, timeout: 1s, max_bytes: 8192, params: {limit: 5}}
                    - runbook
            """).enrichment
        #expect(!config.defaultWorkflows)
        #expect(config.enricherTimeout == .milliseconds(1500))
        #expect(config.issueBudget == .seconds(4))
        #expect(config.maxBytes == 65536)
        #expect(config.plugins == [EnricherPluginConfig(name: "runbook", type: "c-runbook", config: .object(["base_url": .string("https://wiki")]))])
        let w = try #require(config.workflows.first)
        #expect(w.trigger == WorkflowTrigger(sources: ["kubernetes", "prometheus"], aggregationKey: "OOMKilled|KubePodCrashLooping",
                                             minSeverity: .low, namespace: "payments-.*", matchers: [Matcher(field: "team", op: .equal, value: "payments")]))
        #expect(w.steps.map(\.enricher) == ["container_status", "pod_logs", "events", "runbook"])
        #expect(w.steps[1].parameters == .object(["tail_lines": .number(300), "grep": .string("ERROR|panic")]))
        #expect(w.steps[2].timeout == .seconds(1))
        #expect(w.steps[2].maxBytes == 8192)
        #expect(w.steps[2].parameters == .object(["limit": .number(5)]))
        #expect(w.steps[0].location == "19:11")
    }

    @Test func problemsCarryLineAndColumn() throws {
        #expect {
            _ = try ConfigLoader.parse(base + """
                enrichment:
                  issue_budget: 12s
                  workflows:
                    - name: bad
                      when:
                        aggregation_key: "OOM(("
                        min_severity: urgent
                        colour: red
                      enrichers: []
                """)
        } throws: { error in
            let text = "\((error as? ConfigError)?.description ?? "")"
            return text.contains("4:3 enrichment: issue_budget must be under 10s")
                && text.contains("8:26 enrichment.workflows[0].when.aggregation_key: invalid regular expression \"OOM((\"")
                && text.contains("9:23 enrichment.workflows[0].when.min_severity: unknown severity \"urgent\"")
                && text.contains("10:9 enrichment.workflows[0].when.colour: unknown key \"colour\"")
                && text.contains("6:7 enrichment.workflows[0]: workflow \"bad\" needs at least one enricher")
        }
    }

    @Test func theDefaultsNeedNoConfig() throws {
        let config = try ConfigLoader.parse(base).enrichment
        #expect(config.enabled && config.defaultWorkflows)
        #expect(config.issueBudget == .seconds(5))
        let plan = WorkflowPlan(DefaultWorkflows.all)
        // Kubernetes and Helm Issues start with `alert_labels` too: it carries the
        // collector's Silence link (no Alertmanager silences them).
        func steps(_ key: String, source: IssueSource = .kubernetes, kind: String = "Pod") -> [String] {
            var issue = Issues.kubernetes(key, kind: kind, name: "x", namespace: "n", source: source)
            issue.aggregationKey = key
            return plan.steps(for: issue).map(\.step.enricher)
        }
        #expect(steps("OOMKilled") == ["alert_labels", "container_status", "pod_logs", "resources", "events", "owner_chain", "node"])
        #expect(steps("CrashLoopBackOff").contains("pod_logs"))
        #expect(steps("ImagePullBackOff") == ["alert_labels", "container_status", "events", "owner_chain"])
        #expect(steps("BackoffLimitExceeded", kind: "Job").contains("owner_chain"))
        #expect(steps("HelmReleaseFailed", source: .helm, kind: "HelmRelease") == ["alert_labels", "helm_release"])
        #expect(steps("FailedCreateExceededQuota", kind: "ReplicaSet").prefix(2) == ["alert_labels", "resource_quota"])
        for alert in ["KubePodCrashLooping", "KubePodNotReady", "KubeContainerWaiting", "KubeJobFailed"] {
            let s = steps(alert, source: .prometheus)
            #expect(s.first == "alert_labels", "\(alert)")
            #expect(s.contains("container_status") || s.contains("owner_chain"), "\(alert)")
        }
        #expect(steps("Watchdog", source: .prometheus, kind: "") == ["alert_labels"])
    }
}
