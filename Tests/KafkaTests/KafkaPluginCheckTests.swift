import Foundation
import CanoSDK
import Collector
import Logging
import Testing
import TestSupport

/// `libCanoKafka.so` exactly as shipped, through the host's loader and `plugins check`.
/// The check's capture server speaks HTTP, which a Kafka producer cannot use; the check
/// runs against a mock cluster instead, and its HTTP outcome probes report as skipped
/// (INFO) because the config has no `{{capture_url}}`.
@Suite struct KafkaPluginCheckTests {
    let logger = Logger(label: "check", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func descriptor() async throws {
        let path = try BuildProducts.plugin("CanoKafka")
        let plugin = try await BlockingThread.run { () throws -> LoadedPlugin in try PluginLoader.load(path: path) }
        #expect(plugin.name == "kafka")
        #expect(plugin.kind == .destination)
        #expect(plugin.toolchain == PluginExport.toolchain)
        #expect(!plugin.isReentrant, "one producer, one awaited delivery report at a time")
        #expect(Set(plugin.pathKeys) == ["ssl_ca_file", "ssl_certificate_file", "ssl_key_file"])
    }

    /// Load, descriptor, create (validate-only and real), firing and resolved deliveries
    /// all pass against the mock cluster, and both records are on the topic.
    @Test func pluginsCheckPassesAgainstAMockCluster() async throws {
        let mock = try await MockCluster.start()
        mock.createTopic("alerts")
        let report = await PluginConformance.run(
            path: try BuildProducts.plugin("CanoKafka"),
            configJSON: #"{"brokers":"\#(mock.bootstraps)","topic":"alerts"}"#, timeout: .seconds(20), logger: logger)
        #expect(report.passed, "\(report.text)")
        for name in ["load", "descriptor", "create", "deliver firing", "deliver resolved", "destroy"] {
            #expect(report.checks.first { $0.name == name }?.verdict == .pass, "\(name): \(report.text)")
        }
        #expect(report.checks.first { $0.name == "outcome mapping" }?.verdict == .info, "\(report.text)")
        #expect(report.checks.first { $0.name == "reference" }?.detail.contains("alerts/") == true, "\(report.text)")
        let records = try await mock.records(topic: "alerts", count: 2)
        #expect(records.count == 2)
        #expect(Set(records.compactMap(\.key)).count == 1, "the firing and the resolve share the fingerprint key")
        #expect(Set(records.compactMap { $0.headers["cano-status"] }) == ["firing", "resolved"])
        await mock.stop()
    }

    /// With `sasl_password_file` the host reads the password and the check registers it as
    /// a secret. The mock cluster speaks no SASL, so the deliveries fail (retry), which is
    /// the point: even the failure messages and librdkafka's logs never carry it.
    @Test func thePasswordFromAFileNeverShows() async throws {
        let password = "kafka-S3cret-pa55word-0042"
        let directory = try TemporaryDirectory(prefix: "cano-kafka-check")
        defer { directory.remove() }
        let file = directory.file("password")
        try (password + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let mock = try await MockCluster.start()
        mock.createTopic("alerts")
        let report = await PluginConformance.run(
            path: try BuildProducts.plugin("CanoKafka"),
            configJSON: #"{"brokers":"\#(mock.bootstraps)","topic":"alerts","security_protocol":"sasl_plaintext","#
                + #""sasl_username":"cano","sasl_password_file":"\#(file)","message_timeout":"1s"}"#,
            timeout: .seconds(3), logger: logger)
        #expect(report.checks.first { $0.name == "create" }?.verdict == .pass, "\(report.text)")
        #expect(report.checks.first { $0.name == "secrets" }?.verdict == .pass, "\(report.text)")
        #expect(report.checks.first { $0.name == "deliver firing" }?.verdict == .fail, "no SASL on the mock: \(report.text)")
        #expect(!report.text.contains(password))
        await mock.stop()
    }
}
