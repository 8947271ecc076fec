#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Synchronization

/// Small persistent state the notifier keeps between deliveries: the host's key-value store
/// in the plugin (it survives restarts), a dictionary in tests.
protocol JiraStateStore: Sendable {
    func get(_ key: String) -> String?
    func put(_ key: String, _ value: String)
    func delete(_ key: String)
}

/// A ``JiraStateStore`` in memory: for tests, and what a restart forgets.
final class MemoryJiraState: JiraStateStore {
    private let values = Mutex<[String: String]>([:])
    init() {}
    func get(_ key: String) -> String? { values.withLock { $0[key] } }
    func put(_ key: String, _ value: String) { values.withLock { $0[key] = value } }
    func delete(_ key: String) { _ = values.withLock { $0.removeValue(forKey: key) } }
    /// Every key stored, for tests.
    var keys: [String] { values.withLock { $0.keys.sorted() } }
}

/// The Jira destination's logic, free of the C ABI: tests drive it with a log closure and
/// a state store of their own; ``Jira`` adapts it to the host.
///
/// One Jira issue per fingerprint while it is open (destinations.md §5):
/// - firing: find the fingerprint's open issue: the delivery's `reference` (the key this
///   plugin returned before), else the key remembered in the state store, each read with
///   `GET /issue/{key}` (consistent, unlike search), else `POST /search/jql` for the
///   dedup label in the project with `statusCategory != Done`. Found: add a "still
///   firing" comment. None: `POST /issue` with the dedup label. The key is returned as the
///   reference and remembered.
/// - firing with `reopen_transition`: the same, but the search includes done issues. When
///   no issue is open and one is done (a key read directly first, else the newest the
///   search found), it gets a "firing again" comment and the transition instead of a new
///   issue being created.
/// - resolved: find the open issue the same way; none: nothing to do (an issue is never
///   created for a resolve). Else comment, then, with `resolve_transition`, list the
///   issue's transitions and perform the one of that name (or leading to a status of that
///   name).
/// - A resolve or reopen comment already posted by an earlier attempt of the same
///   delivery (the transition failed after it) is not posted again: a checkpoint in the
///   state store, keyed by the idempotency key, says so.
/// - A configured transition the issue does not offer is permanent: the message names the
///   config key and lists the transitions offered (see ``transition(_:named:setting:deadline:)``).
/// - Results go through ``HTTPOutcome``: 2xx delivered; 408, 429 and 5xx retry, honouring
///   `Retry-After`; other statuses are permanent, with Jira's `errorMessages`/`errors`.
final class JiraNotifier: @unchecked Sendable {
    /// Writes one log line: (level, message, fields).
    typealias Log = @Sendable (HostServices.LogLevel, String, [String: String]) -> Void

    /// The REST API prefix: v3 (ADF rich text; `/search/jql` lives there).
    static let apiPath = "/rest/api/3"

    let config: JiraConfig
    private let secrets: [[UInt8]]
    private let state: any JiraStateStore
    private let log: Log
    /// One client: the host serialises calls on an instance (no CANO_FLAG_REENTRANT), so one
    /// libcurl handle and its kept-alive connection serve every delivery. @unchecked
    /// Sendable rests on that serialisation.
    private let client = HTTPClient()

    init(config: JiraConfig, state: any JiraStateStore, log: @escaping Log) {
        self.config = config
        self.secrets = config.secrets
        self.state = state
        self.log = log
    }

    // MARK: - Credential check

    /// `GET /rest/api/3/myself`, bounded by `timeout` like every call (the host creates
    /// destinations in parallel, so this holds the start once): throws when Jira rejects
    /// the credentials (401, 403), so a
    /// wrong token shows at start-up rather than at the first alert. Anything else (Jira
    /// unreachable, 5xx, an answer that is not Jira's) only logs a warning: deliveries
    /// retry on their own.
    func checkCredentials() throws(PluginError) {
        let request = HTTPRequest(
            method: "GET", url: config.url + Self.apiPath + "/myself", headers: headers(json: false),
            timeout: config.timeout, connectTimeout: config.timeout,
            maxResponseBytes: 64 * 1024)
        let response: HTTPResponse
        do {
            response = try client.send(request)
        } catch {
            let message = HTTPOutcome.classify(error, secrets: secrets)
            log(.warning, "jira credential check skipped: Jira did not answer", ["reason": Self.message(of: message)])
            return
        }
        switch response.status {
        case 200..<300:
            log(.debug, "jira credentials accepted", ["origin": config.origin])
        case 401, 403:
            let result = HTTPOutcome.classify(response, origin: config.origin, detail: explanation(response, step: "GET /rest/api/3/myself"), secrets: secrets)
            throw PluginError("Jira rejected the credentials: \(Self.message(of: result))")
        default:
            let result = HTTPOutcome.classify(response, origin: config.origin, detail: explanation(response, step: "GET /rest/api/3/myself"), secrets: secrets)
            log(.warning, "jira credential check inconclusive", ["reason": Self.message(of: result)])
        }
    }

    // MARK: - Delivery

    /// Creates, comments on or resolves the fingerprint's issue; blocks until done or the
    /// deadline (each call also bounded by `timeout`).
    func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        let result: DeliveryResult
        switch request.issue.status {
        case .firing: result = fire(request)
        case .resolved: result = resolve(request)
        }
        switch result {
        case .delivered(let reference, let message):
            log(.debug, "jira delivery done", ["issue": reference ?? "", "fingerprint": request.issue.fingerprint, "result": message])
        case .retry(_, let message), .permanent(let message):
            log(.warning, "jira delivery failed", ["fingerprint": request.issue.fingerprint, "reason": message])
        }
        return result
    }

    /// Comments on the fingerprint's open issue; else reopens its done one (with
    /// `reopen_transition`); else creates an issue.
    private func fire(_ request: DeliveryRequest) -> DeliveryResult {
        let issue = request.issue
        let open: String?
        switch findIssue(request, includeDone: config.reopenTransition != nil) {
        case .failure(let failure): return failure.result
        case .success(.open(let key)): open = key
        case .success(.done(let key)):
            // Only found when reopen_transition is set (includeDone).
            guard let name = config.reopenTransition else { open = nil; break }
            return reopen(key, with: name, request: request)
        case .success(.none):
            open = nil
            // A create whose answer was lost may have made the issue, and Jira's search lags
            // behind a new issue: wait until it can be trusted instead of creating a twin.
            if let since = state.get(Self.creatingKey(issue.fingerprint)).flatMap(Int64.init) {
                let age = Int64(Date().timeIntervalSince1970 * 1000) - since
                if age >= 0, age < Self.createSettleMillis {
                    return .retry(after: .milliseconds(Self.createSettleMillis - age), message:
                        "\(config.origin): an earlier create for this fingerprint got no answer; waiting for Jira's search to show it before creating again")
                }
            }
        }
        if let key = open {
            // The comment is the last step here, so a retry never finds it already posted.
            switch send("POST", "/issue/\(PercentEncoding.encode(key))/comment", body: JiraPayload.comment(JiraPayload.firingComment(issue)),
                        step: "comment on \(key)", deadline: request.deadline) {
            case .failure(let failure): return failure.result
            case .success: break
            }
            state.put(Self.issueKey(issue.fingerprint), key)
            return .delivered(reference: key, message: "\(config.origin): \(key) is open for this fingerprint; commented that it still fires")
        }

        let response: HTTPResponse
        // Marked before the call: if its answer is lost, the retry knows an issue may exist.
        let creating = Self.creatingKey(issue.fingerprint)
        state.put(creating, String(Int64(Date().timeIntervalSince1970 * 1000)))
        switch send("POST", "/issue", body: JiraPayload.create(issue, config: config), step: "create issue in \(config.project)", deadline: request.deadline) {
        case .failure(let failure):
            // Refused outright (a 4xx, a 429 rate limit): nothing was created. Only an
            // unanswered call (or a 5xx, which a gateway may send after Jira acted) leaves
            // the mark, so the retry waits for the search to show a possible twin.
            if let status = failure.status, (400..<500).contains(status) { state.delete(creating) }
            return failure.result
        case .success(let r): response = r
        }
        state.delete(creating)
        guard let key = Self.parse(response)?["key"]?.stringValue, Self.isIssueKey(key) else {
            // Accepted, but not by a Jira we recognise (a proxy, a wrong url). Retrying would
            // create another issue if it was created; the label still finds it next time.
            log(.warning, "jira create answered without an issue key", ["origin": config.origin, "status": String(response.status)])
            return HTTPOutcome.classify(response, origin: config.origin,
                                        detail: "created, but the answer carried no issue key (is url the Jira site?)", secrets: secrets)
        }
        state.put(Self.issueKey(issue.fingerprint), key)
        let result = HTTPOutcome.classify(response, origin: config.origin, detail: "created \(key)", secrets: secrets)
        if case .delivered(_, let message) = result { return .delivered(reference: key, message: message) }
        return result
    }

    /// Comments on the done issue `key`, then moves it with the transition `name`.
    private func reopen(_ key: String, with name: String, request: DeliveryRequest) -> DeliveryResult {
        let issue = request.issue
        // Remembered before anything changes: a retry after a failed transition then reads
        // the key directly, where search may lag.
        state.put(Self.issueKey(issue.fingerprint), key)
        let checkpoint = Self.checkpointKey(request)
        if state.get(checkpoint) != key {
            switch send("POST", "/issue/\(PercentEncoding.encode(key))/comment", body: JiraPayload.comment(JiraPayload.firingAgainComment(issue)),
                        step: "comment on \(key)", deadline: request.deadline) {
            case .failure(let failure): return failure.result
            case .success: state.put(checkpoint, key)
            }
        }
        let transition: Transition
        switch self.transition(key, named: name, setting: "reopen_transition", deadline: request.deadline) {
        case .failure(let failure): return failure.result
        case .success(let t): transition = t
        }
        state.delete(checkpoint)
        let to = transition.to.map { " to \($0)" } ?? ""
        return .delivered(reference: key, message: "\(config.origin): \(key) was done; commented that it fires again and moved it with \"\(transition.name)\"\(to)")
    }

    private func resolve(_ request: DeliveryRequest) -> DeliveryResult {
        let issue = request.issue
        let key: String
        switch findIssue(request, includeDone: false) {
        case .failure(let failure): return failure.result
        case .success(.none), .success(.done):
            state.delete(Self.issueKey(issue.fingerprint))
            return .delivered(reference: request.reference, message: "\(config.origin): no open issue for this fingerprint in \(config.project); nothing to resolve")
        case .success(.open(let found)): key = found
        }

        let checkpoint = Self.checkpointKey(request)
        if state.get(checkpoint) != key {
            switch send("POST", "/issue/\(PercentEncoding.encode(key))/comment", body: JiraPayload.comment(JiraPayload.resolvedComment(issue)),
                        step: "comment on \(key)", deadline: request.deadline) {
            case .failure(let failure): return failure.result
            case .success: state.put(checkpoint, key)
            }
        }

        var done = "commented that it resolved"
        if let name = config.resolveTransition {
            switch transition(key, named: name, setting: "resolve_transition", deadline: request.deadline) {
            case .failure(let failure): return failure.result
            case .success(let transition):
                done += " and moved it with \"\(transition.name)\"" + (transition.to.map { " to \($0)" } ?? "")
            }
        }
        state.delete(checkpoint)
        state.delete(Self.issueKey(issue.fingerprint))
        return .delivered(reference: key, message: "\(config.origin): \(key) \(done)")
    }

    /// Lists the transitions `key` offers this account and performs the one `name` picks
    /// (``pick(_:from:)``). `setting` is the config key that named it, for the message.
    ///
    /// When the issue offers no such transition the result is permanent, since retrying
    /// cannot make the workflow offer it: "<origin>: <setting> "<name>" is not available on
    /// <key> (available: <names>); the comment was added", or "no transitions are available
    /// to this account on <key> ..." when Jira lists none. ``deliver(_:)`` logs it as a
    /// warning (`jira delivery failed`, with the fingerprint and that text as `reason`).
    private func transition(_ key: String, named name: String, setting: String, deadline: Date) -> Result<Transition, Failure> {
        let listed: HTTPResponse
        switch send("GET", "/issue/\(PercentEncoding.encode(key))/transitions", body: nil, step: "list transitions of \(key)", deadline: deadline) {
        case .failure(let failure): return .failure(failure)
        case .success(let r): listed = r
        }
        let transitions = Self.transitions(listed)
        guard let transition = Self.pick(name, from: transitions) else {
            let available = transitions.map(\.name)
            let detail = available.isEmpty
                ? "no transitions are available to this account on \(key) (Jira lists none without the Transition issues permission)"
                : "\(setting) \"\(name)\" is not available on \(key) (available: \(available.joined(separator: ", ")))"
            return .failure(Failure(result: .permanent(message: SecretSafe.redact("\(config.origin): \(detail); the comment was added", prepared: secrets))))
        }
        let body = JSONValue.object(["transition": .object(["id": .string(transition.id)])])
        switch send("POST", "/issue/\(PercentEncoding.encode(key))/transitions", body: body, step: "transition \(key) with \"\(transition.name)\"",
                    deadline: deadline) {
        case .failure(let failure): return .failure(failure)
        case .success: return .success(transition)
        }
    }

    /// Where the fingerprint's issue stands.
    enum Found: Equatable {
        /// No issue: none was created, or (without `includeDone`) every one is done.
        case none
        /// An issue not in the Done status category.
        case open(String)
        /// No issue is open, and this one is done; only with `includeDone`.
        case done(String)
    }

    /// The fingerprint's open issue; with `includeDone`, else its done issue. Or why it
    /// could not be found out.
    ///
    /// An open issue always wins over a done one, so an issue is never reopened next to an
    /// open one. Among done issues, a key read directly (the reference, the remembered key)
    /// wins over the search's newest, as it is the very issue this plugin last used.
    private func findIssue(_ request: DeliveryRequest, includeDone: Bool) -> Result<Found, Failure> {
        let fingerprint = request.issue.fingerprint
        var candidates: [String] = []
        for key in [request.reference, state.get(Self.issueKey(fingerprint))] {
            if let key, Self.isIssueKey(key), !candidates.contains(key) { candidates.append(key) }
        }
        var done: String?
        // A key read directly is consistent at once; search may not show an issue created
        // a moment ago (destinations.md §5.3).
        for key in candidates {
            switch send("GET", "/issue/\(PercentEncoding.encode(key))?fields=status", body: nil, step: "read \(key)", deadline: request.deadline,
                        allowing: [404]) {
            case .failure(let failure): return .failure(failure)
            case .success(let response) where response.status == 404:
                continue  // deleted, moved out of reach, or never ours: search instead
            case .success(let response):
                let fields = Self.parse(response)
                // Jira answers with the current key when the issue was moved to another project.
                let current = fields?["key"]?.stringValue.flatMap { Self.isIssueKey($0) ? $0 : nil } ?? key
                if !Self.isDone(fields) { return .success(.open(current)) }
                if includeDone, done == nil { done = current }
            }
        }

        let label = JiraPayload.dedupLabel(for: fingerprint)
        let response: HTTPResponse
        switch send("POST", "/search/jql", body: JiraPayload.search(project: config.project, label: label, includeDone: includeDone),
                    step: includeDone ? "search for the issue" : "search for the open issue", deadline: request.deadline) {
        case .failure(let failure): return .failure(failure)
        case .success(let r): response = r
        }
        guard let issues = Self.parse(response)?["issues"]?.arrayValue else {
            log(.warning, "jira search answered without an issue list", ["origin": config.origin, "status": String(response.status)])
            // A page instead of the list (a proxy, a maintenance page) says nothing about
            // what is open: creating on it would duplicate, resolving on it would lose the
            // resolve. Any other 2xx (`plugins check`'s probe) is taken as none.
            guard !response.isWebPage else {
                return .failure(Failure(result: .retry(message:
                    "HTTP \(response.status) from \(config.origin) is not Jira's search answer (a proxy or maintenance page?)")))
            }
            return .success(done.map(Found.done) ?? .none)
        }
        for issue in issues {
            guard let key = issue["key"]?.stringValue, Self.isIssueKey(key) else { continue }
            // Without includeDone the JQL already left done issues out.
            if !includeDone || !Self.isDone(issue) { return .success(.open(key)) }
            if done == nil { done = key }
        }
        return .success(done.map(Found.done) ?? .none)
    }

    /// Whether an issue as `GET /issue` or search returns it (with `fields.status`) is in
    /// the Done status category. An issue whose status is missing counts as open: commenting
    /// on it is safer than creating a duplicate.
    static func isDone(_ issue: JSONValue?) -> Bool {
        issue?["fields"]?["status"]?["statusCategory"]?["key"]?.stringValue == "done"
    }

    // MARK: - HTTP

    /// A failed step, as the result to return.
    struct Failure: Error {
        var result: DeliveryResult
        /// The HTTP status Jira answered with; nil when no answer came (timeout, reset),
        /// when an unanswered create may still have made an issue.
        var status: Int? = nil
    }

    /// One API call; a status outside 2xx (and `allowing`) or a transport error is a failure.
    private func send(
        _ method: String, _ path: String, body: JSONValue?, step: String, deadline: Date, allowing: Set<Int> = []
    ) -> Result<HTTPResponse, Failure> {
        let remaining = deadline.timeIntervalSinceNow
        guard remaining > 0.001 else {
            return .failure(Failure(result: .retry(message: "the delivery deadline passed before \(step) at \(config.origin)")))
        }
        var bytes: [UInt8]?
        if let body {
            do { bytes = try IssueCoding.encode(body) } catch {
                return .failure(Failure(result: .permanent(message: "could not encode the Jira request for \(step): \(error)")))
            }
        }
        let request = HTTPRequest(
            method: method, url: config.url + Self.apiPath + path, headers: headers(json: body != nil), body: bytes,
            timeout: min(config.timeout, .milliseconds(Int64(remaining * 1000))), maxResponseBytes: 1 << 20)
        let response: HTTPResponse
        do {
            response = try client.send(request)
        } catch {
            return .failure(Failure(result: HTTPOutcome.classify(error, secrets: secrets)))
        }
        if (200..<300).contains(response.status) || allowing.contains(response.status) { return .success(response) }
        let result = HTTPOutcome.classify(response, origin: config.origin, detail: explanation(response, step: step), secrets: secrets)
        return .failure(Failure(result: result, status: response.status))
    }

    private func headers(json: Bool) -> [HTTPHeader] {
        var headers = [
            HTTPHeader(name: "Authorization", value: config.authorization),
            HTTPHeader(name: "Accept", value: "application/json"),
            HTTPHeader(name: "User-Agent", value: "cano-collector-jira/\(Jira.version)"),
        ]
        if json { headers.append(HTTPHeader(name: "Content-Type", value: "application/json")) }
        return headers
    }

    /// "create issue in OPS: Field 'priority' ... (priority: ...)" with a hint for the
    /// statuses that mean wrong credentials or missing permissions.
    func explanation(_ response: HTTPResponse, step: String) -> String {
        var text = Self.jiraErrors(response.body) ?? ""
        if text.isEmpty, !response.body.isEmpty, response.status != 429, response.status < 500 {
            text = response.text
        }
        switch response.status {
        case 401:
            text += (text.isEmpty ? "" : "; ") + "check user and api_token: an API token (id.atlassian.com) with the email of the account that created it"
        case 403:
            text += (text.isEmpty ? "" : "; ") + "the account lacks a permission in \(config.project) (Browse projects, Create issues, Add comments, Transition issues)"
        default: break
        }
        return text.isEmpty ? step : "\(step): \(text)"
    }

    /// Jira's `{"errorMessages": [...], "errors": {field: message}}` as one line; nil when
    /// the body has neither.
    static func jiraErrors(_ body: [UInt8]) -> String? {
        guard let value = try? IssueCoding.decode(JSONValue.self, from: body) else { return nil }
        var parts = (value["errorMessages"]?.arrayValue ?? []).compactMap(\.stringValue).filter { !$0.isEmpty }
        if case .object(let errors)? = value["errors"] {
            parts += errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.stringValue ?? "\($0.value)")" }
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    // MARK: - Parsing

    static func parse(_ response: HTTPResponse) -> JSONValue? {
        try? IssueCoding.decode(JSONValue.self, from: response.body)
    }

    /// One entry of `GET /issue/{key}/transitions`.
    struct Transition: Equatable {
        var id: String
        var name: String
        /// The status it leads to.
        var to: String?
    }

    static func transitions(_ response: HTTPResponse) -> [Transition] {
        (parse(response)?["transitions"]?.arrayValue ?? []).compactMap { item in
            guard let id = item["id"]?.stringValue, let name = item["name"]?.stringValue else { return nil }
            return Transition(id: id, name: name, to: item["to"]?["name"]?.stringValue)
        }
    }

    /// The transition named `name` (case-insensitively), else the one leading to a status
    /// of that name: workflows often call the transition "Close" and the status "Done".
    static func pick(_ name: String, from transitions: [Transition]) -> Transition? {
        let wanted = name.lowercased()
        return transitions.first { $0.name.lowercased() == wanted } ?? transitions.first { $0.to?.lowercased() == wanted }
    }

    /// `PROJ-123`: what may go into a URL path as an issue key.
    static func isIssueKey(_ text: String) -> Bool {
        guard let dash = text.lastIndex(of: "-"), text.utf8.count <= 270 else { return false }
        let project = text[..<dash]
        let number = text[text.index(after: dash)...]
        return JiraConfig.isProjectKey(String(project)) && !number.isEmpty && number.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// The state key remembering a fingerprint's issue.
    static func issueKey(_ fingerprint: String) -> String { "issue:" + fingerprint }
    /// The state key holding when a create for this fingerprint was sent (Unix ms), until
    /// its answer came back.
    static func creatingKey(_ fingerprint: String) -> String { "creating:" + fingerprint }
    /// How long after an unanswered create the search is trusted again: Jira's index
    /// usually shows a new issue within seconds.
    static let createSettleMillis: Int64 = 60_000
    /// The state key saying this delivery's comment is posted (on the issue it holds).
    static func checkpointKey(_ request: DeliveryRequest) -> String { "commented:" + request.idempotencyKey }

    static func message(of result: DeliveryResult) -> String {
        switch result {
        case .delivered(_, let m), .retry(_, let m), .permanent(let m): m
        }
    }
}
