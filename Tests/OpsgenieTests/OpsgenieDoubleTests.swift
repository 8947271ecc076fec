import CanoSDK
import Testing
import TestSupport

/// The double enforces destinations.md §4, so a plugin that breaks the contract fails its
/// tests: raw requests, not the plugin, prove each rule.
@Suite("Opsgenie double") struct OpsgenieDoubleTests {
    struct Raw {
        let double: OpsgenieDouble
        func post(_ path: String, _ body: JSONValue?, auth: String? = "GenieKey " + testAPIKey, contentType: String = "application/json") async throws -> HTTPResponse {
            var headers = [HTTPHeader(name: "Content-Type", value: contentType)]
            if let auth { headers.append(HTTPHeader(name: "Authorization", value: auth)) }
            let request = HTTPRequest(method: "POST", url: double.apiURL + path, headers: headers, body: try body.map { try IssueCoding.encode($0) } ?? [])
            return try await BlockingThread.run { try HTTPClient().send(request) }
        }
        func get(_ path: String) async throws -> HTTPResponse {
            let request = HTTPRequest(url: double.apiURL + path, headers: [HTTPHeader(name: "Authorization", value: "GenieKey " + testAPIKey)])
            return try await BlockingThread.run { try HTTPClient().send(request) }
        }
    }

    func start() async throws -> Raw {
        _ = curlSetup
        return Raw(double: try await OpsgenieDouble.start(apiKey: testAPIKey))
    }

    func json(_ response: HTTPResponse) -> JSONValue? { try? IssueCoding.decode(JSONValue.self, from: response.body) }

    @Test func acceptsAValidCreateAsynchronously() async throws {
        let raw = try await start()
        let response = try await raw.post("/v2/alerts", ["message": "m", "alias": "a", "priority": "P2", "details": ["k": "v"], "tags": ["t"]])
        await raw.double.stop()
        #expect(response.status == 202)
        let body = try #require(json(response))
        #expect(body["result"] == "Request will be processed")
        let requestId = try #require(body["requestId"]?.stringValue)
        #expect(response.header("X-Request-Id") == requestId)
        #expect(response.header("X-RateLimit-State") == "OK")
        #expect(response.header("X-Response-Time") != nil)
        #expect(raw.double.requestStatus(requestId)?.status == "Created alert")
    }

    @Test func authMustBeAGenieKeyHeader() async throws {
        let raw = try await start()
        let missing = try await raw.post("/v2/alerts", ["message": "m"], auth: nil)
        let bearer = try await raw.post("/v2/alerts", ["message": "m"], auth: "Bearer " + testAPIKey)
        let wrong = try await raw.post("/v2/alerts", ["message": "m"], auth: "GenieKey other-key")
        await raw.double.stop()
        for response in [missing, bearer, wrong] {
            #expect(response.status == 401)
            #expect(json(response)?["message"] == "Could not authenticate")
        }
        #expect(raw.double.alerts.isEmpty)
    }

    @Test func bodiesMustBeJSON() async throws {
        let raw = try await start()
        let text = try await raw.post("/v2/alerts", ["message": "m"], contentType: "text/plain")
        await raw.double.stop()
        #expect(text.status == 415)
    }

    /// Create bodies that break one rule each, and the field the 422 must name. Built one
    /// statement at a time: as one literal it is too much for the type checker.
    static var invalidCreates: [(JSONValue, String)] {
        func long(_ count: Int) -> JSONValue { .string(String(repeating: "x", count: count)) }
        func with(_ key: String, _ value: JSONValue) -> JSONValue { .object(["message": .string("m"), key: value]) }
        let team: JSONValue = .string("x")
        var cases: [(JSONValue, String)] = []
        cases.append((.object(["alias": .string("a")]), "message"))
        cases.append((.object(["message": long(131)]), "message"))
        cases.append((with("alias", long(513)), "alias"))
        cases.append((with("description", long(15_001)), "description"))
        cases.append((with("source", long(101)), "source"))
        cases.append((with("entity", long(513)), "entity"))
        cases.append((with("tags", .array((0..<21).map { .string("t\($0)") })), "tags"))
        cases.append((with("tags", .array([long(51)])), "tags"))
        cases.append((with("details", .object(["k": .number(1)])), "details"))
        cases.append((with("details", .object(["k": long(8_000)])), "details"))
        cases.append((with("priority", .string("P6")), "priority"))
        cases.append((with("responders", .array([.object(["type": .string("group"), "name": team])])), "responders"))
        cases.append((with("responders", .array([.object(["type": .string("user"), "name": team])])), "responders"))
        cases.append((with("visible_to", .array([.object(["type": .string("team"), "name": team])])), "visible_to"))
        return cases
    }

    @Test(arguments: Self.invalidCreates)
    func createsOutsideTheContractAreRejectedNamingTheField(body: JSONValue, field: String) async throws {
        let raw = try await start()
        let response = try await raw.post("/v2/alerts", body)
        await raw.double.stop()
        #expect(response.status == 422)
        let answer = try #require(json(response))
        #expect(answer["message"] == "Request body is not processable. Please check the errors.")
        #expect(answer["errors"]?[field] != nil, "\(response.text)")
        #expect(raw.double.alerts.isEmpty)
    }

    @Test func closingAnUnknownAliasIsAcceptedThenReportedMissing() async throws {
        let raw = try await start()
        let close = try await raw.post("/v2/alerts/nope/close?identifierType=alias", ["source": "s"])
        #expect(close.status == 202)
        let requestId = try #require(json(close)?["requestId"]?.stringValue)
        let status = try await raw.get("/v2/alerts/requests/\(requestId)")
        let badType = try await raw.post("/v2/alerts/nope/close?identifierType=name", nil)
        let badBody = try await raw.post("/v2/alerts/nope/close?identifierType=alias", ["reason": "x"])
        await raw.double.stop()
        #expect(status.status == 200)
        #expect(json(status)?["data"]?["success"] == false)
        #expect(json(status)?["data"]?["status"] == "Alert does not exist")
        #expect(badType.status == 422)
        #expect(badBody.status == 422)
    }

    /// Without identifierType, Opsgenie reads the identifier as an alert id, so an alias
    /// sent that way closes nothing.
    @Test func closeByAliasNeedsTheIdentifierType() async throws {
        let raw = try await start()
        _ = try await raw.post("/v2/alerts", ["message": "m", "alias": "fp-1"])
        let byID = try await raw.post("/v2/alerts/fp-1/close", nil)
        #expect(byID.status == 202)
        #expect(raw.double.alert(alias: "fp-1")?.isOpen == true)
        _ = try await raw.post("/v2/alerts/fp-1/close?identifierType=alias", nil)
        await raw.double.stop()
        #expect(raw.double.alert(alias: "fp-1")?.isOpen == false)
    }

    @Test func injectedFaultsAnswerOnceAndProcessNothing() async throws {
        let raw = try await start()
        raw.double.inject(.rateLimited(retryAfter: 3))
        raw.double.inject(.serverError(503))
        let throttled = try await raw.post("/v2/alerts", ["message": "m", "alias": "a"])
        let failed = try await raw.post("/v2/alerts", ["message": "m", "alias": "a"])
        let ok = try await raw.post("/v2/alerts", ["message": "m", "alias": "a"])
        await raw.double.stop()
        #expect(throttled.status == 429)
        #expect(throttled.header("X-RateLimit-State") == "THROTTLED")
        #expect(throttled.header("Retry-After") == "3")
        #expect(failed.status == 503)
        #expect(ok.status == 202)
        #expect(raw.double.alerts.count == 1 && raw.double.alerts.first?.count == 1)
    }
}
