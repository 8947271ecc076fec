import CanoSDK
import Foundation
import Logging

/// The silences HTTP API, independent of the HTTP server so it is tested directly;
/// ``HTTPServer`` routes to it:
///
/// - `GET /api/silences[?state=active|pending|expired]`: every silence (expired ones are
///   kept 5 days), soonest end first;
/// - `GET /api/silences/{id}`: one silence, 404 when unknown;
/// - `POST /api/silences`: create (201 `{"silenceID": "..."}`), or replace when the body has
///   the `id` of an existing silence (Alertmanager's update rules, ``SilenceStore/replace(id:with:now:)``);
/// - `DELETE /api/silences/{id}`: expire (200 with the silence; 404 unknown; 409 already expired);
/// - `GET /silences/new?matchers=...`: a small HTML form that posts to the API.
///
/// Every API call passes the intake's auth (`server.auth`); writes also need the admin
/// token (`server.admin_token`) in `X-Admin-Token`, compared in constant time. Without a
/// configured admin token writes are refused (403) with what to set. Credentials are never
/// echoed, logged or counted; request-derived text in a 400 is scrubbed and capped.
public struct SilencesAPI: Sendable {
    /// What to answer: a status, headers and a body (JSON, or HTML for the form).
    public struct Response: Sendable, Equatable {
        /// The HTTP status code.
        public var status: Int
        /// Headers besides Content-Type.
        public var headers: [HTTPHeader]
        /// `application/json` or `text/html; charset=utf-8`.
        public var contentType: String
        /// The body bytes.
        public var body: [UInt8]

        static func json(_ status: Int, _ value: some Encodable, headers: [HTTPHeader] = []) -> Response {
            Response(status: status, headers: headers, contentType: "application/json", body: (try? IssueCoding.encode(value)) ?? Array("{}".utf8))
        }

        static func error(_ status: Int, _ message: String, field: String? = nil, headers: [HTTPHeader] = []) -> Response {
            var object = ["error": AlertmanagerIntake.echo(message, limit: 1024)]
            if let field { object["field"] = field }
            return json(status, object, headers: headers)
        }
    }

    /// The header that carries the admin token on writes.
    public static let adminTokenHeader = "X-Admin-Token"
    /// The largest request body a write accepts (a silence is small; the intake's larger
    /// limit is for webhook batches).
    public static let maxBodyBytes = 64 << 10

    private let store: SilenceStore
    private let auth: IntakeAuth
    private let adminToken: Secret?
    private let metrics: Metrics
    private let logger: Logger
    private let clock: @Sendable () -> Date

    /// An API over `store`. `auth` is the intake's auth (`server.auth`); `adminToken` the
    /// token writes need (`server.admin_token`; nil refuses writes). `clock` is for tests.
    public init(store: SilenceStore, auth: IntakeAuth, adminToken: Secret?, metrics: Metrics, logger: Logger,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.auth = auth
        self.adminToken = adminToken
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        // Request text we echo is scrubbed: the admin token must be among what is scrubbed.
        if let adminToken { SecretScrubber.shared.register([adminToken.value]) }
        metrics.describe("cano_silences", type: "gauge", help: "Silences in the store, by state (active, pending, expired).")
        metrics.describe("cano_silences_changes_total", type: "counter", help: "Silences added or expired through the API, by action.")
    }

    // MARK: - Endpoints

    /// `GET /api/silences`; `state` filters (`active`, `pending`, `expired`).
    public func list(state: String?, authorization: String?) async -> Response {
        if let denied = checkRead(authorization) { return denied }
        var filter: Silence.State?
        if let state, !state.isEmpty {
            guard let parsed = Silence.State(rawValue: state) else {
                return .error(400, "state: \"\(state.prefix(32))\" is not one of active, pending, expired", field: "state")
            }
            filter = parsed
        }
        let now = clock()
        let store = self.store
        let includeExpired = filter == nil || filter == .expired
        do {
            let (silences, counts) = try await BlockingThread.run(name: "cano-silences") { () throws -> ([Silence], [Silence.State: Int]) in
                (try store.list(includeExpired: includeExpired, now: now), try store.counts(now: now))
            }
            publish(counts)
            let shown = silences.filter { filter == nil || $0.state(at: now) == filter }
            return .json(200, shown.map { Item($0, now: now) })
        } catch {
            return failure(error, doing: "list silences")
        }
    }

    /// `GET /api/silences/{id}`.
    public func get(id: String, authorization: String?) async -> Response {
        if let denied = checkRead(authorization) { return denied }
        let store = self.store
        do {
            guard let silence = try await BlockingThread.run(name: "cano-silences", { try store.get(id) }) else {
                return .error(404, SilenceError.notFound(id: String(id.prefix(64))).description, field: "id")
            }
            return .json(200, Item(silence, now: clock()))
        } catch {
            return failure(error, doing: "read a silence")
        }
    }

    /// `POST /api/silences`: `body` is `{matchers, startsAt?, endsAt? | duration?, createdBy,
    /// comment, id?}`; a matcher is a string (`namespace="payments"`) or Alertmanager's v2
    /// object `{name, value, isRegex, isEqual}`.
    public func create(body: [UInt8], authorization: String?, adminToken presented: String?) async -> Response {
        if let denied = checkWrite(authorization, presented) { return denied }
        return await create(body: body)
    }

    /// Creates (or replaces) a silence for a caller whose right to write was checked
    /// already: the console, after its admin session and csrf checks (its readers hold
    /// `ui.auth`'s credential, not `server.auth`'s).
    func create(body: [UInt8]) async -> Response {
        let now = clock()
        let request: CreateRequest
        do throws(SilenceError) { request = try CreateRequest.parse(body) } catch {
            return .error(400, error.description, field: error.field)
        }
        let silence: Silence
        do throws(SilenceError) {
            silence = try Silence.make(matchers: request.matchers, startsAt: request.startsAt, endsAt: request.endsAt, duration: request.duration,
                                       createdBy: request.createdBy, comment: request.comment, now: now)
        } catch {
            return .error(400, error.description, field: error.field)
        }
        let store = self.store
        do {
            let (id, counts) = try await BlockingThread.run(name: "cano-silences") { () throws -> (String, [Silence.State: Int]) in
                let id = if let old = request.id { try store.replace(id: old, with: silence, now: now) } else { try store.add(silence, now: now) }
                return (id, try store.counts(now: now))
            }
            metrics.increment("cano_silences_changes_total", ["action": "add"])
            publish(counts)
            logger.info("silence added", metadata: [
                "silence": .string(id), "matchers": .string(Self.scrub(silence.matcherStrings.joined(separator: ", "))),
                "ends_at": .string(RFC3339.format(silence.endsAt)), "created_by": .string(Self.scrub(silence.createdBy)),
                "replaces": .string(request.id.map { Self.scrub($0) } ?? ""),
            ])
            return .json(201, ["silenceID": id])
        } catch {
            return failure(error, doing: "add a silence")
        }
    }

    /// `DELETE /api/silences/{id}`: expires the silence (kept, expired, for 5 days).
    public func expire(id: String, authorization: String?, adminToken presented: String?) async -> Response {
        if let denied = checkWrite(authorization, presented) { return denied }
        return await expire(id: id)
    }

    /// Expires a silence for a caller whose right to write was checked already (the console).
    func expire(id: String) async -> Response {
        let now = clock()
        let store = self.store
        do {
            let (silence, counts) = try await BlockingThread.run(name: "cano-silences") { () throws -> (Silence, [Silence.State: Int]) in
                (try store.expire(id: id, now: now), try store.counts(now: now))
            }
            metrics.increment("cano_silences_changes_total", ["action": "expire"])
            publish(counts)
            logger.info("silence expired", metadata: ["silence": .string(silence.id)])
            return .json(200, Item(silence, now: now))
        } catch {
            return failure(error, doing: "expire a silence")
        }
    }

    /// A method the API does not serve on a silences path: 405 with `Allow`.
    public func methodNotAllowed(_ method: String, allow: String) -> Response {
        .error(405, "\(AlertmanagerIntake.echo(method, limit: 32)) is not allowed here", headers: [HTTPHeader(name: "Allow", value: allow)])
    }

    /// The 413 for a write body over ``maxBodyBytes``.
    public func bodyTooLarge() -> Response {
        .error(413, "request body exceeds \(Self.maxBodyBytes) bytes; a silence is far smaller")
    }

    // MARK: - Auth

    private func checkRead(_ authorization: String?) -> Response? {
        guard auth.accepts(authorization) else {
            logger.warning("rejected a silences request with missing or wrong credentials")
            return .error(401, "missing or invalid credentials", headers: [HTTPHeader(name: "WWW-Authenticate", value: auth.challenge)])
        }
        return nil
    }

    private func checkWrite(_ authorization: String?, _ presented: String?) -> Response? {
        if let denied = checkRead(authorization) { return denied }
        guard let adminToken else {
            return .error(403, "changing silences is disabled: set server.admin_token (or server.admin_token_file) in the collector's config and send it in the \(Self.adminTokenHeader) header")
        }
        guard let presented, !presented.isEmpty else {
            return .error(401, "changing silences needs the admin token in the \(Self.adminTokenHeader) header")
        }
        guard ConstantTime.equal(Array(presented.utf8), Array(adminToken.value.utf8)) else {
            logger.warning("rejected a silences write with a wrong admin token")
            return .error(403, "the \(Self.adminTokenHeader) header does not hold the admin token")
        }
        return nil
    }

    // MARK: - Helpers

    private func publish(_ counts: [Silence.State: Int]) {
        for state in Silence.State.allCases { metrics.set("cano_silences", ["state": state.rawValue], to: Double(counts[state] ?? 0)) }
    }

    private func failure(_ error: any Error, doing what: String) -> Response {
        switch error {
        case let error as SilenceError:
            switch error {
            case .notFound: return .error(404, error.description, field: error.field)
            case .alreadyExpired: return .error(409, error.description, field: error.field)
            case .unreadable:
                logger.error("cannot \(what)", metadata: ["error": .string(Self.scrub(error.description))])
                return .error(500, error.description)
            default: return .error(400, error.description, field: error.field)
            }
        case let error as DatabaseError where error.code == .unavailable:
            logger.warning("cannot \(what): the store is unavailable", metadata: ["error": .string(Self.scrub(error.description))])
            return .error(503, "the store is unavailable; try again shortly", headers: [HTTPHeader(name: "Retry-After", value: "5")])
        default:
            logger.error("cannot \(what)", metadata: ["error": .string(Self.scrub("\(error)"))])
            return .error(500, "cannot \(what): the store failed (see the collector's log)")
        }
    }

    private static func scrub(_ text: String) -> String { AlertmanagerIntake.echo(text, limit: 2048) }

    /// One silence as the API shows it.
    struct Item: Encodable {
        struct Status: Encodable { var state: String }
        var id: String
        var matchers: [String]
        var startsAt: String
        var endsAt: String
        var createdBy: String
        var comment: String
        var updatedAt: String
        var status: Status

        init(_ s: Silence, now: Date) {
            id = s.id
            matchers = s.matcherStrings
            startsAt = RFC3339.format(s.startsAt)
            endsAt = RFC3339.format(s.endsAt)
            createdBy = s.createdBy
            comment = s.comment
            updatedAt = RFC3339.format(s.updatedAt)
            status = Status(state: s.state(at: now).rawValue)
        }
    }
}

/// A `POST /api/silences` body, read field by field so an error names the field.
struct CreateRequest: Sendable {
    var id: String?
    var matchers: [Matcher]
    var startsAt: String?
    var endsAt: String?
    var duration: String?
    var createdBy: String
    var comment: String

    static func parse(_ body: [UInt8]) throws(SilenceError) -> CreateRequest {
        let json: JSONValue
        do { json = try IssueCoding.decode(JSONValue.self, from: body) } catch {
            throw .invalidField(field: "body", reason: "not valid JSON")
        }
        guard let object = json.objectValue else { throw .invalidField(field: "body", reason: "expected a JSON object") }
        func string(_ key: String) throws(SilenceError) -> String? {
            switch object[key] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            default: throw .invalidField(field: key, reason: "expected a string")
            }
        }
        guard let list = object["matchers"] else { throw .noMatchers }
        guard let items = list.arrayValue else {
            throw .invalidField(field: "matchers", reason: "expected a list of matchers such as [\"namespace=\\\"payments\\\"\"]")
        }
        var matchers: [Matcher] = []
        for (index, item) in items.enumerated() {
            switch item {
            case .string(let line):
                do throws(MatcherError) { matchers += try Matcher.parseList(line) } catch { throw .invalidMatcher(error) }
            case .object(let m):
                matchers.append(try amMatcher(m, index: index))
            default:
                throw .invalidField(field: "matchers[\(index)]", reason: "expected a matcher string or an object {name, value, isRegex, isEqual}")
            }
        }
        let id = try string("id")
        return CreateRequest(
            id: id?.isEmpty == true ? nil : id, matchers: matchers, startsAt: try string("startsAt"), endsAt: try string("endsAt"),
            duration: try string("duration"), createdBy: try string("createdBy") ?? "", comment: try string("comment") ?? "")
    }

    /// Alertmanager's v2 matcher object: `isEqual` defaults to true, as in its API.
    private static func amMatcher(_ m: [String: JSONValue], index: Int) throws(SilenceError) -> Matcher {
        guard let name = m["name"]?.stringValue, !name.isEmpty else {
            throw .invalidField(field: "matchers[\(index)].name", reason: "expected a non-empty string")
        }
        guard let value = m["value"]?.stringValue else {
            throw .invalidField(field: "matchers[\(index)].value", reason: "expected a string")
        }
        func flag(_ key: String, default fallback: Bool) throws(SilenceError) -> Bool {
            switch m[key] {
            case nil, .null?: return fallback
            case .bool(let b)?: return b
            default: throw .invalidField(field: "matchers[\(index)].\(key)", reason: "expected true or false")
            }
        }
        let isRegex = try flag("isRegex", default: false)
        let isEqual = try flag("isEqual", default: true)
        let op: Matcher.Operator = isRegex ? (isEqual ? .matchesRegex : .notMatchesRegex) : (isEqual ? .equal : .notEqual)
        do throws(MatcherError) { return try Matcher(name, op, value) } catch { throw .invalidMatcher(error) }
    }
}

extension SilencesAPI {
    /// `GET /silences/new?matchers=...`: a self-contained HTML form (no external assets),
    /// prefilled with the `matchers` query value, that posts JSON to `/api/silences`.
    ///
    /// Served without auth: it holds nothing from the store, only what the link carried,
    /// and browsers cannot send a bearer token when following a link from a chat message.
    /// The person types the admin token (and the API credentials when `server.auth` is
    /// set); the page never embeds them, and a strict Content-Security-Policy lets it talk
    /// only to its own origin.
    public func form(matchers: String?) -> Response {
        let prefill = HTML.escape(String((matchers ?? "").prefix(4096)))
        let credentials: String
        switch auth {
        case .none: credentials = ""
        case .bearer: credentials = #"<label>API bearer token (server.auth)<input id="bearer" type="password" autocomplete="off"></label>"#
        case .basic:
            credentials = #"<label>API user name (server.auth)<input id="user" autocomplete="off"></label><label>API password<input id="password" type="password" autocomplete="off"></label>"#
        }
        let page = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>New silence · cano-collector</title>
            <style>body{font:15px system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.8rem 0}
            input,textarea{display:block;width:100%;box-sizing:border-box;padding:.4rem;font:inherit}button{margin-top:1rem;padding:.5rem 1.2rem;font:inherit}
            #result{margin-top:1rem;white-space:pre-wrap}.error{color:#b00020}.ok{color:#006400}</style></head>
            <body><h1>New silence</h1>
            <p>Issues matching every matcher are recorded but not delivered until the silence ends; those still firing then are delivered.</p>
            <form id="silence">
            <label>Matchers<input id="matchers" required value="\(prefill)" placeholder='{namespace="payments", name="api"}'></label>
            <label>Duration<input id="duration" required value="2h" placeholder="2h, 90m, 1d"></label>
            <label>Created by<input id="createdBy" required autocomplete="name"></label>
            <label>Comment<textarea id="comment" required rows="3"></textarea></label>
            \(credentials)
            <label>Admin token (server.admin_token)<input id="adminToken" type="password" required autocomplete="off"></label>
            <button type="submit">Create silence</button></form><div id="result" role="status"></div>
            <script>
            document.getElementById('silence').addEventListener('submit', async function (event) {
              event.preventDefault();
              const value = id => { const e = document.getElementById(id); return e ? e.value : null; };
              const headers = {'Content-Type': 'application/json', 'X-Admin-Token': value('adminToken')};
              if (value('bearer') !== null) headers['Authorization'] = 'Bearer ' + value('bearer');
              if (value('user') !== null) headers['Authorization'] = 'Basic ' + btoa(value('user') + ':' + value('password'));
              const body = {matchers: [value('matchers')], duration: value('duration'), createdBy: value('createdBy'), comment: value('comment')};
              const out = document.getElementById('result');
              try {
                const response = await fetch('../api/silences', {method: 'POST', headers: headers, body: JSON.stringify(body), credentials: 'omit'});
                const answer = await response.json();
                out.className = response.ok ? 'ok' : 'error';
                out.textContent = response.ok ? 'Silence ' + answer.silenceID + ' created.' : 'Refused (' + response.status + '): ' + answer.error;
              } catch (error) {
                out.className = 'error';
                out.textContent = 'Could not reach the collector: ' + error;
              }
            });
            </script></body></html>
            """
        return Response(status: 200, headers: [
            HTTPHeader(name: "Content-Security-Policy",
                       value: "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"),
            HTTPHeader(name: "X-Content-Type-Options", value: "nosniff"),
            HTTPHeader(name: "Referrer-Policy", value: "no-referrer"),
            HTTPHeader(name: "Cache-Control", value: "no-store"),
        ], contentType: "text/html; charset=utf-8", body: Array(page.utf8))
    }

    /// The form's address for `labels`: `<externalURL>/silences/new?matchers=<{k="v",...}>`,
    /// percent-encoded, labels sorted by name. Nil when there are no labels.
    public static func silenceLink(externalURL: String, labels: [(String, String)]) -> String? {
        guard !labels.isEmpty else { return nil }
        let list = "{" + labels.sorted { $0.0 < $1.0 }.map { Matcher(field: $0.0, op: .equal, value: $0.1).description }.joined(separator: ",") + "}"
        let encoded = PercentEncoding.encode(list)
        let base = externalURL.hasSuffix("/") ? String(externalURL.dropLast()) : externalURL
        return "\(base)/silences/new?matchers=\(encoded)"
    }
}
