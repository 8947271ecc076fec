import CanoSDK
import Foundation
import TestSupport
import Testing

/// The silences API through the real binary's HTTP server: the auth matrix (intake auth
/// on every call, the admin token on writes), the answers' shapes, 400 messages that name
/// the field, metrics, and that no credential reaches a response, the log or /metrics.
@Suite(.serialized) struct SilencesAPITests {
    static let intakeToken = "silences-intake-secret-7f3a"
    static let adminToken = "silences-admin-secret-91c2"
    static let wrongAdminToken = "silences-wrong-admin-4b8e"

    /// One HTTP exchange, on a thread of its own (libcurl blocks).
    struct Client: Sendable {
        let port: Int
        func call(_ method: String, _ path: String, bearer: String? = SilencesAPITests.intakeToken, admin: String? = nil,
                  headers: [HTTPHeader] = [], body: String? = nil) async throws -> HTTPResponse {
            var all = headers
            if let bearer { all.append(HTTPHeader(name: "Authorization", value: "Bearer \(bearer)")) }
            if let admin { all.append(HTTPHeader(name: "X-Admin-Token", value: admin)) }
            if body != nil { all.append(HTTPHeader(name: "Content-Type", value: "application/json")) }
            let request = HTTPRequest(method: method, url: "http://127.0.0.1:\(port)\(path)", headers: all, body: body.map { Array($0.utf8) })
            return try await BlockingThread.run(name: "test-http") { try HTTPClient().send(request) }
        }
    }

    func start(server: String, files: [String: String] = [:]) async throws -> CollectorProcess {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cano-silences-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, content) in files { try (content + "\n").write(toFile: directory.appendingPathComponent(name).path, atomically: true, encoding: .utf8) }
        return try await CollectorProcess(configYAML: """
            cluster: e2e
            data_dir: {{data_dir}}
            server: \(server)
            destinations:
              - name: out
                type: file
                config: {path: "{{dir}}/issues.jsonl"}
            default_destinations: [out]
            """, directory: directory)
    }

    func json(_ response: HTTPResponse) throws -> JSONValue { try IssueCoding.decode(JSONValue.self, from: response.body) }

    @Test func authMatrixCrudMetricsAndNoSecretLeaks() async throws {
        let collector = try await start(
            server: "{host: 127.0.0.1, port: {{port}}, auth: {bearer_token: \(Self.intakeToken)}, admin_token_file: admin-token}",
            files: ["admin-token": Self.adminToken])
        defer { collector.stop(); try? FileManager.default.removeItem(at: collector.directory) }
        let http = Client(port: collector.port)
        var responses: [HTTPResponse] = []
        func record(_ r: HTTPResponse) -> HTTPResponse { responses.append(r); return r }
        let valid = #"{"matchers": ["namespace=\"payments\""], "duration": "2h", "createdBy": "alice", "comment": "db maintenance"}"#

        // Intake auth on every endpoint, reads included.
        #expect(record(try await http.call("GET", "/api/silences", bearer: nil)).status == 401)
        #expect(record(try await http.call("GET", "/api/silences", bearer: "not-the-intake-token")).status == 401)
        #expect(record(try await http.call("GET", "/api/silences/x", bearer: nil)).status == 401)
        #expect(record(try await http.call("POST", "/api/silences", bearer: nil, admin: Self.adminToken, body: valid)).status == 401,
                "the admin token does not replace the intake auth")
        #expect(record(try await http.call("DELETE", "/api/silences/x", bearer: nil, admin: Self.adminToken)).status == 401)
        let empty = record(try await http.call("GET", "/api/silences"))
        #expect(empty.status == 200 && empty.text == "[]")

        // Writes need the admin token.
        #expect(record(try await http.call("POST", "/api/silences", body: valid)).status == 401)
        let wrong = record(try await http.call("POST", "/api/silences", admin: Self.wrongAdminToken, body: valid))
        #expect(wrong.status == 403)
        #expect(record(try await http.call("DELETE", "/api/silences/x", admin: Self.wrongAdminToken)).status == 403)

        // Create, with a matcher string and with Alertmanager's v2 objects.
        let created = record(try await http.call("POST", "/api/silences", admin: Self.adminToken, body: valid))
        #expect(created.status == 201, "\(created.text)")
        let id = try #require(try json(created)["silenceID"]?.stringValue)
        let amStyle = record(try await http.call("POST", "/api/silences", admin: Self.adminToken, body: """
            {"matchers": [{"name": "alertname", "value": "KubePod.*", "isRegex": true, "isEqual": true},
                          {"name": "team", "value": "infra", "isRegex": false, "isEqual": false}],
             "startsAt": "\(RFC3339.format(Date().addingTimeInterval(3600)))", "endsAt": "\(RFC3339.format(Date().addingTimeInterval(7200)))",
             "createdBy": "am-client", "comment": "pending window"}
            """))
        #expect(amStyle.status == 201, "\(amStyle.text)")
        let pendingID = try #require(try json(amStyle)["silenceID"]?.stringValue)

        // Read back.
        let one = record(try await http.call("GET", "/api/silences/\(id)"))
        #expect(one.status == 200)
        let item = try json(one)
        #expect(item["matchers"] == .array([.string(#"namespace="payments""#)]))
        #expect(item["createdBy"]?.stringValue == "alice" && item["comment"]?.stringValue == "db maintenance")
        #expect(item["status"]?["state"]?.stringValue == "active")
        #expect(RFC3339.parse(item["endsAt"]?.stringValue ?? "") != nil && RFC3339.parse(item["updatedAt"]?.stringValue ?? "") != nil)
        let pending = try json(record(try await http.call("GET", "/api/silences/\(pendingID)")))
        #expect(pending["matchers"] == .array([.string(#"alertname=~"KubePod.*""#), .string(#"team!="infra""#)]))
        #expect(pending["status"]?["state"]?.stringValue == "pending")
        #expect(record(try await http.call("GET", "/api/silences/no-such-id")).status == 404)
        let active = try json(record(try await http.call("GET", "/api/silences?state=active"))).arrayValue ?? []
        #expect(active.map { $0["id"]?.stringValue } == [id])
        #expect(try json(record(try await http.call("GET", "/api/silences"))).arrayValue?.count == 2)

        // 400s name the field.
        func bad(_ body: String, field: String, mentions: String) async throws {
            let r = record(try await http.call("POST", "/api/silences", admin: Self.adminToken, body: body))
            #expect(r.status == 400, "\(body) → \(r.status) \(r.text)")
            let answer = try json(r)
            #expect(answer["field"]?.stringValue == field, "\(r.text)")
            #expect(answer["error"]?.stringValue?.contains(mentions) == true, "\(r.text)")
        }
        try await bad("{not json", field: "body", mentions: "not valid JSON")
        try await bad(#"{"matchers": ["namespace=~\"(\""], "duration": "1h", "createdBy": "a", "comment": "c"}"#, field: "matchers", mentions: #"namespace=~"(""#)
        try await bad(#"{"matchers": ["foo=~\".*\""], "duration": "1h", "createdBy": "a", "comment": "c"}"#, field: "matchers", mentions: "empty string")
        try await bad(#"{"matchers": [], "duration": "1h", "createdBy": "a", "comment": "c"}"#, field: "matchers", mentions: "at least one matcher")
        try await bad(#"{"matchers": ["a=\"b\""], "duration": "1h", "createdBy": "a"}"#, field: "comment", mentions: "empty")
        try await bad(#"{"matchers": ["a=\"b\""], "createdBy": "a", "comment": "c"}"#, field: "endsAt", mentions: "duration")
        try await bad(#"{"matchers": ["a=\"b\""], "endsAt": "2001-01-01T00:00:00Z", "createdBy": "a", "comment": "c"}"#, field: "endsAt", mentions: "not in the future")
        try await bad(#"{"matchers": [{"name": "", "value": "x"}], "duration": "1h", "createdBy": "a", "comment": "c"}"#, field: "matchers[0].name", mentions: "non-empty")
        #expect(record(try await http.call("GET", "/api/silences?state=bogus")).status == 400)

        // A request that carries a credential in its text gets it back scrubbed.
        let echoed = record(try await http.call("POST", "/api/silences", admin: Self.adminToken,
                                                body: #"{"matchers": ["a=~\"("# + Self.adminToken + #"\""], "duration": "1h", "createdBy": "a", "comment": "c"}"#))
        #expect(echoed.status == 400)

        // Expire: 200, then 409; unknown 404.
        let expired = record(try await http.call("DELETE", "/api/silences/\(id)", admin: Self.adminToken))
        #expect(expired.status == 200)
        #expect(try json(expired)["status"]?["state"]?.stringValue == "expired")
        #expect(record(try await http.call("DELETE", "/api/silences/\(id)", admin: Self.adminToken)).status == 409)
        #expect(record(try await http.call("DELETE", "/api/silences/no-such-id", admin: Self.adminToken)).status == 404)
        #expect(try json(record(try await http.call("GET", "/api/silences?state=expired"))).arrayValue?.map { $0["id"]?.stringValue } == [id])

        // Metrics.
        let metrics = try await http.call("GET", "/metrics", bearer: nil).text
        #expect(metrics.contains(#"cano_silences{state="expired"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"cano_silences{state="pending"} 1"#))
        #expect(metrics.contains(#"cano_silences{state="active"} 0"#))
        #expect(metrics.contains(#"cano_silences_changes_total{action="add"} 2"#))
        #expect(metrics.contains(#"cano_silences_changes_total{action="expire"} 1"#))

        // The form: prefilled, escaped, no credential in it.
        let form = record(try await http.call("GET", "/silences/new?matchers=%7Bnamespace%3D%22pay%3Cments%22%7D", bearer: nil))
        #expect(form.status == 200)
        #expect(form.header("Content-Type")?.hasPrefix("text/html") == true)
        #expect(form.text.contains("{namespace=&quot;pay&lt;ments&quot;}"))
        #expect(form.header("Content-Security-Policy")?.contains("default-src 'none'") == true)

        // No credential anywhere: responses (bodies and headers), the log, /metrics.
        var surfaces = responses.enumerated().map { LeakSurface("response \($0.offset + 1)", $0.element.text + "\n" + $0.element.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n")) }
        surfaces.append(LeakSurface("log", collector.log))
        surfaces.append(LeakSurface("/metrics", metrics))
        assertNoSecret(Self.adminToken, in: surfaces)
        assertNoSecret(Self.intakeToken, in: surfaces)
        assertNoSecret(Self.wrongAdminToken, in: surfaces)
    }

    @Test func withoutAnAdminTokenWritesAreRefusedAndSaySo() async throws {
        let collector = try await start(server: "{host: 127.0.0.1, port: {{port}}, auth: {basic_auth: {username: ops, password: silences-basic-pass-5d1e}}}")
        defer { collector.stop(); try? FileManager.default.removeItem(at: collector.directory) }
        let http = Client(port: collector.port)
        let basic = [HTTPHeader.basicAuthorization(user: "ops", password: "silences-basic-pass-5d1e")]
        #expect(try await http.call("GET", "/api/silences", bearer: nil).status == 401)
        #expect(try await http.call("GET", "/api/silences", bearer: nil, headers: basic).status == 200)
        let refused = try await http.call("POST", "/api/silences", bearer: nil, admin: "anything-at-all", headers: basic,
                                          body: #"{"matchers": ["a=\"b\""], "duration": "1h", "createdBy": "a", "comment": "c"}"#)
        #expect(refused.status == 403)
        #expect(refused.text.contains("server.admin_token"), "\(refused.text)")
        #expect(try await http.call("DELETE", "/api/silences/x", bearer: nil, admin: "anything-at-all", headers: basic).status == 403)
        let form = try await http.call("GET", "/silences/new", bearer: nil)
        #expect(form.status == 200 && form.text.contains("id=\"user\""), "asks for the API credentials")
        assertNoSecret("silences-basic-pass-5d1e", in: [LeakSurface("log", collector.log), LeakSurface("403 body", refused.text), LeakSurface("form", form.text)])
    }
}
