import CanoSDK
import Foundation
import Testing
import TestSupport

/// The double refuses what the real Table API refuses (destinations.md §7), so a plugin
/// that passes against it has not passed by the double's leniency.
@Suite("ServiceNow double") struct ServiceNowDoubleTests {
    static let basic = "Basic " + Data("\(testUsername):\(testPassword)".utf8).base64EncodedString()

    /// One raw request to the double from a dedicated thread.
    func send(_ double: ServiceNowDouble, _ method: String, _ path: String, body: String? = nil,
              headers: [String: String] = ["Authorization": basic, "Accept": "application/json", "Content-Type": "application/json"]) async throws -> (status: Int, json: JSONValue?) {
        _ = curlSetup
        let request = HTTPRequest(
            method: method, url: double.instanceURL + path,
            headers: headers.sorted { $0.key < $1.key }.map { HTTPHeader(name: $0.key, value: $0.value) },
            body: body.map { Array($0.utf8) })
        let response = try await BlockingThread.run { try HTTPClient().send(request) }
        return (response.status, try? IssueCoding.decode(JSONValue.self, from: response.body))
    }

    func withDouble(_ body: (ServiceNowDouble) async throws -> Void) async throws {
        let double = try await ServiceNowDouble.start(username: testUsername, password: testPassword)
        do { try await body(double) } catch {
            await double.stop()
            throw error
        }
        await double.stop()
    }

    static let table = "/api/now/table/incident"
    static let valid = #"{"short_description":"disk full","correlation_id":"fp-1","urgency":"2","impact":"3"}"#

    @Test func createAnswers201WithTheRecord() async throws {
        try await withDouble { double in
            let answer = try await send(double, "POST", Self.table, body: Self.valid)
            #expect(answer.status == 201)
            let sysID = try #require(answer.json?["result"]?["sys_id"]?.stringValue)
            #expect(sysID.count == 32 && sysID.allSatisfy(\.isHexDigit))
            #expect(answer.json?["result"]?["number"] == "INC0010001")
            #expect(answer.json?["result"]?["priority"] == "4")
            #expect(double.incidents.count == 1)
        }
    }

    @Test func wrongCredentialsAre401InServiceNowsShape() async throws {
        try await withDouble { double in
            let answer = try await send(double, "POST", Self.table, body: Self.valid, headers: [
                "Authorization": "Basic " + Data("\(testUsername):wrong".utf8).base64EncodedString(),
                "Accept": "application/json", "Content-Type": "application/json",
            ])
            #expect(answer.status == 401)
            #expect(answer.json?["error"]?["message"] == "User Not Authenticated")
            #expect(answer.json?["status"] == "failure")
            #expect(double.incidents.isEmpty)
        }
    }

    @Test func jsonMustBeAskedForAndSent() async throws {
        try await withDouble { double in
            let noAccept = try await send(double, "POST", Self.table, body: Self.valid,
                                          headers: ["Authorization": Self.basic, "Content-Type": "application/json"])
            #expect(noAccept.status == 406)
            let noType = try await send(double, "POST", Self.table, body: Self.valid,
                                        headers: ["Authorization": Self.basic, "Accept": "application/json", "Content-Type": "text/plain"])
            #expect(noType.status == 415)
            let notJSON = try await send(double, "POST", Self.table, body: "short_description=x")
            #expect(notJSON.status == 400)
            #expect(double.incidents.isEmpty)
        }
    }

    @Test(arguments: [
        (#"{"correlation_id":"fp"}"#, "short_description is required"),
        (#"{"short_description":"x"}"#, "correlation_id is required"),
        (#"{"short_description":"x","correlation_id":"fp","corelation_id":"fp"}"#, "corelation_id is not a writable incident field"),
        (#"{"short_description":"x","correlation_id":"fp","priority":"1"}"#, "priority is not a writable incident field"),
        (#"{"short_description":"x","correlation_id":"fp","urgency":"4"}"#, "urgency must be 1, 2 or 3"),
        (#"{"short_description":"x","correlation_id":"fp","urgency":1}"#, "urgency must be a string"),
    ])
    func createsAreValidated(body: String, detail: String) async throws {
        try await withDouble { double in
            let answer = try await send(double, "POST", Self.table, body: body)
            #expect(answer.status == 400)
            #expect(answer.json?["error"]?["detail"]?.stringValue?.contains(detail) == true, "\(String(describing: answer.json))")
            #expect(double.incidents.isEmpty)
        }
    }

    @Test func fieldLengthsAreEnforced() async throws {
        try await withDouble { double in
            let long = String(repeating: "é", count: 161)
            let answer = try await send(double, "POST", Self.table, body: #"{"short_description":"\#(long)","correlation_id":"fp"}"#)
            #expect(answer.status == 400)
            #expect(answer.json?["error"]?["detail"] == "short_description is 161 characters; the limit is 160")
            let fits = String(repeating: "é", count: 160)
            #expect(try await send(double, "POST", Self.table, body: #"{"short_description":"\#(fits)","correlation_id":"fp"}"#).status == 201)
        }
    }

    @Test func onlyKnownRecordsArePatchedAndResolvingNeedsCloseFields() async throws {
        try await withDouble { double in
            let unknown = try await send(double, "PATCH", Self.table + "/0123456789abcdef0123456789abcdef", body: #"{"work_notes":"x"}"#)
            #expect(unknown.status == 404)
            #expect(unknown.json?["error"]?["message"] == "No Record found")

            let sysID = try #require(try await send(double, "POST", Self.table, body: Self.valid).json?["result"]?["sys_id"]?.stringValue)
            let bare = try await send(double, "PATCH", Self.table + "/" + sysID, body: #"{"state":"6"}"#)
            #expect(bare.status == 403)
            #expect(bare.json?["error"]?["detail"] == "Data Policy Exception: the following fields are mandatory: close_code, close_notes")
            #expect(double.incident(sysID: sysID)?.state == "1", "a refused update changes nothing")

            let noted = try await send(double, "PATCH", Self.table + "/" + sysID, body: #"{"work_notes":"one"}"#)
            #expect(noted.status == 200)
            let resolved = try await send(double, "PATCH", Self.table + "/" + sysID,
                                          body: #"{"state":"6","close_code":"Solution provided","close_notes":"done","work_notes":"two"}"#)
            #expect(resolved.status == 200)
            #expect(double.incident(sysID: sysID)?.isResolved == true)
            #expect(double.incident(sysID: sysID)?.workNotes == ["one", "two"], "work notes append")
        }
    }

    @Test func queriesFilterByCorrelationIDAndState() async throws {
        try await withDouble { double in
            for id in ["fp-1", "fp-2"] {
                _ = try await send(double, "POST", Self.table, body: #"{"short_description":"x","correlation_id":"\#(id)"}"#)
            }
            func count(_ query: String) async throws -> Int? {
                let path = Self.table + "?sysparm_query=" + PercentEncoding.encode(query) + "&sysparm_fields=sys_id"
                return try await send(double, "GET", path).json?["result"]?.arrayValue?.count
            }
            #expect(try await count("correlation_id=fp-1^active=true") == 1)
            #expect(try await count("correlation_id=fp-3") == 0)
            #expect(try await count("correlation_id=fp-1^stateNOT IN6,7,8") == 1)
            #expect(try await count("correlation_id=fp-1^stateIN6,7") == 0)
            // A typo in a field name is ignored, as the real default: it matches everything.
            #expect(try await count("corelation_id=fp-1") == 2)
            #expect(try await send(double, "GET", Self.table + "?sysparm_query=" + PercentEncoding.encode("correlation_id=a^ORcorrelation_id=b")).status == 400)
            let limited = try await send(double, "GET", Self.table + "?sysparm_limit=1&sysparm_fields=sys_id,number")
            #expect(limited.json?["result"]?.arrayValue?.count == 1)
            #expect(limited.json?["result"]?.arrayValue?.first?.objectValue?.keys.sorted() == ["number", "sys_id"])
        }
    }

    @Test func faultsAreScriptedInOrder() async throws {
        try await withDouble { double in
            double.inject(.rateLimited(retryAfter: "9"))
            double.inject(.serverError(503))
            var statuses: [Int] = []
            for _ in 0..<3 { statuses.append(try await send(double, "GET", Self.table).status) }
            #expect(statuses == [429, 503, 200])
            #expect(double.calls.map(\.status) == [429, 503, 200])
        }
    }

    /// The token endpoint (issue 13 §3): a form with the registered client (and, for the
    /// password grant, user) gets a Bearer token with `expires_in`; the Table API takes
    /// only tokens it issued, until they expire by its clock or are revoked.
    @Test func theTokenEndpointIssuesBearerTokensThatExpire() async throws {
        let clock = ManualClock()
        let double = try await ServiceNowDouble.start(
            oauth: ServiceNowDoubleOAuthClient(clientID: testClientID, clientSecret: testClientSecret, lifetime: 600), now: clock.reading)
        let form = ["Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"]
        let good = "grant_type=client_credentials&client_id=\(testClientID)&client_secret=\(PercentEncoding.encode(testClientSecret))"
        let issued = try await send(double, "POST", "/oauth_token.do", body: good, headers: form)
        let wrongSecret = try await send(double, "POST", "/oauth_token.do",
                                         body: "grant_type=client_credentials&client_id=\(testClientID)&client_secret=nope", headers: form)
        let wrongGrant = try await send(double, "POST", "/oauth_token.do",
                                        body: good.replacingOccurrences(of: "client_credentials", with: "password"), headers: form)
        let asJSON = try await send(double, "POST", "/oauth_token.do", body: "{}", headers: ["Content-Type": "application/json", "Accept": "application/json"])

        let token = try #require(issued.json?["access_token"]?.stringValue)
        #expect(issued.status == 200)
        #expect(issued.json?["token_type"] == "Bearer")
        #expect(issued.json?["expires_in"] == .number(600))
        #expect(wrongSecret.status == 401 && wrongSecret.json?["error_description"] == "access_denied")
        #expect(wrongGrant.status == 400 && wrongGrant.json?["error"] == "unsupported_grant_type")
        #expect(asJSON.status == 400, "the token request is a form")

        let bearer = ["Authorization": "Bearer " + token, "Accept": "application/json"]
        #expect(try await send(double, "GET", Self.table, headers: bearer).status == 200)
        #expect(try await send(double, "GET", Self.table, headers: ["Authorization": "Bearer made-up", "Accept": "application/json"]).status == 401)
        #expect(try await send(double, "GET", Self.table, headers: ["Authorization": Self.basic, "Accept": "application/json"]).status == 401,
                "an OAuth double takes Bearer tokens only")
        clock.advance(599)
        #expect(try await send(double, "GET", Self.table, headers: bearer).status == 200)
        clock.advance(1)
        #expect(try await send(double, "GET", Self.table, headers: bearer).status == 401, "expired")

        let fresh = try #require(try await send(double, "POST", "/oauth_token.do", body: good, headers: form).json?["access_token"]?.stringValue)
        double.revokeTokens()
        #expect(try await send(double, "GET", Self.table, headers: ["Authorization": "Bearer " + fresh, "Accept": "application/json"]).status == 401,
                "revoked")
        #expect(double.tokenRequests.count == 5)
        await double.stop()
    }
}
