import CanoSDK
import Foundation
import TestSupport
import Testing

/// The whole product with the Jira plugin: a real Alertmanager posts webhooks to the real
/// `cano-collector` binary, which loads `libCanoJira.so` (in process, the default
/// for the plugins shipped with the collector) and talks to the Jira double. The firing must open
/// one issue labelled with the alert's fingerprint; the resolve must comment on that issue
/// and move it with the configured transition.
@Suite(.serialized) struct JiraEndToEndTests {
    static let email = "alerts@example.com"
    static let token = "ATATT3x-e2e-JIRAe2eTOKEN-41c9"

    @Test func alertmanagerToJiraCreatesOneIssueThenResolvesIt() async throws {
        let jira = try await JiraDouble.start(email: Self.email, apiToken: Self.token)
        let workspace = try EndToEndWorkspace(plugins: ["CanoJira"])
        defer { workspace.remove() }
        // As a Kubernetes Secret mounts it: a file with a trailing newline, which the host trims.
        let tokenFile = try workspace.secretFile("jira-api-token", Self.token)
        let collector = try await CollectorProcess(configYAML: """
            \(workspace.configHead)
            destinations:
              - name: jira
                type: jira
                config:
                  url: "\(jira.url)"
                  project: OPS
                  issue_type: Incident
                  user: \(Self.email)
                  api_token_file: "\(tokenFile)"
                  resolve_transition: Done
                  labels: [k8s]
                  priorities: {HIGH: Highest}
            default_destinations: [jira]
            """)
        defer { collector.stop() }
        let am = try await workspace.alertmanager(for: collector)
        defer { am.stop() }
        try am.post(alerts: [SampleAlert.firing])
        try await waitUntil("the issue created in Jira", timeout: .seconds(30)) { !jira.creates.isEmpty }

        // Alertmanager's own fingerprint for the alert: the collector keeps it as the Issue's.
        let fingerprint = try await am.firstFingerprint()

        // create() checked the credentials once, with the trimmed token.
        let myself = try #require(jira.calls.first { $0.path == "/rest/api/3/myself" }, "\(jira.calls.map(\.path))")
        #expect(myself.status == 200)
        let create = try #require(jira.creates.first)
        #expect(create.status == 201, "\(create.errorMessages) \(create.errors)")
        let issue = try #require(jira.issue("OPS-1"))
        #expect(issue.summary == "KubePodCrashLooping")
        #expect(issue.labels == ["k8s", "cano-fp-\(fingerprint)"])
        #expect(issue.fields["issuetype"]?["name"] == .string("Incident"))
        #expect(issue.fields["priority"]?["name"] == .string("Highest"))
        #expect(issue.descriptionText.hasPrefix("Pod shop/cart-7d9f-x2 is crash looping\n\nCluster: e2e"), "\(issue.descriptionText)")
        #expect(issue.status == "To Do")
        #expect(jira.searches.count == 1, "one search before the create")

        // Resolve it: Alertmanager sends the resolved notification; the plugin comments on
        // OPS-1 and moves it with the "Done" transition.
        try am.post(alerts: [SampleAlert.resolved])
        try await waitUntil("the issue moved to Done", timeout: .seconds(30)) { jira.issue("OPS-1")?.status == "Done" }
        let resolved = try #require(jira.issue("OPS-1"))
        #expect(resolved.transitions == ["Done"])
        #expect(resolved.commentTexts.count == 1)
        #expect(resolved.commentTexts.first?.hasPrefix("Resolved at ") == true, "\(resolved.commentTexts)")
        #expect(jira.creates.count == 1, "the resolve opened nothing")
        #expect(jira.issues.count == 1)
        // The resolve used the reference the firing returned: a direct read, no second search.
        #expect(jira.calls.contains { $0.method == "GET" && $0.path == "/rest/api/3/issue/OPS-1" })
        #expect(jira.searches.count == 1)

        try await waitUntil("both deliveries counted") {
            try collector.get("/metrics").text.contains(#"cano_deliveries_total{destination="jira",result="delivered"} 2"#)
        }
        let metrics = try collector.get("/metrics").text
        await jira.stop()
        let basic = Data((Self.email + ":" + Self.token).utf8).base64EncodedString()
        for secret in [Self.token, basic] {
            assertNoSecret(secret, in: [LeakSurface("collector log", collector.log), LeakSurface("/metrics", metrics)])
        }
    }

    /// `cano-collector plugins check` passes the plugin: descriptor, create from a token
    /// file, the firing and resolve, every scripted outcome (202, 429 with both Retry-After
    /// forms, 500, 400, a hang, a reset) and no echo of the token.
    @Test func pluginsCheckPasses() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cano-jira-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenFile = dir.appendingPathComponent("token").path
        try "ATATT-check-5e2d-CHECKTOKEN\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let run = try await CollectorCLI.run([
            "plugins", "check", try BuildProducts.plugin("CanoJira"), "--timeout", "5",
            "--config-json", "{\"url\":\"{{capture_url}}\",\"project\":\"OPS\",\"user\":\"check@example.com\",\"api_token_file\":\"\(tokenFile)\",\"resolve_transition\":\"Done\"}",
        ])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.hasSuffix("result: PASS\n"), "\(run.output)")
        #expect(run.output.contains("PASS  descriptor: jira 1.1.0"), "\(run.output)")
        #expect(run.output.contains("PASS  secrets"), "\(run.output)")
        #expect(run.output.contains("PASS  outcome 429 Retry-After: 7: returned RETRY, retry after 7000 ms"), "\(run.output)")
        #expect(run.output.contains("PASS  outcome 429 Retry-After: HTTP date"), "\(run.output)")
        #expect(run.output.contains("PASS  outcome 400: returned PERMANENT"), "\(run.output)")
        #expect(!run.output.contains("FAIL"), "\(run.output)")
        #expect(!run.output.contains("CHECKTOKEN"), "the token leaked into the report")
    }

    /// A config mistake reaches the user through the C ABI as one clear line naming the key.
    @Test func pluginsCheckNamesAConfigMistake() async throws {
        let run = try await CollectorCLI.run([
            "plugins", "check", try BuildProducts.plugin("CanoJira"),
            "--config-json", #"{"url":"https://example.atlassian.net","project":"OPS","user":"a@example.com","api_token":"ATATT-typo-TYPOTOKEN","resolveTransition":"Done"}"#,
        ])
        #expect(run.status != 0)
        #expect(run.output.contains("FAIL  create: create() failed: unknown config key \"resolveTransition\" (known: api_token, components,"), "\(run.output)")
        #expect(!run.output.contains("TYPOTOKEN"), "the token leaked into the report")
    }
}
