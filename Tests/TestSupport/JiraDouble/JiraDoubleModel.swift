#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Synchronization

/// An issue as the double stores it.
public struct JiraDoubleIssue: Sendable, Equatable {
    public var id: String
    public var key: String
    public var project: String
    /// "To Do", "In Progress", "Done" or "Closed".
    public var status: String
    /// The create request's `fields`, as sent.
    public var fields: [String: JSONValue]
    /// Comment bodies (ADF), in order.
    public var comments: [JSONValue]
    /// The names of the transitions performed, in order.
    public var transitions: [String]

    public var summary: String? { fields["summary"]?.stringValue }
    public var labels: [String] { fields["labels"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
    /// The status category key: "new", "indeterminate" or "done".
    public var statusCategory: String { JiraDoubleModel.category(of: status) }
    /// The description's text, paragraphs separated by blank lines, hard breaks as newlines.
    public var descriptionText: String { fields["description"].map(JiraDoubleModel.plainText) ?? "" }
    /// Each comment's text.
    public var commentTexts: [String] { comments.map(JiraDoubleModel.plainText) }
}

/// One request the double received, with what it answered.
public struct JiraDoubleCall: Sendable {
    public var method: String
    /// The path, percent-decoded, without the query.
    public var path: String
    public var query: [String: String]
    /// Every request header, lower-cased names.
    public var headers: [String: String]
    /// The body as JSON, when it was JSON.
    public var body: JSONValue?
    public var rawBody: [UInt8]
    /// The HTTP status answered.
    public var status: Int
    /// `errorMessages` of an error answer.
    public var errorMessages: [String]
    /// `errors` of an error answer: field → problem.
    public var errors: [String: String]
}

/// A failure to answer instead of processing the next request.
public enum JiraDoubleFault: Sendable, Equatable {
    /// HTTP 429 with `RateLimit-Reason: jira-burst-based` and, when given, `Retry-After: seconds`.
    case rateLimited(retryAfter: Int?)
    /// An HTTP 5xx with Jira's error shape.
    case serverError(Int)
    /// Any status with Jira's error shape.
    case error(status: Int, messages: [String], errors: [String: String])
    /// An error whose message quotes the request's `Authorization` header, as some
    /// gateways do: the plugin must not pass the credential on.
    case echoCredentials(status: Int)
    /// Answer only after this long (for client timeouts), then behave normally.
    case delay(Duration)
    /// A web page with this status instead of the API (a proxy's maintenance page):
    /// nothing is processed.
    case page(status: Int)
    /// Process normally, then answer this status instead (a gateway that timed out while
    /// Jira did the work): the answer is lost, without any timing.
    case processedThen(status: Int)
}

/// The answer to one request.
struct JiraDoubleReply: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    var delay: Duration?
}

/// The double's behaviour, free of HTTP: a request in, a reply out (destinations.md §5).
final class JiraDoubleModel: Sendable {
    struct State {
        var issues: [JiraDoubleIssue] = []
        var calls: [JiraDoubleCall] = []
        /// Pending faults; one with a `match` applies only to a request whose "METHOD /path" contains it.
        var faults: [(fault: JiraDoubleFault, match: String?)] = []
        var searchLags = false
        /// Keys created while search lagged, invisible to search.
        var unindexed: Set<String> = []
        var hideTransitions = false
        var nextId = 10_000
        var nextNumber: [String: Int] = [:]
    }

    /// A transition of the double's workflow.
    struct Transition {
        var id: String
        var name: String
        var to: String
        /// Offered from a status in the Done category (Reopen), else only from open ones.
        var fromDone = false
    }

    let email: String
    let apiToken: String
    let projects: [String: [String]]
    let state = Mutex(State())

    static let statuses: [String: String] = ["To Do": "new", "In Progress": "indeterminate", "Done": "done", "Closed": "done"]
    /// The workflow, shaped like Jira's default: from an open status every transition to
    /// another open or done status; from a done one only Reopen, back to To Do.
    static let workflow: [Transition] = [
        Transition(id: "11", name: "Reopen", to: "To Do", fromDone: true),
        Transition(id: "21", name: "Start Progress", to: "In Progress"),
        Transition(id: "31", name: "Done", to: "Done"),
        Transition(id: "41", name: "Close Issue", to: "Closed"),
    ]
    static let components: Set<String> = ["platform", "storage"]
    static let priorities: Set<String> = ["Highest", "High", "Medium", "Low", "Lowest"]
    /// Fields on the double's create screen.
    static let createFields: Set<String> = [
        "project", "issuetype", "summary", "description", "labels", "priority", "components", "assignee", "reporter", "duedate",
        "environment",
    ]
    static let searchKeys: Set<String> = ["jql", "maxResults", "fields", "nextPageToken", "reconcileIssues", "expand", "properties", "fieldsByKeys"]
    static let summaryLimit = 255
    static let richTextLimit = 32_767

    init(email: String, apiToken: String, projects: [String: [String]]) {
        self.email = email
        self.apiToken = apiToken
        self.projects = projects
    }

    static func category(of status: String) -> String { statuses[status] ?? "indeterminate" }

    func handle(method: String, target: String, headers: [String: String], body: [UInt8]) -> JiraDoubleReply {
        let (segments, query) = Self.split(target)
        var call = JiraDoubleCall(
            method: method, path: "/" + segments.joined(separator: "/"), query: query, headers: headers,
            body: try? IssueCoding.decode(JSONValue.self, from: body), rawBody: body, status: 0, errorMessages: [], errors: [:])
        let line = "\(method) \(call.path)"
        let fault = state.withLock { s -> JiraDoubleFault? in
            guard let index = s.faults.firstIndex(where: { $0.match.map(line.contains) ?? true }) else { return nil }
            return s.faults.remove(at: index).fault
        }
        var reply: JiraDoubleReply
        switch fault {
        case .delay(let duration)?:
            // Processed now, answered late: what a client that timed out and retries meets.
            reply = route(&call, segments: segments, headers: headers)
            reply.delay = duration
        case .processedThen(let status)?:
            _ = route(&call, segments: segments, headers: headers)
            reply = Self.error(status, ["Gateway Timeout"], call: &call)
        case let fault?:
            reply = Self.faultReply(fault, call: &call, headers: headers)
        case nil:
            reply = route(&call, segments: segments, headers: headers)
        }
        call.status = reply.status
        let recorded = call
        state.withLock { $0.calls.append(recorded) }
        return reply
    }

    private var expectedAuthorization: String {
        "Basic " + Data((email + ":" + apiToken).utf8).base64EncodedString()
    }

    /// Validates and processes one request.
    private func route(_ call: inout JiraDoubleCall, segments: [String], headers: [String: String]) -> JiraDoubleReply {
        guard headers["authorization"] == expectedAuthorization else {
            return Self.error(401, ["Client must be authenticated to access this resource."], call: &call)
        }
        guard segments.count >= 3, segments[0] == "rest", segments[1] == "api" else {
            return Self.error(404, ["No resource at \(call.path)"], call: &call)
        }
        if segments.count == 4, segments[3] == "search" {
            return Self.error(410, ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."], call: &call)
        }
        guard segments[2] == "3" else {
            return Self.error(404, ["The double models REST API v3 only (\(call.path))"], call: &call)
        }
        if !call.rawBody.isEmpty {
            guard headers["content-type"]?.lowercased().hasPrefix("application/json") == true else {
                return Self.error(415, ["Unsupported Media Type: send Content-Type: application/json"], call: &call)
            }
            guard call.body != nil else { return Self.error(400, ["Unexpected character: the body is not JSON"], call: &call) }
        }
        let rest = Array(segments.dropFirst(3))
        switch (call.method, rest.count) {
        case ("GET", 1) where rest[0] == "myself":
            return Self.json(200, ["accountId": "5b10ac8d82e05b22cc7d4ef5", "emailAddress": .string(email), "active": true])
        case ("POST", 1) where rest[0] == "issue":
            return create(&call)
        case ("GET", 2) where rest[0] == "issue":
            guard let issue = find(rest[1]) else { return Self.notFound(&call) }
            return Self.json(200, Self.render(issue, fields: ["status", "summary", "labels"]))
        case ("POST", 3) where rest[0] == "issue" && rest[2] == "comment":
            return comment(key: rest[1], call: &call)
        case ("GET", 3) where rest[0] == "issue" && rest[2] == "transitions":
            guard let issue = find(rest[1]) else { return Self.notFound(&call) }
            let list = available(for: issue).map { t -> JSONValue in
                .object(["id": .string(t.id), "name": .string(t.name),
                         "to": .object(["name": .string(t.to), "statusCategory": .object(["key": .string(Self.category(of: t.to))])])])
            }
            return Self.json(200, ["transitions": .array(list)])
        case ("POST", 3) where rest[0] == "issue" && rest[2] == "transitions":
            return transition(key: rest[1], call: &call)
        case ("POST", 2) where rest[0] == "search" && rest[1] == "jql":
            return search(call.body ?? .object([:]), call: &call)
        default:
            return Self.error(404, ["No resource at \(call.method) \(call.path)"], call: &call)
        }
    }

    // MARK: - Endpoints

    private func create(_ call: inout JiraDoubleCall) -> JiraDoubleReply {
        guard case .object(let top)? = call.body, case .object(let fields)? = top["fields"] else {
            return Self.error(400, ["Can not deserialize the request: \"fields\" is required"], call: &call)
        }
        var errors: [String: String] = [:]
        for key in fields.keys where !Self.createFields.contains(key) {
            errors[key] = "Field '\(key)' cannot be set. It is not on the appropriate screen, or unknown."
        }
        let projectKey = fields["project"]?["key"]?.stringValue
        let types = projectKey.flatMap { projects[$0] }
        if types == nil { errors["project"] = "valid project is required" }
        if let types, !types.contains(fields["issuetype"]?["name"]?.stringValue ?? "") {
            errors["issuetype"] = "Specify a valid issue type"
        }
        switch fields["summary"] {
        case .string(let summary)? where !summary.allSatisfy(\.isWhitespace):
            if summary.utf16.count > Self.summaryLimit { errors["summary"] = "Summary must be less than 255 characters." }
            if summary.contains(where: \.isNewline) { errors["summary"] = "The summary is invalid because it contains newline characters." }
        default: errors["summary"] = "You must specify a summary of the issue."
        }
        if let description = fields["description"], let problem = Self.adfProblem(description) { errors["description"] = problem }
        if let labels = fields["labels"] {
            let names = labels.arrayValue?.compactMap(\.stringValue) ?? []
            if names.count != labels.arrayValue?.count ?? -1 {
                errors["labels"] = "labels must be a list of strings"
            } else if let bad = names.first(where: { $0.isEmpty || $0.contains(where: \.isWhitespace) || $0.utf16.count > 255 }) {
                errors["labels"] = "The label '\(bad)' contains spaces which is invalid, or is longer than 255 characters."
            }
        }
        if let priority = fields["priority"] {
            if let name = priority["name"]?.stringValue {
                if !Self.priorities.contains(name) { errors["priority"] = "Priority name '\(name)' is not valid" }
            } else {
                errors["priority"] = "Specify the Priority (id or name) in the string format"
            }
        }
        if let components = fields["components"] {
            for item in components.arrayValue ?? [.null] where !Self.components.contains(item["name"]?.stringValue ?? "") {
                errors["components"] = "Component name '\(item["name"]?.stringValue ?? "")' is not valid"
            }
        }
        guard errors.isEmpty, let projectKey else { return Self.error(400, [], errors: errors, call: &call) }
        let issue = state.withLock { s -> JiraDoubleIssue in
            s.nextId += 1
            let number = (s.nextNumber[projectKey] ?? 0) + 1
            s.nextNumber[projectKey] = number
            let issue = JiraDoubleIssue(id: String(s.nextId), key: "\(projectKey)-\(number)", project: projectKey, status: "To Do",
                                        fields: fields, comments: [], transitions: [])
            s.issues.append(issue)
            if s.searchLags { s.unindexed.insert(issue.key) }
            return issue
        }
        return Self.json(201, ["id": .string(issue.id), "key": .string(issue.key), "self": .string("/rest/api/3/issue/\(issue.id)")])
    }

    private func comment(key: String, call: inout JiraDoubleCall) -> JiraDoubleReply {
        guard let issue = find(key) else { return Self.notFound(&call) }
        guard let body = call.body?["body"] else { return Self.error(400, [], errors: ["comment": "Comment body can not be empty!"], call: &call) }
        if let problem = Self.adfProblem(body) { return Self.error(400, [], errors: ["comment": problem], call: &call) }
        let id = state.withLock { s -> String in
            s.nextId += 1
            if let index = s.issues.firstIndex(where: { $0.key == issue.key }) { s.issues[index].comments.append(body) }
            return String(s.nextId)
        }
        return Self.json(201, ["id": .string(id), "body": body])
    }

    private func transition(key: String, call: inout JiraDoubleCall) -> JiraDoubleReply {
        guard let issue = find(key) else { return Self.notFound(&call) }
        guard let id = call.body?["transition"]?["id"]?.stringValue else {
            return Self.error(400, ["Missing 'transition' identifier"], call: &call)
        }
        guard let chosen = available(for: issue).first(where: { $0.id == id }) else {
            return Self.error(400, ["Transition id '\(id)' is not valid for this issue."], call: &call)
        }
        state.withLock { s in
            guard let index = s.issues.firstIndex(where: { $0.key == issue.key }) else { return }
            s.issues[index].status = chosen.to
            s.issues[index].transitions.append(chosen.name)
        }
        return JiraDoubleReply(status: 204, headers: [], body: [], delay: nil)
    }

    private func search(_ body: JSONValue, call: inout JiraDoubleCall) -> JiraDoubleReply {
        guard case .object(let request) = body else { return Self.error(400, ["The request body must be an object"], call: &call) }
        if let unknown = request.keys.sorted().first(where: { !Self.searchKeys.contains($0) }) {
            return Self.error(400, ["Unrecognized field \"\(unknown)\""], call: &call)
        }
        guard let jql = request["jql"]?.stringValue else { return Self.error(400, ["jql is required"], call: &call) }
        let max = Int(request["maxResults"]?.numberValue ?? 50)
        guard max >= 1, max <= 5000 else { return Self.error(400, ["maxResults must be between 1 and 5000"], call: &call) }
        let fields = request["fields"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let reconcile = Set((request["reconcileIssues"]?.arrayValue ?? []).compactMap { $0.numberValue.map { String(Int($0)) } })
        let query: JQL
        switch JQL.parse(jql) {
        case .failure(let problem): return Self.error(400, [problem.message], call: &call)
        case .success(let q): query = q
        }
        guard let project = query.project else {
            return Self.error(400, ["Unbounded JQL queries are not allowed here. Please add a search restriction to your query."], call: &call)
        }
        guard projects[project] != nil else {
            return Self.error(400, ["The value '\(project)' does not exist for the field 'project'."], call: &call)
        }
        let (issues, unindexed) = state.withLock { ($0.issues, $0.unindexed) }
        var matches = issues.filter { issue in
            (!unindexed.contains(issue.key) || reconcile.contains(issue.id)) && query.matches(issue)
        }
        if query.newestFirst { matches.reverse() }
        let page = matches.prefix(max).map { JSONValue.object(Self.render($0, fields: fields)) }
        return Self.json(200, ["issues": .array(Array(page)), "isLast": .bool(matches.count <= max)])
    }

    private func find(_ key: String) -> JiraDoubleIssue? {
        state.withLock { s in s.issues.first { $0.key == key } }
    }

    private func available(for issue: JiraDoubleIssue) -> [Transition] {
        state.withLock { $0.hideTransitions } ? [] : Self.workflow.filter { $0.to != issue.status && $0.fromDone == (issue.statusCategory == "done") }
    }

    // MARK: - JQL

    /// The JQL the double understands: `clause AND clause ... [ORDER BY ...]`, each clause
    /// `project = X`, `labels = X`, `statusCategory = X` or `statusCategory != X` (values
    /// bare or double-quoted). Anything else is a 400, as a JQL error is on Jira.
    /// A JQL text the double cannot run, with Jira's wording.
    struct JQLError: Error {
        var message: String
    }

    struct JQL {
        var project: String?
        var labels: [String] = []
        var categoryIs: String?
        var categoryIsNot: String?
        var newestFirst = false

        static func parse(_ text: String) -> Result<JQL, JQLError> {
            var query = JQL()
            var body = Substring(text)
            if let order = text.range(of: " ORDER BY ", options: .caseInsensitive) {
                let ordering = text[order.upperBound...].lowercased()
                query.newestFirst = ordering.contains("created desc") || ordering.contains("key desc")
                body = text[..<order.lowerBound]
            }
            for raw in body.components(separatedBy: " AND ") {
                let clause = raw.trimmingCharacters(in: .whitespaces)
                let (field, op, value): (String, String, String)
                if let r = clause.range(of: "!=") {
                    (field, op, value) = (String(clause[..<r.lowerBound]), "!=", String(clause[r.upperBound...]))
                } else if let r = clause.range(of: "=") {
                    (field, op, value) = (String(clause[..<r.lowerBound]), "=", String(clause[r.upperBound...]))
                } else {
                    return .failure(JQLError(message: "Error in the JQL Query: the double does not understand \"\(clause)\""))
                }
                var v = value.trimmingCharacters(in: .whitespaces)
                if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
                switch (field.trimmingCharacters(in: .whitespaces).lowercased(), op) {
                case ("project", "="): query.project = v
                case ("labels", "="): query.labels.append(v)
                case ("statuscategory", "="): query.categoryIs = v.lowercased()
                case ("statuscategory", "!="): query.categoryIsNot = v.lowercased()
                default: return .failure(JQLError(message: "Error in the JQL Query: the double does not understand \"\(clause)\""))
                }
            }
            return .success(query)
        }

        /// Category names as JQL spells them → keys.
        static func categoryKey(_ name: String) -> String {
            switch name {
            case "done": "done"
            case "to do", "new": "new"
            default: "indeterminate"
            }
        }

        func matches(_ issue: JiraDoubleIssue) -> Bool {
            if let project, issue.project != project { return false }
            if !labels.allSatisfy(issue.labels.contains) { return false }
            if let categoryIs, issue.statusCategory != Self.categoryKey(categoryIs) { return false }
            if let categoryIsNot, issue.statusCategory == Self.categoryKey(categoryIsNot) { return false }
            return true
        }
    }

    // MARK: - ADF

    static let adfNodes: Set<String> = [
        "doc", "paragraph", "text", "hardBreak", "heading", "bulletList", "orderedList", "listItem", "codeBlock", "rule", "blockquote",
    ]

    /// Why `value` is not an ADF document Jira would accept (a `doc` of version 1 with a
    /// content array, known node types, text nodes non-empty, text ≤ 32,767 UTF-16 units); nil when fine.
    static func adfProblem(_ value: JSONValue) -> String? {
        guard value["type"]?.stringValue == "doc", value["version"]?.numberValue == 1, value["content"]?.arrayValue != nil else {
            return "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        }
        var total = 0
        func walk(_ node: JSONValue) -> String? {
            guard let type = node["type"]?.stringValue, adfNodes.contains(type) else { return "INVALID_INPUT: unknown ADF node \(node["type"] ?? .null)" }
            if type == "text" {
                guard let text = node["text"]?.stringValue, !text.isEmpty else { return "INVALID_INPUT: a text node must have non-empty text" }
                total += text.utf16.count
            }
            for child in node["content"]?.arrayValue ?? [] {
                if let problem = walk(child) { return problem }
            }
            return nil
        }
        if let problem = walk(value) { return problem }
        return total > richTextLimit ? "The entered text is too long. It exceeds the allowed limit of 32,767 characters." : nil
    }

    /// An ADF document as text: paragraphs separated by blank lines, hard breaks as newlines.
    static func plainText(_ value: JSONValue) -> String {
        (value["content"]?.arrayValue ?? []).map { paragraph in
            (paragraph["content"]?.arrayValue ?? []).map { node in
                node["type"]?.stringValue == "hardBreak" ? "\n" : (node["text"]?.stringValue ?? "")
            }.joined()
        }.joined(separator: "\n\n")
    }

    // MARK: - Replies

    /// An issue as `GET /issue` and search return it: `id`, `key` and the asked fields.
    static func render(_ issue: JiraDoubleIssue, fields: [String]) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for name in fields {
            switch name {
            case "status":
                out["status"] = .object(["name": .string(issue.status), "statusCategory": .object(["key": .string(issue.statusCategory)])])
            case "summary": out["summary"] = issue.fields["summary"] ?? .null
            case "labels": out["labels"] = .array(issue.labels.map(JSONValue.string))
            default: break
            }
        }
        return ["id": .string(issue.id), "key": .string(issue.key), "self": .string("/rest/api/3/issue/\(issue.id)"), "fields": .object(out)]
    }

    static func json(_ status: Int, _ object: [String: JSONValue], extraHeaders: [(name: String, value: String)] = []) -> JiraDoubleReply {
        JiraDoubleReply(status: status, headers: [("Content-Type", "application/json;charset=UTF-8")] + extraHeaders,
                        body: (try? IssueCoding.encode(JSONValue.object(object))) ?? [], delay: nil)
    }

    static func error(
        _ status: Int, _ messages: [String], errors: [String: String] = [:], call: inout JiraDoubleCall,
        extraHeaders: [(name: String, value: String)] = []
    ) -> JiraDoubleReply {
        call.errorMessages = messages
        call.errors = errors
        return json(status, ["errorMessages": .array(messages.map(JSONValue.string)), "errors": .object(errors.mapValues(JSONValue.string))],
                    extraHeaders: extraHeaders)
    }

    static func notFound(_ call: inout JiraDoubleCall) -> JiraDoubleReply {
        error(404, ["Issue does not exist or you do not have permission to see it."], call: &call)
    }

    static func faultReply(_ fault: JiraDoubleFault, call: inout JiraDoubleCall, headers: [String: String]) -> JiraDoubleReply {
        switch fault {
        case .rateLimited(let retryAfter):
            var extra: [(name: String, value: String)] = [("RateLimit-Reason", "jira-burst-based"), ("X-RateLimit-Remaining", "0")]
            if let retryAfter { extra.append(("Retry-After", String(retryAfter))) }
            return error(429, ["Rate limit exceeded."], call: &call, extraHeaders: extra)
        case .serverError(let status):
            return error(status, ["Internal server error"], call: &call)
        case .error(let status, let messages, let errors):
            return error(status, messages, errors: errors, call: &call)
        case .echoCredentials(let status):
            return error(status, ["Rejected credentials: Authorization: \(headers["authorization"] ?? "")"], call: &call)
        case .delay, .processedThen:
            return error(500, ["unreachable"], call: &call)
        case .page(let status):
            return JiraDoubleReply(status: status, headers: [("Content-Type", "text/html;charset=UTF-8")],
                                   body: Array("<html><body>Down for maintenance</body></html>".utf8), delay: nil)
        }
    }

    /// "/rest/api/3/issue/OPS-1?fields=status" → (["rest", "api", "3", "issue", "OPS-1"],
    /// ["fields": "status"]): split before decoding, so an encoded "/" stays in its segment.
    static func split(_ target: String) -> (segments: [String], query: [String: String]) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let rawPath = parts.first.map(String.init) ?? ""
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
                query[key] = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
            }
        }
        let segments = rawPath.split(separator: "/", omittingEmptySubsequences: true).map { String($0).removingPercentEncoding ?? String($0) }
        return (segments, query)
    }
}
