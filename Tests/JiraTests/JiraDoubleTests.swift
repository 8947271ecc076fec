import CanoSDK
import Foundation
import Testing
import TestSupport

/// The double enforces §5's contract: requests a real Jira would refuse are refused, so a
/// plugin that passes against it is not merely passing against a lenient fake.
@Suite("Jira double") struct JiraDoubleTests {
    struct Client {
        let jira: JiraDouble
        func send(_ method: String, _ path: String, body: String? = nil, auth: String? = nil, contentType: String = "application/json") async throws -> HTTPResponse {
            var headers = [HTTPHeader(name: "Authorization", value: auth ?? ("Basic " + testBasic))]
            if body != nil { headers.append(HTTPHeader(name: "Content-Type", value: contentType)) }
            let request = HTTPRequest(method: method, url: jira.url + path, headers: headers, body: body.map { Array($0.utf8) })
            return try await BlockingThread.run { () throws(HTTPClientError) -> HTTPResponse in try HTTPClient().send(request) }
        }
    }

    static func errors(_ response: HTTPResponse) -> String {
        let value = try? IssueCoding.decode(JSONValue.self, from: response.body)
        let messages = (value?["errorMessages"]?.arrayValue ?? []).compactMap(\.stringValue)
        let fields = (value?["errors"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.stringValue ?? "")" }
        return (messages + fields).joined(separator: "; ")
    }

    /// The names `GET /issue/{key}/transitions` lists for `key`, in order.
    static func transitionNames(_ c: Client, _ key: String) async throws -> [String] {
        let response = try await c.send("GET", "/rest/api/3/issue/\(key)/transitions")
        let value = try IssueCoding.decode(JSONValue.self, from: response.body)
        return (value["transitions"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }

    static let validCreate = #"{"fields":{"project":{"key":"OPS"},"issuetype":{"name":"Bug"},"summary":"s","labels":["a"]}}"#

    @Test func refusesWhatJiraRefuses() async throws {
        _ = curlSetup
        let jira = try await JiraDouble.start(email: testEmail, apiToken: testToken)
        let c = Client(jira: jira)

        let wrongAuth = try await c.send("GET", "/rest/api/3/myself", auth: "Bearer " + testToken)
        #expect(wrongAuth.status == 401)
        let notJSON = try await c.send("POST", "/rest/api/3/issue", body: Self.validCreate, contentType: "text/plain")
        #expect(notJSON.status == 415)
        let legacy = try await c.send("POST", "/rest/api/3/search", body: #"{"jql":"project = OPS"}"#)
        #expect(legacy.status == 410)
        let unbounded = try await c.send("POST", "/rest/api/3/search/jql", body: #"{"jql":"labels = x"}"#)
        #expect(unbounded.status == 400 && Self.errors(unbounded).contains("Unbounded JQL"))
        let unknownJQL = try await c.send("POST", "/rest/api/3/search/jql", body: #"{"jql":"project = OPS AND text ~ x"}"#)
        #expect(unknownJQL.status == 400)

        let long = try await c.send("POST", "/rest/api/3/issue", body: Self.validCreate.replacing(#""summary":"s""#, with: "\"summary\":\"\(String(repeating: "x", count: 256))\""))
        #expect(long.status == 400 && Self.errors(long) == "summary: Summary must be less than 255 characters.")
        let emoji = try await c.send("POST", "/rest/api/3/issue", body: Self.validCreate.replacing(#""summary":"s""#, with: "\"summary\":\"\(String(repeating: "😀", count: 128))\""))
        #expect(emoji.status == 400, "128 emoji are 256 UTF-16 units")
        let noSummary = try await c.send("POST", "/rest/api/3/issue", body: Self.validCreate.replacing(#""summary":"s","#, with: ""))
        #expect(Self.errors(noSummary) == "summary: You must specify a summary of the issue.")
        let plainDescription = try await c.send("POST", "/rest/api/3/issue", body: Self.validCreate.replacing(#""labels":["a"]"#, with: #""description":"plain v2 text""#))
        #expect(plainDescription.status == 400 && Self.errors(plainDescription).hasPrefix("description: Operation value must be an Atlassian Document"))
        let unknownField = try await c.send("POST", "/rest/api/3/issue", body: Self.validCreate.replacing(#""labels":["a"]"#, with: #""customfield_1":"x""#))
        #expect(Self.errors(unknownField).contains("Field 'customfield_1' cannot be set"))
        let spaceLabel = try await c.send("POST", "/rest/api/3/issue", body: Self.validCreate.replacing(#"["a"]"#, with: #"["a b"]"#))
        #expect(spaceLabel.status == 400)

        let created = try await c.send("POST", "/rest/api/3/issue", body: Self.validCreate)
        #expect(created.status == 201)
        let badTransition = try await c.send("POST", "/rest/api/3/issue/OPS-1/transitions", body: #"{"transition":{"id":"99"}}"#)
        #expect(badTransition.status == 400 && Self.errors(badTransition) == "Transition id '99' is not valid for this issue.")
        // A workflow like Jira's default: Reopen only from a done status, the others only to it.
        #expect(try await Self.transitionNames(c, "OPS-1") == ["Start Progress", "Done", "Close Issue"])
        let done = try await c.send("POST", "/rest/api/3/issue/OPS-1/transitions", body: #"{"transition":{"id":"31"}}"#)
        #expect(done.status == 204)
        #expect(try await Self.transitionNames(c, "OPS-1") == ["Reopen"])
        let closeAgain = try await c.send("POST", "/rest/api/3/issue/OPS-1/transitions", body: #"{"transition":{"id":"41"}}"#)
        #expect(closeAgain.status == 400, "Close Issue is not offered from Done")
        let reopen = try await c.send("POST", "/rest/api/3/issue/OPS-1/transitions", body: #"{"transition":{"id":"11"}}"#)
        #expect(reopen.status == 204)
        #expect(jira.issue("OPS-1")?.status == "To Do")
        #expect(jira.issue("OPS-1")?.transitions == ["Done", "Reopen"])
        let emptyComment = try await c.send("POST", "/rest/api/3/issue/OPS-1/comment", body: #"{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":""}]}]}}"#)
        #expect(emptyComment.status == 400)
        let missing = try await c.send("GET", "/rest/api/3/issue/OPS-9")
        #expect(missing.status == 404)
        await jira.stop()
        #expect(jira.issues.count == 1, "only the valid create made an issue")
    }
}
