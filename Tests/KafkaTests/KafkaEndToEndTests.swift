import CanoSDK
import Foundation
import TestSupport
import Testing

/// The whole product on loopback for Kafka: a real Alertmanager posts to the real
/// `cano-collector` binary, which loads `libCanoKafka.so` and produces to librdkafka's
/// mock cluster running in this test process. A librdkafka consumer reads the firing and
/// the resolve back: same key, same partition, in order, the Issue JSON as the value.
/// (In this target rather than EndToEndTests: it links librdkafka for the mock.)
@Suite(.serialized) struct KafkaEndToEndTests {
    @Test func alertmanagerFiringAndResolveLandOnTheTopicInOrder() async throws {
        let kafka = try await MockCluster.start()
        kafka.createTopic("alerts", partitions: 4)
        let workspace = try EndToEndWorkspace(plugins: ["CanoKafka"])
        defer { workspace.remove() }
        let collector = try await CollectorProcess(configYAML: """
            \(workspace.configHead)
            destinations:
              - name: bus
                type: kafka
                config: {brokers: "\(kafka.bootstraps)", topic: alerts}
            default_destinations: [bus]
            """, directory: workspace.directory)
        defer { collector.stop() }
        let am = try await workspace.alertmanager(for: collector)
        defer { am.stop() }
        try am.post(alerts: [SampleAlert.firing])
        let first = try await kafka.records(topic: "alerts", count: 1, timeout: .seconds(30))
        let firingRecord = try #require(first.first, "the firing record reached the topic; collector log:\n\(collector.log)")
        let firing = try IssueCoding.decode(CanoSDK.Issue.self, from: firingRecord.value)
        try await IssueSchema.validate([firingRecord.value])
        #expect(firing.status == .firing)
        #expect(firing.title == "KubePodCrashLooping")
        #expect(firing.subject.labels["pod"] == "cart-7d9f-x2")
        #expect(firingRecord.key == firing.fingerprint, "the key is the fingerprint")

        var resolvedAlert = SampleAlert.resolved
        resolvedAlert["startsAt"] = .string(RFC3339.format(firing.startsAt))
        try am.post(alerts: [resolvedAlert])
        let both = try await kafka.records(topic: "alerts", count: 2, timeout: .seconds(30))
        try #require(both.count == 2, "the resolve reached the topic; collector log:\n\(collector.log)")
        let resolveRecord = both[1]
        let resolved = try IssueCoding.decode(CanoSDK.Issue.self, from: resolveRecord.value)
        #expect(resolved.status == .resolved)
        #expect(resolved.fingerprint == firing.fingerprint)
        #expect(resolveRecord.key == firingRecord.key)
        #expect(resolveRecord.partition == firingRecord.partition, "one key, one partition")
        #expect(resolveRecord.offset > firingRecord.offset, "the resolve follows the firing")

        try await waitUntil("both deliveries counted", timeout: .seconds(10)) {
            try collector.get("/metrics").text.contains(#"cano_deliveries_total{destination="bus",result="delivered"} 2"#)
        }
        #expect(!collector.log.contains(EndToEndWorkspace.intakeToken))
        collector.stop()
        await kafka.stop()
    }

    /// A burst of 200 Issues while the broker is down loses nothing and duplicates nothing:
    /// each delivery is RETRY until its record is acknowledged, the host's outbox keeps it,
    /// and once the broker is back every fingerprint lands exactly once.
    @Test func aBurstThroughABrokerOutageLosesNothing() async throws {
        let kafka = try await MockCluster.start()
        kafka.createTopic("alerts", partitions: 4)
        let workspace = try EndToEndWorkspace(plugins: ["CanoKafka"])
        defer { workspace.remove() }
        let collector = try await CollectorProcess(configYAML: """
            \(workspace.configHead)
            destinations:
              - name: bus
                type: kafka
                config: {brokers: "\(kafka.bootstraps)", topic: alerts, message_timeout: 2s}
                delivery: {initial_backoff: 100ms, max_backoff: 1s}
            default_destinations: [bus]
            """, directory: workspace.directory)
        defer { collector.stop() }
        kafka.setBroker(1, up: false)
        let fingerprints = (0..<200).map { String(format: "%016x", 0xB0_0000 + $0) }
        for batch in stride(from: 0, to: 200, by: 50) {
            let response = try collector.postAlerts(WebhookBody.firing(alertname: "KafkaBurst", fingerprints: Array(fingerprints[batch..<batch + 50])),
                                                    headers: [HTTPHeader(name: "Authorization", value: "Bearer " + EndToEndWorkspace.intakeToken)])
            #expect(response.status == 200)
        }
        // The outage is seen: deliveries fail and are kept for retry.
        try await waitUntil("deliveries retried while the broker is down", timeout: .seconds(30)) {
            let metrics = try collector.get("/metrics").text
            return metrics.contains(#"cano_deliveries_total{destination="bus",result="retry"}"#)
        }
        kafka.setBroker(1, up: true)
        try await waitUntil("all 200 delivered once the broker is back", timeout: .seconds(90)) {
            try collector.get("/metrics").text.contains(#"cano_deliveries_total{destination="bus",result="delivered"} 200"#)
        }
        // One more than expected, briefly: a duplicate would show up as the 201st record.
        let records = try await kafka.records(topic: "alerts", count: 201, timeout: .seconds(3))
        #expect(records.count == 200, "exactly one record per alert, got \(records.count)")
        let keys = Set(records.compactMap(\.key))
        #expect(keys.count == 200, "every fingerprint once")
        let metrics = try collector.get("/metrics").text
        #expect(!metrics.contains(#"cano_dead_letters_total{destination="bus"}"#) || metrics.contains(#"cano_dead_letters_total{destination="bus"} 0"#),
                "nothing dead-lettered")
        #expect(!metrics.contains(#"cano_deliveries_total{destination="bus",result="permanent"}"#), "nothing permanent")
        collector.stop()
        await kafka.stop()
    }
}
