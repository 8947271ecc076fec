#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import CanoSDK
import Collector
import Logging
import Testing
import TestSupport

/// `libCanoSlack.so` exactly as shipped, loaded by the host's real loader, talking to the
/// Slack double over loopback; state goes through the host's key-value store over the ABI.
@Suite("Slack plugin (.so) through the host loader")
struct SlackPluginLibraryTests {
    static let curl: Void = HTTPClient.initializeProcess()

    static func plugin() throws -> LoadedPlugin {
        _ = curl
        return try PluginLoader.load(path: try BuildProducts.plugin("CanoSlack"))
    }

    struct Host {
        let logs = LogCapture()
        let store = InMemoryKeyValueStore()
        let metrics = Metrics()
        var services: PluginServices {
            let logs = logs
            return PluginServices(logger: Logger(label: "cano.test") { JSONLogHandler(label: $0, level: .debug, output: .capture(logs)) }, store: store, metrics: metrics)
        }
    }

    /// Creates the destination on a thread of its own: create() calls auth.test, and a
    /// blocking call on Swift's cooperative pool would starve the double's own handlers.
    func destination(_ slack: SlackDouble, host: Host, extra: [String: JSONValue] = [:]) async throws -> PluginDestination {
        var config: [String: JSONValue] = ["token": .string(testToken), "channel": "#alerts", "api_url": .string(slack.apiURL)]
        for (k, v) in extra { config[k] = v }
        let (plugin, json, services) = (try Self.plugin(), try IssueCoding.encode(JSONValue.object(config)), host.services)
        return try await BlockingThread.run {
            Result { () throws(DestinationSetupError) in try PluginDestination(name: "slack-prod", plugin: plugin, config: json, services: services) }
        }.get()
    }

    func context(key: String, reference: [UInt8]? = nil) -> DeliveryContext {
        DeliveryContext(attempt: 1, deadlineUnixMillis: Int64(Date().timeIntervalSince1970 * 1000) + 10_000, deadline: .now + .seconds(10), idempotencyKey: key, reference: reference)
    }

    @Test("descriptor: a Swift destination named slack, built with this toolchain")
    func descriptor() throws {
        let plugin = try Self.plugin()
        #expect(plugin.name == "slack")
        #expect(plugin.kind == .destination)
        #expect(plugin.toolchain == PluginExport.toolchain)
    }

    @Test("fire, restart, fire again, resolve: one thread, the original turns green")
    func lifecycleThroughTheABI() async throws {
        let slack = try await SlackDouble.start(token: testToken)
        defer { slack.stop() }
        let host = Host()

        let first = try await destination(slack, host: host)
        let firing = try IssueCoding.encode(makeIssue(enrichments: SlackRenderingTests.allKinds))
        let fireContext = context(key: "k-fire")
        let fired = await BlockingThread.run { first.deliver(issueJSON: firing, context: fireContext) }
        #expect(fired.status == .delivered, "\(fired.message)")
        let reference = try #require(fired.reference)
        let root = try #require(slack.messages.first)
        #expect(String(decoding: reference, as: UTF8.self) == "C0ALERTS01:\(root.ts)")
        #expect(slack.files.first?.threadTS == root.ts)
        first.shutdown()

        // A host restart: a new instance over the same store; the host passes no reference.
        let second = try await destination(slack, host: host)
        let repeated = try IssueCoding.encode(makeIssue(description: "still failing"))
        let againContext = context(key: "k-again")
        let again = await BlockingThread.run { second.deliver(issueJSON: repeated, context: againContext) }
        #expect(again.status == .delivered, "\(again.message)")
        #expect(slack.messages.last?.threadTS == root.ts)

        let resolution = try IssueCoding.encode(makeIssue(status: .resolved))
        let resolveContext = context(key: "k-resolve", reference: reference)
        let resolved = await BlockingThread.run { second.deliver(issueJSON: resolution, context: resolveContext) }
        #expect(resolved.status == .delivered, "\(resolved.message)")
        #expect(slack.messages.first?.color == "#2EB67D")
        #expect(slack.messages.first?.edits == 1)
        #expect(host.metrics.counter("cano_plugin_messages_posted_total", ["destination": "slack-prod"]) >= 3)
        #expect(host.metrics.counter("cano_plugin_messages_updated_total", ["destination": "slack-prod"]) == 1)
        #expect(host.metrics.counter("cano_plugin_files_uploaded_total", ["destination": "slack-prod"]) == 1)
        #expect(!host.logs.lines.isEmpty)
        #expect(host.logs.lines.allSatisfy { !$0.contains("SECRETsecretSECRET") })
    }

    @Test("rate limit through the ABI: retry_after_ms carries Retry-After")
    func retryAfterThroughTheABI() async throws {
        let slack = try await SlackDouble.start(token: testToken)
        defer { slack.stop() }
        slack.inject(.http429(retryAfter: 9), method: "chat.postMessage")
        let hook = try await destination(slack, host: Host())
        let json = try IssueCoding.encode(makeIssue())
        let callContext = context(key: "k")
        let outcome = await BlockingThread.run { hook.deliver(issueJSON: json, context: callContext) }
        #expect(outcome.status == .retry)
        #expect(outcome.retryAfter == .seconds(9))
    }

    @Test("bytes that are not an Issue: a permanent failure that says so, and nothing posted")
    func undecodableIssueIsPermanent() async throws {
        let slack = try await SlackDouble.start(token: testToken)
        defer { slack.stop() }
        let hook = try await destination(slack, host: Host())
        let callContext = context(key: "k")
        let outcome = await BlockingThread.run { hook.deliver(issueJSON: Array(#"{"not":"an issue"}"#.utf8), context: callContext) }
        #expect(outcome.status == .permanent)
        #expect(outcome.message.hasPrefix("issue JSON does not decode"), "\(outcome.message)")
        #expect(slack.messages.isEmpty)
    }

    @Test("a config with an unknown key is refused by create(), naming the key")
    func configRefused() async throws {
        let slack = try await SlackDouble.start(token: testToken)
        defer { slack.stop() }
        await #expect {
            try await destination(slack, host: Host(), extra: ["channnel": "#x"])
        } throws: { error in
            "\(error)".contains("unknown key \"channnel\"") && !"\(error)".contains("SECRET")
        }
    }
}
