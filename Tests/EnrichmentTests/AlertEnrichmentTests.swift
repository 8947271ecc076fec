@testable import Collector
import CanoSDK
import Foundation
import Logging
import Testing
import TestSupport

@Suite struct AlertEnrichmentTests {
    /// The captured kube-prometheus-stack alert names payments/api-7d9f8b6c5-x2x9q, which
    /// no pod fixture is. The cluster side is the real crash-looping pod fixture
    /// (pod-crashloopbackoff.yaml) under the alert's names, as that pod would be listed.
    func cluster() throws -> FixtureKube {
        let kube = FixtureKube()
        var pod = try KubeFixtures.object("pods/pod-crashloopbackoff.yaml")
            .setting(["metadata", "name"], .string("api-7d9f8b6c5-x2x9q"))
            .setting(["metadata", "namespace"], .string("payments"))
        let containers = pod.at("spec", "containers")?.arrayValue?.map { $0.setting(["name"], .string("api")) } ?? []
        let statuses = pod.at("status", "containerStatuses")?.arrayValue?.map { $0.setting(["name"], .string("api")) } ?? []
        pod = pod.setting(["spec", "containers"], .array(containers)).setting(["status", "containerStatuses"], .array(statuses))
        kube.add(pod)
        kube.setLog(namespace: "payments", pod: "api-7d9f8b6c5-x2x9q", container: "api", previous: true,
                    Array("starting api\npanic: DATABASE_URL is not set\n".utf8))
        return kube
    }

    @Test func aKubePodCrashLoopingAlertGetsThePodContext() async throws {
        let kube = try cluster()
        let h = try StageHarness(kube: kube)
        let intake = AlertmanagerIntake(config: CollectorConfig(), sink: h.stage, metrics: h.metrics, logger: Logger(label: "t"))
        let response = await intake.handle(body: try Fixtures.data("alertmanager/am-0.25-captured/firing-crashlooping.json"), authorization: nil)
        #expect(response.status == 200)
        let issue = try #require(h.sink.issues.first)

        // Alert context: labels, annotations, and the three links.
        let alert = try #require(issue.enrichments("alert_labels").first)
        #expect(alert.tables.first?.rows.contains(["pod", "api-7d9f8b6c5-x2x9q"]) == true)
        #expect(alert.tables.last?.rows.contains { $0[0] == "runbook_url" } == true)
        #expect(alert.links.map(\.title) == ["Prometheus query", "Runbook", "Silence"])
        let silence = try #require(alert.links.last?.url)
        #expect(silence.hasPrefix("http://vm:19093/#/silences/new?filter=%7Balertname%3D%22KubePodCrashLooping%22%2Ccluster%3D%22prod-eu-1%22"))
        #expect(silence.removingPercentEncoding?.contains("pod=\"api-7d9f8b6c5-x2x9q\"") == true)

        // The same pod context as a crash loop the collector detected itself.
        let status = try #require(issue.enrichments("container_status").first?.tables.first)
        #expect(status.rows.first?[0...4] == ["api", "waiting: CrashLoopBackOff — Back-off 40s restarting failed container=main pod=my-pod_argocd(63674389-f613-11e8-a057-fe5f49266390)", "Error", "1", "2018-12-02T09:20:25Z"])
        let logs = try #require(issue.enrichments("pod_logs").first)
        #expect(logs.title == "Logs of api (previous container)")
        #expect(logs.markdown.first?.contains("panic: DATABASE_URL is not set") == true)
        // A waiting container has no current log: it is not asked for.
        #expect(!kube.requests.contains { $0.contains("/log?") && !$0.contains("previous=true") })
        #expect(issue.enrichments("events").first?.markdown.first?.contains("no recent events") == true)
    }

    @Test func theKubeSphereCrashLoopAlertMapsToItsPod() async throws {
        let kube = FixtureKube()
        let h = try StageHarness(kube: kube)
        let intake = AlertmanagerIntake(config: CollectorConfig(), sink: h.stage, metrics: h.metrics, logger: Logger(label: "t"))
        _ = await intake.handle(body: try Fixtures.data("alertmanager/kubesphere-kubepodcrashlooping.json"), authorization: nil)
        let issue = try #require(h.sink.issues.first)
        // The pod is not in this cluster: a short note, and the Issue is still delivered.
        #expect(issue.enrichments("container_status").first?.markdown == ["_container status: Pod pp1/dd1-0 not found_"])
        #expect(kube.requests.contains("/api/v1/namespaces/pp1/pods/dd1-0"))
        #expect(issue.enrichments("alert_labels").first?.links.last?.url.hasPrefix("http://alertmanager-main-2:9093/#/silences/new?filter=") == true)
    }

    @Test func aKubeJobFailedAlertTargetsTheJob() throws {
        let body = try Fixtures.data("alertmanager/kubesphere-kubejobfailed.json")
        let webhook = try IssueCoding.decode(AlertmanagerWebhook.self, from: body)
        let alert = try IssueCoding.decode(AlertmanagerAlert.self, from: IssueCoding.encode(webhook.alerts[0]))
        let issue = try AlertMapper(config: AlertmanagerConfig(), cluster: nil).map(alert, externalURL: webhook.externalURL)
        let target = try #require(KubeTarget.of(issue))
        #expect(target.kind == "Job")
        #expect(target.name == alert.labels["job_name"])
    }
}
