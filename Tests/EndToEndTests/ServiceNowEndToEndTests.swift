import CanoSDK
import Foundation
import TestSupport
import Testing

/// The whole product with the ServiceNow plugin: a real Alertmanager posts webhooks to the
/// real `cano-collector` binary, which loads `libCanoServiceNow.so` and talks to the
/// ServiceNow double. The firing must create one incident whose correlation_id is the
/// alert's fingerprint, and the resolve must resolve that same incident.
@Suite(.serialized) struct ServiceNowEndToEndTests {
    static let username = "cano.e2e"
    static let password = "sn-e2e-7a3c9d1f-SNE2EPASSWORD"

    @Test func alertmanagerToServiceNowCreatesThenResolvesByFingerprint() async throws {
        let servicenow = try await ServiceNowDouble.start(username: Self.username, password: Self.password)
        let workspace = try EndToEndWorkspace(plugins: ["CanoServiceNow"])
        defer { workspace.remove() }
        // As a Kubernetes Secret mounts it: a file with a trailing newline, which the host trims.
        let passwordFile = try workspace.secretFile("servicenow-password", Self.password)
        let collector = try await CollectorProcess(configYAML: """
            \(workspace.configHead)
            destinations:
              - name: servicenow
                type: servicenow
                config:
                  instance_url: "\(servicenow.instanceURL)"
                  username: \(Self.username)
                  password_file: "\(passwordFile)"
                  assignment_group: Kubernetes Platform
                  caller_id: cano.e2e
                  category: software
                  input_display_value: true
            default_destinations: [servicenow]
            """)
        defer { collector.stop() }
        let am = try await workspace.alertmanager(for: collector)
        defer { am.stop() }
        try am.post(alerts: [SampleAlert.firing])
        try await waitUntil("the incident created in ServiceNow", timeout: .seconds(30)) { !servicenow.creates.isEmpty }

        // Alertmanager's own fingerprint for the alert: the collector keeps it as the Issue's.
        let fingerprint = try await am.firstFingerprint()

        let create = try #require(servicenow.creates.first)
        #expect(create.status == 201, "\(create.error ?? "") \(create.detail ?? "")")
        let basic = "Basic " + Data("\(Self.username):\(Self.password)".utf8).base64EncodedString()
        #expect(create.headers["authorization"] == basic, "the password file's newline was trimmed")
        #expect(create.query["sysparm_input_display_value"] == "true")
        let incident = try #require(servicenow.incidents.first)
        #expect(incident.correlationID == fingerprint)
        #expect(incident.state == "1")
        #expect(incident.fields["short_description"] == "[e2e] KubePodCrashLooping")
        #expect(incident.fields["urgency"] == "1")
        #expect(incident.fields["impact"] == "2")
        #expect(incident.fields["assignment_group"] == "Kubernetes Platform")
        #expect(incident.fields["caller_id"] == "cano.e2e")
        #expect(incident.fields["category"] == "software")
        #expect(incident.fields["description"]?.hasPrefix("Pod shop/cart-7d9f-x2 is crash looping") == true)
        // create's credential check (issue 13 §4) came first: one bounded read of the table.
        #expect(servicenow.lookups.first?.query["sysparm_limit"] == "1")
        #expect(servicenow.lookups.first?.query["sysparm_query"] == nil)
        let lookup = servicenow.lookups.first { $0.query["sysparm_query"] != nil }
        #expect(lookup?.query["sysparm_query"]?.hasPrefix("correlation_id=\(fingerprint)^") == true)

        // Resolve it: Alertmanager sends the resolved notification, the plugin resolves the incident.
        try am.post(alerts: [SampleAlert.resolved])
        try await waitUntil("the incident resolved in ServiceNow", timeout: .seconds(30)) {
            servicenow.incidents.first?.isResolved == true && !servicenow.updates.isEmpty
        }
        let resolved = try #require(servicenow.incidents.first)
        #expect(resolved.sysID == incident.sysID)
        #expect(resolved.fields["close_code"] == "Resolved by caller")
        #expect(resolved.fields["close_notes"]?.hasPrefix("Resolved automatically by cano-collector") == true)
        let resolve = try #require(servicenow.updates.last)
        #expect(resolve.path == "/api/now/table/incident/\(incident.sysID)")
        #expect(resolve.status == 200)
        #expect(servicenow.creates.count == 1, "the resolve opened nothing")
        #expect(servicenow.incidents.count == 1)

        try await waitUntil("both deliveries counted") {
            try collector.get("/metrics").text.contains(#"cano_deliveries_total{destination="servicenow",result="delivered"} 2"#)
        }
        let metrics = try collector.get("/metrics").text
        await servicenow.stop()
        assertNoSecret(Self.password, in: [LeakSurface("collector log", collector.log), LeakSurface("/metrics", metrics)])
        assertNoSecret(String(basic.dropFirst(6)), in: [LeakSurface("collector log", collector.log)])
    }

    /// An OAuth client through the real host (issue 13 §3): `client_secret_file` is read by
    /// the host into `client_secret`; create checks the client at the token endpoint, and
    /// the incident is written with the Bearer token the double issued. The secret and the
    /// token stay out of the collector's log.
    @Test func anOAuthClientWithASecretFileCreatesTheIncident() async throws {
        let secret = "sn-e2e-cs&4d+SNE2ECLIENTSECRET"
        let servicenow = try await ServiceNowDouble.start(oauth: ServiceNowDoubleOAuthClient(clientID: "cano-e2e-client", clientSecret: secret))
        let workspace = try EndToEndWorkspace(plugins: ["CanoServiceNow"])
        defer { workspace.remove() }
        let secretFile = try workspace.secretFile("servicenow-client-secret", secret)
        let collector = try await CollectorProcess(configYAML: """
            \(workspace.configHead)
            destinations:
              - name: servicenow
                type: servicenow
                config:
                  instance_url: "\(servicenow.instanceURL)"
                  client_id: cano-e2e-client
                  client_secret_file: "\(secretFile)"
            default_destinations: [servicenow]
            """)
        defer { collector.stop() }
        let am = try await workspace.alertmanager(for: collector)
        defer { am.stop() }
        try am.post(alerts: [SampleAlert.firing])
        try await waitUntil("the incident created in ServiceNow", timeout: .seconds(30)) { !servicenow.creates.isEmpty }

        let token = try #require(servicenow.tokenRequests.first)
        #expect(token.status == 200, "\(token.error ?? "") \(token.detail ?? "")")
        #expect(token.form["client_secret"] == secret, "the secret file's newline was trimmed")
        let create = try #require(servicenow.creates.first)
        #expect(create.status == 201)
        #expect(create.headers["authorization"]?.hasPrefix("Bearer sn-at-") == true)
        let issued = servicenow.issuedTokens
        await servicenow.stop()
        assertNoSecret(secret, in: [LeakSurface("collector log", collector.log)])
        for value in issued { assertNoSecret(value, in: [LeakSurface("collector log", collector.log)]) }
    }

    /// `cano-collector plugins check` passes the plugin: descriptor, create from a password
    /// file, the firing and resolve, every scripted outcome (202, 429 with both Retry-After
    /// forms, 500, 400, a hang, a reset) and no echo of the password.
    @Test func pluginsCheckPasses() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cano-servicenow-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let passwordFile = dir.appendingPathComponent("password").path
        try "sn-check-4b7e21-CHECKPASSWORD\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        let run = try await CollectorCLI.run([
            "plugins", "check", try BuildProducts.plugin("CanoServiceNow"), "--timeout", "5",
            "--config-json", "{\"instance_url\":\"{{capture_url}}\",\"username\":\"cano\",\"password_file\":\"\(passwordFile)\"}",
        ])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.hasSuffix("result: PASS\n"), "\(run.output)")
        #expect(run.output.contains("PASS  descriptor: servicenow 1.0.0"), "\(run.output)")
        #expect(run.output.contains("PASS  secrets"), "\(run.output)")
        #expect(run.output.contains("PASS  outcome 429 Retry-After: 7: returned RETRY, retry after 7000 ms"), "\(run.output)")
        #expect(run.output.contains("PASS  outcome 429 Retry-After: HTTP date"), "\(run.output)")
        #expect(run.output.contains("PASS  outcome 400: returned PERMANENT"), "\(run.output)")
        #expect(run.output.contains("PASS  outcome 500: returned RETRY"), "\(run.output)")
        #expect(!run.output.contains("FAIL"), "\(run.output)")
        #expect(!run.output.contains("CHECKPASSWORD"), "the password leaked into the report")
    }

    /// A config mistake reaches the user through the C ABI as one clear line naming the key.
    @Test func pluginsCheckNamesAConfigMistake() async throws {
        let run = try await CollectorCLI.run([
            "plugins", "check", try BuildProducts.plugin("CanoServiceNow"),
            "--config-json", #"{"instance_url":"https://acme.service-now.com","username":"cano","password":"sn-typo-5e2a-TYPOPASSWORD","assignmentGroup":"x"}"#,
        ])
        #expect(run.status != 0)
        #expect(run.output.contains("FAIL  create: create() failed: unknown config key \"assignmentGroup\" (known: assignment_group,"), "\(run.output)")
        #expect(!run.output.contains("TYPOPASSWORD"), "the password leaked into the report")
    }
}
