import CanoSDK
import Collector
import Foundation
import Testing
import TestSupport

/// ABI v1.3 `render`: a destination shows what it would send, sending nothing, for the
/// console's preview. An older plugin, whatever bytes follow its descriptor, is never asked;
/// the host renders only on an instance of its own created validate-only, and never runs
/// the code of a plugin isolated in a child process inside its own process.
@Suite("Plugin render (ABI v1.3)", .serialized)
struct RenderTests {
    /// A C render that answers with the create flags it saw and the Issue's size, so the
    /// test reads both what the host created and what it passed.
    static let renderingPlugin = """
        #include "fixture.h"
        #include <stdio.h>
        static uint64_t seen_flags;
        static void create(cano_bytes config, const cano_host_services *host, void **out, cano_result *result) {
            (void)config;
            seen_flags = host->create_flags;
            *out = &fixture_instance_token;
            result->status = CANO_STATUS_OK;
        }
        static void render(void *instance, cano_bytes issue, cano_result *result) {
            (void)instance;
            char text[96];
            snprintf(text, sizeof text, "{\\"flags\\":%llu,\\"bytes\\":%zu}", (unsigned long long)seen_flags, issue.len);
            result->status = CANO_STATUS_OK;
            result->payload = fixture_string(text);
            result->message = fixture_string("POST to the example");
        }
        static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("renders"), .create = create, .render = render};
        EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
        """

    @Test func aV13PluginRendersOnAValidateOnlyInstance() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-render")
        defer { dir.remove() }
        let plugin = try PluginLoader.load(path: try await DescriptorFixtures.compile(Self.renderingPlugin, as: "renders", in: dir))
        #expect(plugin.canRender)
        let factory = DescriptorFixtures.factory(plugin)
        let instance = try #require(try factory.previewInstance(DestinationConfig(name: "preview", type: "renders")))
        let issue = Array(#"{"title":"x"}"#.utf8)
        let result = try #require(instance.render(issueJSON: issue))
        #expect(result.message == "POST to the example")
        #expect(result.payload.map { String(decoding: $0, as: UTF8.self) } == #"{"flags":1,"bytes":13}"#,
                "created with CANO_CREATE_VALIDATE_ONLY, handed the Issue")

        var isolated = DestinationConfig(name: "isolated", type: "renders")
        isolated.isolation = .process
        #expect(try factory.previewInstance(isolated) == nil, "an isolated plugin's code never runs in the host")
        #expect(try factory.previewInstance(DestinationConfig(name: "out", type: FileDestination.typeName)) == nil)
    }

    /// Minor 2 with the full struct and a render pointer set: that is the plugin's own
    /// data, not a render, and it is never called.
    @Test func anOlderMinorIsNeverAskedToRender() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-render")
        defer { dir.remove() }
        let source = Self.renderingPlugin.replacingOccurrences(of: ".render = render}", with: ".render = render, .abi_minor = 2}")
        let plugin = try PluginLoader.load(path: try await DescriptorFixtures.compile(source, as: "old", in: dir))
        #expect(plugin.abiMinor == 2 && !plugin.canRender)
        #expect(try DescriptorFixtures.factory(plugin).previewInstance(DestinationConfig(name: "old", type: "renders")) == nil)
    }

    /// The shipped plugins that render: Slack (its root message) and Webhook (the Issue
    /// JSON itself), with nothing of a secret in the summary.
    @Test func slackAndWebhookRenderWithoutSecrets() async throws {
        let webhook = try PluginLoader.load(path: try BuildProducts.plugin("CanoWebhook"))
        let slack = try PluginLoader.load(path: try BuildProducts.plugin("CanoSlack"))
        let pagerDuty = try PluginLoader.load(path: try BuildProducts.plugin("CanoPagerDuty"))
        #expect(webhook.canRender && slack.canRender && !pagerDuty.canRender)

        let issue = CanoSDK.Issue(type: .alert, source: .prometheus, severity: .high, status: .firing, title: "KubePodCrashLooping",
                                  aggregationKey: "KubePodCrashLooping", fingerprint: "fp1",
                                  subject: Subject(kind: "Pod", name: "api-0", namespace: "payments"), startsAt: Date(timeIntervalSince1970: 1_790_000_000))
        let json = try IssueCoding.encode(issue)
        var catalog = PluginCatalog()
        catalog.add(webhook.path)
        catalog.add(slack.path)
        let factory = DestinationFactory(catalog: catalog, services: TestServices().services)

        let hook = try #require(try factory.previewInstance(DestinationConfig(
            name: "hook", type: "webhook", config: ["url": "https://hooks.example/path?token=render-secret-1", "hmac_secret": "render-secret-2"])))
        let hookResult = try #require(hook.render(issueJSON: json))
        #expect(hookResult.message == "POST to https://hooks.example")
        #expect(try IssueCoding.decode(JSONValue.self, from: hookResult.payload ?? []) == IssueCoding.decode(JSONValue.self, from: json),
                "the webhook sends the Issue JSON itself")

        let chat = try #require(try factory.previewInstance(DestinationConfig(
            name: "chat", type: "slack", config: ["token": "xoxb-render-secret-3", "channel": "#alerts"])))
        let slackResult = try #require(chat.render(issueJSON: json))
        #expect(slackResult.message == "chat.postMessage to #alerts")
        let bodies = try #require(try IssueCoding.decode(JSONValue.self, from: slackResult.payload ?? []).arrayValue)
        #expect(bodies.first?["channel"]?.stringValue == "#alerts")
        #expect(bodies.first?["attachments"]?.arrayValue?.first?["blocks"]?.arrayValue?.isEmpty == false)
        for result in [hookResult, slackResult] {
            let text = result.message + String(decoding: result.payload ?? [], as: UTF8.self)
            #expect(!text.contains("render-secret"))
        }
    }

}
