import CanoSDK
import Foundation
import PluginABI
import Synchronization

/// Renders Issues as destinations would send them, sending nothing: each destination's
/// plugin renders through its ABI v1.3 `render()`, on an instance of the console's own
/// created with `CANO_CREATE_VALIDATE_ONLY` (no credential check, no I/O), never the one
/// that delivers. Instances are made on first use and kept.
public final class Previewer: Sendable {
    private let factory: DestinationFactory
    private let configs: [String: DestinationConfig]
    /// Instances by destination name, made once: an instance, nil when there is nothing to
    /// render with (a built-in, no render(), an isolated plugin), or why creating it failed.
    private let instances = Mutex<[String: Result<PluginInstance?, DestinationSetupError>]>([:])

    /// Previews running at once; more are refused (429), so readers cannot pile work (each
    /// runs enrichment and every destination's render) onto the collector.
    static let concurrency = 2
    private let running = Mutex(0)

    /// Takes a preview slot, or false when all are taken; ``leave()`` gives it back.
    func admit() -> Bool {
        running.withLock { count in
            guard count < Self.concurrency else { return false }
            count += 1
            return true
        }
    }

    func leave() { running.withLock { $0 -= 1 } }

    /// The destination a preview shows Slack with when no routed destination is Slack:
    /// "what Slack would show" needs no Slack credentials.
    static let slackExample = DestinationConfig(
        name: "slack (example)", type: "slack",
        config: .object(["token": .string("xoxb-preview-only"), "channel": .string("#alerts"), "check_token": .bool(false)]),
        delivery: DeliveryPolicy())

    public init(factory: DestinationFactory, destinations: [DestinationConfig]) {
        self.factory = factory
        self.configs = Dictionary(destinations.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// `issue` as each of `destinations` would send it, and as Slack would show it when
    /// none of them is Slack and the Slack plugin is loaded.
    func renders(_ issue: Issue, destinations: [String]) async -> [MessagePreview] {
        var renders: [MessagePreview] = []
        for name in Array(Set(destinations)).sorted() { renders.append(await render(issue, destination: name)) }
        if !renders.contains(where: \.isSlack), let slack = await renderAsSlack(issue) { renders.append(slack) }
        return renders
    }

    /// `issue` as `destination` would send it.
    private func render(_ issue: Issue, destination: String) async -> MessagePreview {
        guard let config = configs[destination] else {
            return MessagePreview(destination: destination, heading: destination, summary: "not configured", html: "", payload: nil, builderURL: nil, isSlack: false)
        }
        return await render(issue, config: config)
    }

    /// `issue` as a Slack destination would show it, when the Slack plugin is loaded.
    private func renderAsSlack(_ issue: Issue) async -> MessagePreview? {
        guard factory.catalog.plugin(named: "slack") != nil else { return nil }
        var render = await render(issue, config: Self.slackExample)
        render.heading = "How Slack would show it"
        return render
    }

    private func render(_ issue: Issue, config: DestinationConfig) async -> MessagePreview {
        var render = MessagePreview(destination: config.name, heading: "\(config.name) (\(config.type))", summary: "", html: "",
                                    payload: nil, builderURL: nil, isSlack: config.type == "slack")
        guard let json = try? IssueCoding.encode(issue) else {
            render.html = "<p class=\"muted\">The Issue does not encode as JSON.</p>"
            return render
        }
        let result = await BlockingThread.run(name: "cano-preview") { () -> Result<PluginCallResult?, DestinationSetupError> in
            self.instance(for: config).map { $0?.render(issueJSON: json) }
        }
        switch result {
        case .failure(let error):
            render.html = "<p class=\"muted\">No preview: \(HTML.escape(error.reason))</p>"
        case .success(nil):
            // A built-in, a plugin without render(), or one isolated in a child process: the
            // Issue JSON is what its plugin receives.
            render.summary = "this destination cannot render a preview; it receives the Issue JSON"
            render.payload = shown(String(decoding: json, as: UTF8.self))
        case .success(let call?):
            guard call.status == Int32(CANO_STATUS_OK.rawValue), let body = call.payload else {
                render.html = "<p class=\"muted\">The plugin could not render it: \(HTML.escape(call.message))</p>"
                return render
            }
            render.summary = shown(call.message)
            let value = (try? IssueCoding.decode(JSONValue.self, from: body))
            render.payload = shown(value.map(HTML.pretty) ?? String(decoding: body, as: UTF8.self))
            if render.isSlack, let value {
                // The root message, then its thread replies, each as Slack draws it.
                let messages = value.arrayValue ?? [value]
                render.html = messages.enumerated().map { index, message in
                    (index == 0 ? "" : "<p class=\"muted\">Thread reply \(index)</p>") + HTML.slackMessage(message)
                }.joined()
                render.builderURL = messages.first.flatMap(Self.blockKitBuilderURL)
            }
        }
        return render
    }

    private func instance(for config: DestinationConfig) -> Result<PluginInstance?, DestinationSetupError> {
        if let made = instances.withLock({ $0[config.name] }) { return made }
        let made: Result<PluginInstance?, DestinationSetupError> = Result { () throws(DestinationSetupError) in try factory.previewInstance(config) }
        return instances.withLock { existing in
            if let first = existing[config.name] { return first }  // another request made one meanwhile: keep that
            existing[config.name] = made
            return made
        }
    }

    /// Slack's Block Kit Builder with this message's blocks loaded (the builder reads a
    /// `{"attachments": […]}` or `{"blocks": […]}` payload from the URL's fragment).
    static func blockKitBuilderURL(_ body: JSONValue) -> String? {
        var payload: [String: JSONValue] = [:]
        if let attachments = body["attachments"] { payload["attachments"] = attachments }
        if let blocks = body["blocks"] { payload["blocks"] = blocks }
        guard !payload.isEmpty, let bytes = try? IssueCoding.encode(JSONValue.object(payload)) else { return nil }
        return "https://app.slack.com/block-kit-builder#" + PercentEncoding.encode(String(decoding: bytes, as: UTF8.self))
    }
}
