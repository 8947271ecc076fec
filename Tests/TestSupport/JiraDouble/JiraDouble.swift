import CanoSDK
import Collector

/// A Jira Cloud REST API v3 test double: real HTTP on 127.0.0.1 (ephemeral port) that
/// enforces the contract in destinations.md §5 and records every call, so tests assert on
/// what was really sent.
///
/// - Auth (§5.1): `Authorization: Basic base64(email:api_token)` exactly, else 401 with
///   Jira's error shape.
/// - JSON: a request with a body needs `Content-Type: application/json` (415 otherwise) and
///   must parse (400).
/// - `GET /rest/api/3/myself`: the account.
/// - `POST /rest/api/3/issue` (§5.2): `fields` only from the create screen (unknown ones
///   are 400 "cannot be set"), an existing project and an issue type of that project,
///   `summary` required, one line, ≤ 255 characters (UTF-16, as Java counts), `description`
///   an ADF document (v3) whose text is ≤ 32,767 characters, labels without spaces ≤ 255,
///   known priorities and components. 201 `{id, key, self}`.
/// - `GET /rest/api/3/issue/{key}`: the issue with its status (and its category), 404 when
///   unknown.
/// - `POST /rest/api/3/search/jql` (§5.3): the bounded JQL the plugin sends (`project`,
///   `labels`, `statusCategory != Done`, `ORDER BY`); unbounded JQL is 400, and JQL the
///   double does not understand is 400 too (so a plugin change cannot pass unseen). Only
///   `key`/`id` and the asked `fields` are returned, token-paginated (`isLast`, no `total`).
///   Search can lag (``searchLags``): issues created while it lags stay invisible until
///   ``catchUpSearch()``, unless named in `reconcileIssues`. The legacy `/search`
///   endpoints answer 410 Gone, as on Cloud since CHANGE-2046.
/// - `POST /rest/api/3/issue/{key}/comment` (§5.4): an ADF `body`. 201.
/// - `GET|POST /rest/api/3/issue/{key}/transitions` (§5.4): the workflow's transitions from
///   the current status (none when ``hideTransitions`` is set, as for an account without the
///   permission); POST `{"transition": {"id"}}` with an id listed, else 400. 204. The
///   workflow is Jira's default shape: from To Do or In Progress, *Start Progress* (→ In
///   Progress), *Done* (→ Done) and *Close Issue* (→ Closed); from Done or Closed only
///   *Reopen* (→ To Do).
/// - Injected faults (``inject(_:times:)``): 429 with Retry-After, 5xx, any error, an error
///   body quoting the Authorization header, a delayed answer.
public final class JiraDouble: Sendable {
    /// The recording HTTP server underneath.
    public let server: CaptureServer
    let model: JiraDoubleModel

    private init(server: CaptureServer, model: JiraDoubleModel) {
        self.server = server
        self.model = model
    }

    /// Starts a double that accepts `email` with `apiToken`, with the given projects
    /// (key → issue types; each gets the components `platform` and `storage`).
    public static func start(
        email: String, apiToken: String, projects: [String: [String]] = ["OPS": ["Bug", "Task", "Incident"]]
    ) async throws -> JiraDouble {
        let model = JiraDoubleModel(email: email, apiToken: apiToken, projects: projects)
        let server = try await CaptureServer.start { request in
            var headers: [String: String] = [:]
            for header in request.headers { headers[header.name.lowercased()] = header.value }
            let reply = model.handle(method: request.method, target: request.target, headers: headers, body: request.body)
            return CaptureServer.Response(status: reply.status, headers: reply.headers, body: reply.body, delay: reply.delay)
        }
        return JiraDouble(server: server, model: model)
    }

    /// `http://127.0.0.1:PORT`: the plugin's `url` (the site).
    public var url: String { server.baseURL }

    /// Stops the server.
    public func stop() async { await server.stop() }

    // MARK: - Configuring

    /// Answers the next `times` requests with `fault` instead of processing them: any
    /// request, or with `matching`, only requests whose "METHOD /path" contains it (such as
    /// "POST /rest/api/3/issue/OPS-1/transitions").
    public func inject(_ fault: JiraDoubleFault, times: Int = 1, matching: String? = nil) {
        model.state.withLock { $0.faults += Array(repeating: (fault, matching), count: times) }
    }

    /// While true, issues created are not found by search (Jira's eventual consistency).
    public var searchLags: Bool {
        get { model.state.withLock { $0.searchLags } }
        set { model.state.withLock { $0.searchLags = newValue } }
    }

    /// Makes every issue visible to search.
    public func catchUpSearch() { model.state.withLock { $0.unindexed.removeAll() } }

    /// While true, the transitions list is empty (an account without Transition issues).
    public var hideTransitions: Bool {
        get { model.state.withLock { $0.hideTransitions } }
        set { model.state.withLock { $0.hideTransitions = newValue } }
    }

    /// Moves an issue to a status directly, as a person would in the UI.
    public func setStatus(_ key: String, to status: String) {
        model.state.withLock { s in
            guard let index = s.issues.firstIndex(where: { $0.key == key }) else { return }
            s.issues[index].status = status
        }
    }

    /// Deletes an issue, as a person would in the UI.
    public func delete(_ key: String) {
        model.state.withLock { $0.issues.removeAll { $0.key == key } }
    }

    // MARK: - Inspecting

    /// Every request received, in order. A call is recorded once answered, after its effect
    /// on the double's state: a test that reads a call waits for the call, not for the effect.
    public var calls: [JiraDoubleCall] { model.state.withLock { $0.calls } }

    /// Creates (`POST /rest/api/3/issue`) received, accepted or not.
    public var creates: [JiraDoubleCall] { calls.filter { $0.method == "POST" && $0.path == "/rest/api/3/issue" } }

    /// Comments received, accepted or not.
    public var commentCalls: [JiraDoubleCall] { calls.filter { $0.method == "POST" && $0.path.hasSuffix("/comment") } }

    /// Searches received.
    public var searches: [JiraDoubleCall] { calls.filter { $0.path.hasPrefix("/rest/api/3/search") } }

    /// Transitions performed (POST), accepted or not.
    public var transitionCalls: [JiraDoubleCall] { calls.filter { $0.method == "POST" && $0.path.hasSuffix("/transitions") } }

    /// Every issue, in creation order.
    public var issues: [JiraDoubleIssue] { model.state.withLock { $0.issues } }

    /// The issue with this key.
    public func issue(_ key: String) -> JiraDoubleIssue? { issues.first { $0.key == key } }
}
