import CanoSDK
import Collector
import Crypto
import Foundation
import Testing
import TestSupport

/// The webhook plugin exactly as shipped: `libCanoWebhook.so`, loaded with the real loader
/// and delivering over loopback HTTP to a receiver double.
@Suite("Webhook plugin (.so)")
struct WebhookPluginTests {
    static func plugin() throws -> LoadedPlugin {
        _ = ProcessSetup.curl
        return try PluginLoader.load(path: try BuildProducts.plugin("CanoWebhook"))
    }

    private func destination(_ config: [String: JSONValue], services: PluginServices = TestServices().services) throws -> PluginDestination {
        try PluginDestination(name: "hook", plugin: try Self.plugin(), config: try IssueCoding.encode(JSONValue.object(config)), services: services)
    }

    @Test func descriptor() throws {
        let plugin = try Self.plugin()
        #expect(plugin.name == "webhook")
        #expect(plugin.kind == .destination)
        #expect(plugin.toolchain == PluginExport.toolchain)
    }

    @Test func postsTheIssueJSONSignedWithIdempotencyKeyAndHeaders() async throws {
        let receiver = try await ReceiverDouble.start()
        defer { stopLater { await receiver.stop() } }
        let hook = try destination([
            "url": .string(receiver.url("/hooks/alerts?team=ops")),
            "headers": .object(["Authorization": .string("Bearer t0ken"), "X-Team": .string("ops")]),
            "hmac_secret": .string("s3cret"),
        ])
        let json = try Samples.json(Samples.issue())
        let outcome = await hook.deliverOnThread(json, Samples.context(key: "hook:fp-1:firing:2026"))
        #expect(outcome.status == .delivered)
        #expect(outcome.message.contains("HTTP 200"))

        let request = try #require(receiver.requests.first)
        #expect(request.method == "POST")
        #expect(request.target == "/hooks/alerts?team=ops")
        #expect(request.body == json, "the Issue JSON exactly as the host sent it")
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("Idempotency-Key") == "hook:fp-1:firing:2026")
        #expect(request.header("Authorization") == "Bearer t0ken")
        #expect(request.header("X-Team") == "ops")
        let expected = HMAC<SHA256>.authenticationCode(for: json, using: SymmetricKey(data: Array("s3cret".utf8)))
            .map { String(format: "%02x", $0) }.joined()
        #expect(request.header("X-Cano-Signature") == "sha256=" + expected)
    }

    /// A ForwardingDestination: the SDK passes the host's bytes through without decoding
    /// them (one JSONDecoder pass saved per call), so bytes that are not an Issue at all
    /// still go out untouched. A destination that decodes would answer "issue JSON does not
    /// decode" (the Slack plugin's test of the same bytes).
    @Test func forwardsTheBytesWithoutDecodingThem() async throws {
        let receiver = try await ReceiverDouble.start()
        defer { stopLater { await receiver.stop() } }
        let hook = try destination(["url": .string(receiver.url())])
        let notAnIssue = Array(#"{"not":"an issue"}"#.utf8)
        let outcome = await hook.deliverOnThread(notAnIssue, Samples.context())
        #expect(outcome.status == .delivered, "\(outcome.message)")
        #expect(receiver.requests.first?.body == notAnIssue)
    }

    @Test func customSignatureHeader() async throws {
        let receiver = try await ReceiverDouble.start()
        defer { stopLater { await receiver.stop() } }
        let hook = try destination(["url": .string(receiver.url()), "hmac_secret": .string("k"), "signature_header": .string("X-Hub-Signature-256")])
        #expect(await hook.deliverOnThread(try Samples.json(Samples.issue()), Samples.context()).status == .delivered)
        let request = try #require(receiver.requests.first)
        #expect(request.header("X-Hub-Signature-256")?.hasPrefix("sha256=") == true)
        #expect(request.header("X-Cano-Signature") == nil)
    }

    @Test(arguments: [
        (200, DeliveryOutcome.Status.delivered), (202, .delivered), (204, .delivered),
        (400, .permanent), (401, .permanent), (404, .permanent), (422, .permanent),
        (408, .retry), (429, .retry), (500, .retry), (502, .retry), (503, .retry),
    ])
    func classifiesStatuses(status: Int, expected: DeliveryOutcome.Status) async throws {
        let receiver = try await ReceiverDouble.start()
        defer { stopLater { await receiver.stop() } }
        receiver.enqueue(.init(status: status))
        let hook = try destination(["url": .string(receiver.url())])
        let outcome = await hook.deliverOnThread(try Samples.json(Samples.issue()), Samples.context())
        #expect(outcome.status == expected)
        #expect(outcome.message.contains("HTTP \(status)"))
    }

    @Test func honoursRetryAfterOn429And503() async throws {
        let receiver = try await ReceiverDouble.start()
        defer { stopLater { await receiver.stop() } }
        receiver.enqueue(.init(status: 429, headers: [("Retry-After", "7")]), .init(status: 503, headers: [("Retry-After", "0.5")]), .init(status: 503))
        let hook = try destination(["url": .string(receiver.url())])
        let json = try Samples.json(Samples.issue())
        let limited = await hook.deliverOnThread(json, Samples.context())
        #expect(limited.status == .retry)
        #expect(limited.retryAfter == .seconds(7))
        let unavailable = await hook.deliverOnThread(json, Samples.context(attempt: 2))
        #expect(unavailable.retryAfter == .milliseconds(500))
        let noHint = await hook.deliverOnThread(json, Samples.context(attempt: 3))
        #expect(noHint.status == .retry)
        #expect(noHint.retryAfter == nil)
    }

    @Test func timeoutIsARetry() async throws {
        let receiver = try await ReceiverDouble.start()
        defer { stopLater { await receiver.stop() } }
        receiver.enqueue(.init(status: 200, delay: .seconds(5)))
        let hook = try destination(["url": .string(receiver.url()), "timeout": .string("200ms")])
        let outcome = await hook.deliverOnThread(try Samples.json(Samples.issue()), Samples.context())
        #expect(outcome.status == .retry)
        #expect(outcome.message.contains("timeout"))
    }

    @Test func callDeadlineBoundsTheRequest() async throws {
        let receiver = try await ReceiverDouble.start()
        defer { stopLater { await receiver.stop() } }
        receiver.enqueue(.init(status: 200, delay: .seconds(5)))
        let hook = try destination(["url": .string(receiver.url()), "timeout": .string("30s")])
        let outcome = await hook.deliverOnThread(try Samples.json(Samples.issue()), Samples.context(timeout: .milliseconds(300)))
        #expect(outcome.status == .retry)
        #expect(outcome.message.contains("timeout"))
    }

    @Test func connectionRefusedIsARetry() async throws {
        let gone = try await CaptureServer.start()
        let url = gone.baseURL + "/hook"
        await gone.stop()
        let hook = try destination(["url": .string(url)])
        let outcome = await hook.deliverOnThread(try Samples.json(Samples.issue()), Samples.context())
        #expect(outcome.status == .retry)
        #expect(outcome.message.contains("connectionFailed"))
    }

    @Test func httpsWithTheConfiguredCA() async throws {
        let certificate = try TestCertificate.make()
        let receiver = try await ReceiverDouble.start(tls: certificate)
        defer { stopLater { await receiver.stop() } }
        #expect(receiver.url().hasPrefix("https://127.0.0.1:"))
        let json = try Samples.json(Samples.issue())

        let trusting = try destination(["url": .string(receiver.url()), "ca": .string(certificate.certificatePEM)])
        let delivered = await trusting.deliverOnThread(json, Samples.context())
        #expect(delivered.status == .delivered, "\(delivered.message)")
        #expect(receiver.requests.first?.body == json)

        // Without the CA the system trust store does not know the receiver: a TLS failure,
        // retried (a certificate rotation may fix it), and nothing reached the receiver.
        let untrusting = try destination(["url": .string(receiver.url())])
        let refused = await untrusting.deliverOnThread(json, Samples.context())
        #expect(refused.status == .retry)
        #expect(refused.message.contains("tls"), "\(refused.message)")
        #expect(receiver.requests.count == 1)

        let skipping = try destination(["url": .string(receiver.url()), "insecure_skip_verify": .bool(true)])
        #expect(await skipping.deliverOnThread(json, Samples.context()).status == .delivered)
    }

    @Test func configErrorsNameTheKey() throws {
        func createError(_ config: [String: JSONValue]) -> String? {
            do {
                _ = try destination(config)
                return nil
            } catch let error as DestinationSetupError {
                #expect(error.code == .createFailed)
                return error.reason
            } catch {
                return "\(error)"
            }
        }
        #expect(createError([:])?.contains("missing required key \"url\"") == true)
        #expect(createError(["url": .string("http://example.test"), "retries": .number(3)])?.contains("unknown config key \"retries\"") == true)
        #expect(createError(["url": .number(1)])?.contains("key \"url\": expected a string") == true)
        #expect(createError(["url": .string("ftp://example.test/x")])?.contains("key \"url\"") == true)
        #expect(createError(["url": .string("http://example.test"), "timeout": .string("soon")])?.contains("key \"timeout\"") == true)
        #expect(createError(["url": .string("http://example.test"), "headers": .object(["X": .number(1)])])?.contains("headers.X") == true)
        #expect(createError(["url": .string("http://example.test"), "signature_header": .string("X-Sig")])?.contains("hmac_secret") == true)
        #expect(createError(["url": .string("http://example.test"), "ca": .string("/etc/ssl/ca.pem")])?.contains("key \"ca\"") == true)
        #expect(createError(["url": .string("http://example.test"), "ca_file": .string("/etc/ssl/ca.pem")])?.contains("unknown config key \"ca_file\"") == true,
                "the host resolves *_file keys before create(); one reaching the plugin is a mistake")
    }

    /// Webhook URLs carry keys in their path and query, and the HMAC secret and header
    /// values are credentials: none may appear in a log line, an error or a metric.
    @Test func secretsNeverLeak() async throws {
        let secrets = ["PATHKEY0123", "QUERYKEY4567", "HMACKEY89AB", "TOKENCDEF"]
        let test = TestServices()
        let receiver = try await ReceiverDouble.start()
        defer { stopLater { await receiver.stop() } }
        let url = receiver.url("/hooks/PATHKEY0123?token=QUERYKEY4567")
        let config: [String: JSONValue] = [
            "url": .string(url), "hmac_secret": .string("HMACKEY89AB"),
            "headers": .object(["Authorization": .string("Bearer TOKENCDEF")]), "timeout": .string("200ms"),
        ]
        let hook = try destination(config, services: test.services)
        var texts: [String] = []
        receiver.enqueue(.init(status: 200), .init(status: 400), .init(status: 503), .init(status: 200, delay: .seconds(3)))
        for attempt in 1...4 {
            let outcome = await hook.deliverOnThread(try Samples.json(Samples.issue()), Samples.context(attempt: attempt))
            texts.append(outcome.message)
        }
        // Connection refused, then invalid configs that contain the secrets.
        let gone = try await CaptureServer.start()
        let goneURL = gone.baseURL + "/hooks/PATHKEY0123?token=QUERYKEY4567"
        await gone.stop()
        var refused = config
        refused["url"] = .string(goneURL)
        texts.append(await (try destination(refused, services: test.services)).deliverOnThread(try Samples.json(Samples.issue()), Samples.context()).message)
        for bad in [["url": .string("htp:/PATHKEY0123?QUERYKEY4567")], ["url": .string("http://h/PATHKEY0123 x")],
                    ["url": .string(url), "hmac_secret": .string("HMACKEY89AB"), "bogus": .string("TOKENCDEF")]] as [[String: JSONValue]] {
            do { _ = try destination(bad, services: test.services) } catch { texts.append("\(error)") }
        }
        var catalog = PluginCatalog()
        catalog.add(try BuildProducts.plugin("CanoWebhook"))
        let set = DestinationFactory(catalog: catalog, services: test.services)
            .make([DestinationConfig(name: "leaky", type: "webhook", config: .object(["url": .string("nope PATHKEY0123")]))])
        texts += set.failures.map(\.description)

        #expect(texts.count == 9)
        let everything = texts + test.logs.lines + [test.metrics.render()]
        #expect(test.logs.lines.contains { $0.contains("webhook delivery failed") }, "failures were logged")
        for secret in secrets {
            let leaks = everything.filter { $0.contains(secret) }
            #expect(leaks.isEmpty, "\(secret) leaked in: \(leaks)")
        }
        #expect(texts.contains { $0.contains(receiver.server.baseURL) }, "messages still name the origin")
    }
}
