import CanoSDK
import Foundation
import TestSupport
import Testing

/// The web console through the real binary's HTTP server, with the Slack plugin talking to
/// the Slack double and a webhook whose receiver refuses everything (a dead letter): the
/// auth matrix, CSRF, that no secret reaches any page, that alert text cannot inject markup,
/// and that the preview renders the very message the Slack plugin posts.
/// (ConsoleBrowserTests drives the same pages in a real Chromium.)
@Suite(.serialized) struct ConsoleTests {
    static let intakeToken = "console-intake-secret-5d1e"
    static let adminToken = "console-admin-secret-a7c4"
    static let viewerPassword = "console-viewer-secret-0b9f"
    static let slackToken = "xoxb-console-0000-SLACKconsoleTOKEN"
    static let hookQueryToken = "hookquerysecret93f1"
    static let hmacSecret = "console-hmac-secret-66aa"
    static var secrets: [String] { [intakeToken, adminToken, viewerPassword, slackToken, hookQueryToken, hmacSecret] }

    /// Basic credentials of the console's reader.
    static let viewer = "Basic " + Data("viewer:\(viewerPassword)".utf8).base64EncodedString()

    struct Browser: Sendable {
        let port: Int
        var origin: String { "http://127.0.0.1:\(port)" }

        /// One request as a browser on the console's own page sends it (Origin, form body).
        func call(_ method: String, _ path: String, auth: String? = ConsoleTests.viewer, cookie: String? = nil, form: [String: String]? = nil,
                  origin: String? = nil) async throws -> HTTPResponse {
            var headers: [HTTPHeader] = []
            if let auth { headers.append(HTTPHeader(name: "Authorization", value: auth)) }
            if let cookie { headers.append(HTTPHeader(name: "Cookie", value: cookie)) }
            if method == "POST" { headers.append(HTTPHeader(name: "Origin", value: origin ?? self.origin)) }
            var body: [UInt8]?
            if let form {
                headers.append(HTTPHeader(name: "Content-Type", value: "application/x-www-form-urlencoded"))
                body = Array(form.map { "\($0.key)=\(PercentEncoding.encode($0.value))" }.joined(separator: "&").utf8)
            }
            let request = HTTPRequest(method: method, url: "http://127.0.0.1:\(port)\(path)", headers: headers, body: body)
            return try await BlockingThread.run(name: "test-http") { try HTTPClient().send(request) }
        }
    }

    /// An alert whose text tries to inject markup and a script link.
    static let hostileAlert = Array("""
        {"version":"4","status":"firing","receiver":"cano","groupKey":"{}:{alertname=\\"ConsoleProbe\\"}","groupLabels":{"alertname":"ConsoleProbe"},
         "externalURL":"http://alertmanager:9093","alerts":[{"status":"firing",
         "labels":{"alertname":"ConsoleProbe","severity":"critical","namespace":"payments","pod":"api-0"},
         "annotations":{"summary":"<script>alert('x')</script> crash loop","description":"see <img src=x onerror=alert(1)>",
                        "runbook_url":"javascript:alert(document.cookie)"},
         "startsAt":"2026-11-26T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus/graph","fingerprint":"c0ffee"}]}
        """.utf8)

    @Test func authCsrfRedactionEscapingAndAFaithfulSlackPreview() async throws {
        let slack = try await SlackDouble.start(token: Self.slackToken)
        defer { slack.stop() }
        let hook = try await ScriptedHTTPServer.start()
        defer { stopLater { await hook.stop() } }
        hook.setDefault(.status(400))
        let pluginDir = FileManager.default.temporaryDirectory.appendingPathComponent("cano-plugins-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: pluginDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: pluginDir) }
        for name in ["CanoSlack", "CanoWebhook"] {
            try FileManager.default.createSymbolicLink(atPath: pluginDir.appendingPathComponent("lib\(name).so").path,
                                                       withDestinationPath: try BuildProducts.plugin(name))
        }
        let collector = try await CollectorProcess(configYAML: """
            cluster: e2e
            data_dir: {{data_dir}}
            server: {host: 127.0.0.1, port: {{port}}, auth: {bearer_token: \(Self.intakeToken)}, admin_token: \(Self.adminToken)}
            ui: {enabled: true, auth: {basic_auth: {username: viewer, password: \(Self.viewerPassword)}}}
            plugins: {directories: ["\(pluginDir.path)"]}
            destinations:
              - name: slack
                type: slack
                config: {token: "\(Self.slackToken)", channel: "#alerts", api_url: "\(slack.apiURL)"}
              - name: hook
                type: webhook
                config: {url: "\(hook.url)?token=\(Self.hookQueryToken)", hmac_secret: "\(Self.hmacSecret)"}
            routes:
              - matchers: ['namespace="payments"']
                destinations: [slack, hook]
                group_by: []
            """)
        defer { collector.stop(); try? FileManager.default.removeItem(at: collector.directory) }
        let browser = Browser(port: collector.port)
        var pages: [(String, HTTPResponse)] = []
        func page(_ what: String, _ response: HTTPResponse) -> HTTPResponse { pages.append((what, response)); return response }

        let posted = try collector.postAlerts(Self.hostileAlert, headers: [HTTPHeader(name: "Authorization", value: "Bearer \(Self.intakeToken)")])
        #expect(posted.status == 200, "\(posted.text)")
        try await waitUntil("the Slack delivery and the webhook's dead letter in the list", timeout: .seconds(30)) {
            let list = try await browser.call("GET", "/ui/").text
            return list.contains("slack: delivered") && list.contains("hook: dead")
        }

        // Read access: ui.auth, nothing else.
        let anonymous = try await browser.call("GET", "/ui/", auth: nil)
        #expect(anonymous.status == 401 && anonymous.header("WWW-Authenticate")?.hasPrefix("Basic") == true)
        #expect(try await browser.call("GET", "/ui/", auth: "Bearer \(Self.intakeToken)").status == 401, "the intake's credential is not the console's")
        let list = page("issues", try await browser.call("GET", "/ui/"))
        #expect(list.status == 200 && list.header("Content-Security-Policy")?.contains("default-src 'none'") == true)
        #expect(list.text.contains("slack: delivered") && list.text.contains("hook: dead"), "\(list.text)")
        let id = try #require(list.text.firstMatch(of: /href="\/ui\/issues\/(\d+)"/).map { String($0.1) })

        // Writes: a reader cannot retry; an admin session needs the csrf token and this origin.
        let deadID = try #require(pages.isEmpty ? nil : try await browser.call("GET", "/ui/destinations").text
            .firstMatch(of: /class="dead-letter" data-id="(\d+)"/).map { String($0.1) })
        #expect(try await browser.call("POST", "/ui/dead-letters/\(deadID)/retry", form: [:]).status == 403, "a reader cannot retry")
        let wrong = try await browser.call("POST", "/ui/admin", form: ["token": "not-the-admin-token", "back": "/destinations"])
        #expect(wrong.status == 303 && wrong.header("Set-Cookie")?.contains("cano_admin=") != true)
        let signedIn = try await browser.call("POST", "/ui/admin", form: ["token": Self.adminToken, "back": "/destinations"])
        let session = try #require(signedIn.headers.filter { $0.name.lowercased() == "set-cookie" }.map(\.value)
            .first { $0.hasPrefix("cano_admin=") }?.split(separator: ";").first.map(String.init))
        #expect(session.contains(Self.adminToken) == false && signedIn.header("Set-Cookie")?.contains("HttpOnly") == true)
        #expect(try await browser.call("POST", "/ui/admin", form: ["token": Self.adminToken], origin: "http://evil.example").status == 403,
                "no other site signs a browser in")
        let adminPage = page("destinations (admin)", try await browser.call("GET", "/ui/destinations", cookie: session))
        #expect(adminPage.text.contains("href=\"/ui/issues/\(id)\">ConsoleProbe</a>"), "the dead letter links to its Issue")
        let csrf = try #require(adminPage.text.firstMatch(of: /name="csrf" value="([0-9a-f]+)"/).map { String($0.1) })
        #expect(try await browser.call("POST", "/ui/dead-letters/\(deadID)/retry", cookie: session, form: [:]).status == 403, "no csrf token")
        #expect(try await browser.call("POST", "/ui/dead-letters/\(deadID)/retry", cookie: session, form: ["csrf": (csrf.first == "0" ? "1" : "0") + csrf.dropFirst()]).status == 403,
                "a token one character off (the session's token varies with its expiry)")
        #expect(try await browser.call("POST", "/ui/dead-letters/\(deadID)/retry", cookie: session, form: ["csrf": csrf],
                                       origin: "http://evil.example").status == 403, "a foreign Origin")
        let attempts = hook.requests.count
        let retried = try await browser.call("POST", "/ui/dead-letters/\(deadID)/retry", cookie: session, form: ["csrf": csrf])
        #expect(retried.status == 303 && retried.header("Location") == "/ui/destinations")
        try await waitUntil("the retried dead letter to reach the webhook again") { hook.requests.count > attempts }

        // Every page, read and as admin, and the preview.
        _ = page("issue", try await browser.call("GET", "/ui/issues/\(id)"))
        _ = page("issue (admin)", try await browser.call("GET", "/ui/issues/\(id)", cookie: session))
        _ = page("silences", try await browser.call("GET", "/ui/silences", cookie: session))
        _ = page("preview form", try await browser.call("GET", "/ui/preview"))
        let preview = page("preview", try await browser.call("POST", "/ui/preview", form: ["body": String(decoding: Self.hostileAlert, as: UTF8.self)]))
        #expect(preview.status == 200 && preview.text.contains("class=\"slack-message\""), "\(preview.text)")

        // Alert text is shown, never run: no tag, attribute or script URL of it survives.
        for (what, response) in pages {
            #expect(!response.text.contains("<script"), "\(what): a script tag")
            #expect(!response.text.contains("<img src=x"), "\(what): an injected tag")
            #expect(!response.text.contains("href=\"javascript:"), "\(what): a script link")
        }
        #expect(pages[2].1.text.contains("&lt;script&gt;alert"), "the issue page shows the text, escaped")
        #expect(pages[2].1.text.contains("class=\"slack-message\""), "the issue page shows the message as Slack renders it")

        // No secret on any page, in any header, in the log.
        for (what, response) in pages {
            for secret in Self.secrets {
                #expect(!response.text.contains(secret) && !response.headers.contains { $0.value.contains(secret) }, "\(what) shows a secret")
            }
        }
        for secret in Self.secrets { #expect(!collector.log.contains(secret), "the log holds a secret") }

        // The preview's Slack body is the message the plugin posted: the same attachments.
        let payloads = preview.text.matches(of: /<pre class="payload">([^<]*)<\/pre>/).map { Self.unescape(String($0.1)) }
        let rendered = try payloads.compactMap { try IssueCoding.decode(JSONValue.self, from: Array($0.utf8)).arrayValue }
            .first { $0.first?["attachments"] != nil }
        let sent = slack.messages.map { JSONValue.array($0.attachments ?? []) }
        #expect(rendered?.compactMap { $0["attachments"] } == sent, "the preview renders the messages the plugin posts, root and replies")
        #expect(sent.count > 1, "the Issue's enrichments overflow into a thread reply, so the replies are compared too")
    }

    @Test func offByDefaultAndRefusedWhenItsCredentialIsTheAdminToken() async throws {
        let collector = try await CollectorProcess(configYAML: """
            data_dir: {{data_dir}}
            server: {host: 127.0.0.1, port: {{port}}}
            destinations: [{name: out, type: file, config: {path: "{{dir}}/issues.jsonl"}}]
            default_destinations: [out]
            """)
        defer { collector.stop(); try? FileManager.default.removeItem(at: collector.directory) }
        #expect(try collector.get("/ui/").status == 404, "no console unless ui.enabled")

        let config = collector.directory.appendingPathComponent("same-credential.yaml").path
        try """
            server: {admin_token: same-secret-7}
            ui: {enabled: true, auth: {bearer_token: same-secret-7}}
            destinations: [{name: out, type: file, config: {path: "-"}}]
            default_destinations: [out]
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let problems = try await CollectorCLI.run(["validate", "--config", config])
        #expect(problems.status != 0 && problems.output.contains("ui.auth must differ from server.admin_token"), "\(problems.output)")
        #expect(!problems.output.contains("same-secret-7"))
    }

    /// Secrets that are also words of the page (a weak admin token "Silences", an intake
    /// token "admin", a console password "firing"): the page keeps its own words, links and
    /// forms; only data is scrubbed.
    @Test func shortSecretsThatAreWordsOfThePageDoNotBreakIt() async throws {
        let collector = try await CollectorProcess(configYAML: """
            data_dir: {{data_dir}}
            server: {host: 127.0.0.1, port: {{port}}, auth: {bearer_token: admin}, admin_token: Silences}
            ui: {enabled: true, auth: {basic_auth: {username: sre, password: firing}}}
            destinations: [{name: out, type: file, config: {path: "{{dir}}/issues.jsonl"}}]
            default_destinations: [out]
            """)
        defer { collector.stop(); try? FileManager.default.removeItem(at: collector.directory) }
        let browser = Browser(port: collector.port)
        let reader = "Basic " + Data("sre:firing".utf8).base64EncodedString()
        #expect(try collector.postAlerts(WebhookBody.firing(alertname: "ShortSecrets", fingerprints: ["s1"]),
                                         headers: [HTTPHeader(name: "Authorization", value: "Bearer admin")]).status == 200)
        let list = try await browser.call("GET", "/ui/", auth: reader)
        #expect(list.text.contains(">Silences</a>") && list.text.contains("action=\"/ui/admin\"") && list.text.contains("type=\"password\""))
        #expect(list.text.contains("data-status=\"firing\""), "the Issue's status is the page's word, shown")
        let signedIn = try await browser.call("POST", "/ui/admin", auth: reader, form: ["token": "Silences", "back": "/"])
        #expect(signedIn.header("Set-Cookie")?.hasPrefix("cano_admin=") == true, "signing in still works")
    }

    /// A preview renders the first 20 Issues of a body and says so; a body over 1 MiB is
    /// refused before it is parsed.
    @Test func previewsAreBounded() async throws {
        let collector = try await CollectorProcess(configYAML: """
            data_dir: {{data_dir}}
            server: {host: 127.0.0.1, port: {{port}}}
            ui: {enabled: true}
            destinations: [{name: out, type: file, config: {path: "{{dir}}/issues.jsonl"}}]
            default_destinations: [out]
            """)
        defer { collector.stop(); try? FileManager.default.removeItem(at: collector.directory) }
        let browser = Browser(port: collector.port)
        let many = String(decoding: WebhookBody.firing(alertname: "Many", fingerprints: (0..<25).map { "m\($0)" }), as: UTF8.self)
        let page = try await browser.call("POST", "/ui/preview", auth: nil, form: ["body": many])
        #expect(page.status == 200)
        #expect(page.text.components(separatedBy: "class=\"preview-issue\"").count - 1 == 20)
        #expect(page.text.contains("holds 25 alerts; the preview shows the first 20"))
        let huge = try await browser.call("POST", "/ui/preview", auth: nil, form: ["body": String(repeating: " ", count: (1 << 20) + 1)])
        #expect(huge.status == 413)
    }

    static func unescape(_ html: String) -> String {
        html.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
    }
}
