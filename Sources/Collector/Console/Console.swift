import CanoSDK
import Foundation
import Logging

/// The built-in web console (`ui.enabled`, docs/console.md), served at `/ui/`: the recent
/// Issues and what became of each, the destinations and their dead letters, silences, and a
/// preview of what an alert would produce. Server-rendered HTML with no script and no
/// external asset. Independent of the HTTP server: ``handle(_:)`` takes a
/// ``ConsoleRequest`` and tests call it directly.
///
/// Reads pass `ui.auth` (else `server.auth`); writes need an admin session and the form's
/// csrf token (``ConsoleAuth``). Database reads and plugin renders run on threads of their
/// own, never on Swift's cooperative pool.
public struct Console: Sendable {
    /// What the console reads and acts on, from the running collector.
    public struct Backend: Sendable {
        public var journal: IssueJournal
        public var deliveries: DeliveryStore
        public var silences: SilencesAPI
        public var silenceStore: SilenceStore
        public var intake: AlertmanagerIntake
        public var router: IssueRouter
        public var previewer: Previewer
        public var readiness: Readiness
        /// Re-queues dead letters (nil: all) and wakes delivery; returns the ids re-queued
        /// (``DeliveryEngine/retryDeadLetters(ids:)``).
        public var retryDeadLetters: @Sendable ([Int64]?) throws -> [Int64]
        /// What the pipeline adds before routing (enrichment, then the diagnosis without
        /// the LLM), for the preview: the message then shows what a real alert would get.
        public var prepare: @Sendable (Issue) async -> Issue

        public init(journal: IssueJournal, deliveries: DeliveryStore, silences: SilencesAPI, silenceStore: SilenceStore, intake: AlertmanagerIntake,
                    router: IssueRouter, previewer: Previewer, readiness: Readiness, retryDeadLetters: @escaping @Sendable ([Int64]?) throws -> [Int64],
                    prepare: @escaping @Sendable (Issue) async -> Issue = { $0 }) {
            self.journal = journal
            self.deliveries = deliveries
            self.silences = silences
            self.silenceStore = silenceStore
            self.intake = intake
            self.router = router
            self.previewer = previewer
            self.readiness = readiness
            self.retryDeadLetters = retryDeadLetters
            self.prepare = prepare
        }
    }

    /// Where the console is served.
    public static let base = "/ui"

    private let backend: Backend
    private let config: CollectorConfig
    private let auth: ConsoleAuth
    private let metrics: Metrics
    private let logger: Logger

    public init(config: CollectorConfig, backend: Backend, metrics: Metrics, logger: Logger) {
        self.config = config
        self.backend = backend
        self.auth = ConsoleAuth(read: config.ui.auth ?? config.server.auth, adminToken: config.server.adminToken, externalURL: config.server.externalURL)
        self.metrics = metrics
        self.logger = logger
        metrics.describe("cano_console_requests_total", type: "counter", help: "Console requests, by method and HTTP status code.")
    }

    // MARK: - Dispatch

    /// Answers one request.
    public func handle(_ request: ConsoleRequest) async -> ConsoleResponse {
        let response = await answer(request)
        metrics.increment("cano_console_requests_total", ["method": request.method == "POST" ? "POST" : "GET", "code": String(response.status)])
        return response
    }

    private func answer(_ request: ConsoleRequest) async -> ConsoleResponse {
        guard auth.canRead(request.authorization) else {
            logger.warning("rejected a console request with missing or wrong credentials")
            return .text(401, "401: the console needs the credentials of ui.auth (or server.auth)\n",
                         headers: [HTTPHeader(name: "WWW-Authenticate", value: auth.read.challenge)])
        }
        let session = auth.session(request.cookies)
        var context = PageContext(base: Self.base, path: request.pathWithQuery, admin: session != nil,
                                  adminConfigured: auth.adminConfigured, csrf: session.map(auth.csrfToken(for:)) ?? "")
        context.flash = request.cookies[ConsoleAuth.flashCookie].flatMap(Flash.init(cookie:))
        let parts = request.path.split(separator: "/").map(String.init)
        do {
            switch (request.method, parts.count, parts.first) {
            case ("GET", 0, _): return try await issues(request, context)
            case ("GET", 2, "issues"): return try await issue(id: parts[1], context)
            case ("GET", 1, "destinations"): return try await destinations(context)
            case ("GET", 1, "silences"): return try await silences(request, context)
            case ("GET", 1, "preview"): return render("preview", PreviewPage(context: context.titled("Preview"), body: Self.exampleBody))
            case ("POST", 1, "preview"): return await preview(request, context)
            case ("POST", 1, "admin"): return signIn(request)
            case ("POST", 2, "admin") where parts[1] == "logout": return signOut(request)
            case ("POST", 2, "dead-letters") where parts[1] == "retry": return await retry(request, ids: nil)
            case ("POST", 3, "dead-letters") where parts[2] == "retry":
                guard let id = Int64(parts[1]) else { return notFound(context) }
                return await retry(request, ids: [id])
            case ("POST", 1, "silences"): return await addSilence(request)
            case ("POST", 3, "silences") where parts[2] == "expire": return await expireSilence(request, id: parts[1])
            case ("GET", _, _): return notFound(context)
            default:
                return .text(405, "405: \(AlertmanagerIntake.echo(request.method, limit: 16)) is not allowed here\n",
                             headers: [HTTPHeader(name: "Allow", value: "GET, POST")])
            }
        } catch {
            logger.error("console page failed", metadata: ["path": .string(AlertmanagerIntake.echo(request.path, limit: 256)), "error": .string(SecretScrubber.shared.scrub("\(error)"))])
            let unavailable = (error as? DatabaseError)?.code == .unavailable
            return render("error", ErrorPage(context: context, heading: unavailable ? "The store is unavailable" : "This page failed",
                                             message: unavailable ? "The database does not answer; /readyz says why. Try again shortly."
                                                                  : "See the collector's log (\"console page failed\")."),
                          status: unavailable ? 503 : 500)
        }
    }

    // MARK: - Issues

    private func issues(_ request: ConsoleRequest, _ context: PageContext) async throws -> ConsoleResponse {
        // Control characters (a NUL) never reach the page; values no filter knows are ignored.
        let q = request.query.mapValues { String(String.UnicodeScalarView($0.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }).prefix(256)) }
            .filter { !$0.value.isEmpty }
        let filter = JournalFilter(
            status: q["status"].flatMap(IssueStatus.init(rawValue:)), severity: q["severity"].flatMap(Severity.init(rawValue:)),
            namespace: q["namespace"], source: q["source"], destination: q["destination"])
        let journal = backend.journal, store = backend.deliveries
        let (entries, states, facets) = try await BlockingThread.run(name: "cano-console") { () throws -> ([JournalEntry], [Int64: [String: DeliveryRecord]], (sources: [String], namespaces: [String])) in
            let entries = try journal.recent(filter)
            var states: [Int64: [String: DeliveryRecord]] = [:]
            for entry in entries where !entry.routing.isEmpty {
                states[entry.id] = Dictionary(try store.records(of: entry).map { ($0.destination, $0) }, uniquingKeysWith: { newest, _ in newest })
            }
            return (entries, states, try journal.facets())
        }
        let destinations = config.destinations.map(\.name)
        let page = IssuesPage(
            context: context.titled("Issues"),
            statuses: Option.list(["firing", "resolved"], selected: q["status"], any: "any"),
            severities: Option.list(Severity.allCases.reversed().map(\.rawValue), selected: q["severity"], any: "any"),
            namespace: q["namespace"] ?? "", namespaces: facets.namespaces,
            sources: Option.list(facets.sources, selected: q["source"], any: "any"),
            destinationOptions: Option.list(destinations, selected: q["destination"], any: "any"),
            shown: entries.count, history: backend.journal.keep, filtered: filter != JournalFilter(),
            rows: entries.map { IssueRow($0, deliveries: states[$0.id] ?? [:]) },
            intakeHint: "http://\(request.host ?? "127.0.0.1:\(config.server.port)")/api/alerts")
        return render("issues", page)
    }

    private func issue(id text: String, _ context: PageContext) async throws -> ConsoleResponse {
        guard let id = Int64(text) else { return notFound(context) }
        let journal = backend.journal, store = backend.deliveries
        let found = try await BlockingThread.run(name: "cano-console") { () throws -> (JournalEntry, Issue?, [DeliveryRecord])? in
            guard let (entry, issue) = try journal.entry(id: id) else { return nil }
            return (entry, issue, try store.records(of: entry))
        }
        guard let (entry, issue, deliveries) = found else { return notFound(context) }
        let renders = if let issue { await backend.previewer.renders(issue, destinations: entry.routing.map(\.destination)) } else { [MessagePreview]() }
        let page = IssuePage(context: context.titled(entry.title), entry: entry, issue: issue, deliveries: deliveries, renders: renders)
        return render("issue", page)
    }

    // MARK: - Destinations

    private func destinations(_ context: PageContext) async throws -> ConsoleResponse {
        let store = backend.deliveries, journal = backend.journal
        let (queues, recent, dead, links, titles) = try await BlockingThread.run(name: "cano-console") {
            () throws -> ([String: DeliveryStore.QueueSummary], [DeliveryRecord], [DeliveryRecord], [String: (Int64, String)], [Int64: String]) in
            let dead = try store.records(state: .dead, limit: 500)
            // Its Issue's page when the journal has it (a group notification's is not an Issue
            // the intake saw), else the title its payload carries.
            let links = try journal.latest(fingerprints: Set(dead.map(\.fingerprint)))
            let titles = try store.titles(ids: dead.filter { links[$0.fingerprint] == nil }.map(\.id))
            return (try store.queueSummaries(), try store.recentFailures(limit: 200), dead, links, titles)
        }
        let failed = backend.readiness.failedDestinations, suspects = backend.readiness.suspectDestinations
        let cards = config.destinations.map { d in
            DestinationCard(config: d, queue: queues[d.name], failure: failed[d.name], suspect: suspects[d.name],
                            failures: recent.filter { $0.destination == d.name }.prefix(5).map(DeliveryRow.init))
        }
        let page = DestinationsPage(context: context.titled("Destinations"), destinations: cards,
                                    deadLetters: dead.map { DeadLetterRow($0, link: links[$0.fingerprint], title: titles[$0.id]) })
        return render("destinations", page)
    }

    private func retry(_ request: ConsoleRequest, ids: [Int64]?) async -> ConsoleResponse {
        if let refusal = auth.writeRefusal(request) { return forbidden(refusal) }
        let retryDeadLetters = backend.retryDeadLetters
        let flash: Flash
        do {
            let requeued = try await BlockingThread.run(name: "cano-console") { () throws -> [Int64] in try retryDeadLetters(ids) }
            logger.info("dead letters retried from the console", metadata: ["count": .stringConvertible(requeued.count)])
            flash = requeued.isEmpty ? Flash(.error, ids == nil ? "There were no dead letters to retry." : "That dead letter was already retried or is gone.")
                                     : Flash(.ok, "Retrying \(requeued.count) dead letter\(requeued.count == 1 ? "" : "s"): queued again with a fresh attempt budget.")
        } catch {
            logger.error("console retry failed", metadata: ["error": .string(SecretScrubber.shared.scrub("\(error)"))])
            flash = Flash(.error, "Could not retry: the store failed (see the collector's log).")
        }
        return .redirect(Self.base + "/destinations", headers: [cookie(ConsoleAuth.flashCookie, flash.cookie, maxAge: 60)])
    }

    // MARK: - Silences

    private func silences(_ request: ConsoleRequest, _ context: PageContext) async throws -> ConsoleResponse {
        let store = backend.silenceStore
        let now = Date()
        let all = try await BlockingThread.run(name: "cano-console") { () throws -> [Silence] in try store.list(includeExpired: true, now: now) }
        let q = request.query
        let page = SilencesPage(context: context.titled("Silences"), matchers: shown(q["matchers"] ?? ""), duration: shown(q["duration"] ?? "2h"),
                                createdBy: shown(q["created_by"] ?? ""), comment: shown(q["comment"] ?? ""),
                                silences: all.sorted { ($0.state(at: now).order, $0.endsAt) < ($1.state(at: now).order, $1.endsAt) }.map { SilenceRow($0, now: now) })
        return render("silences", page)
    }

    private func addSilence(_ request: ConsoleRequest) async -> ConsoleResponse {
        if let refusal = auth.writeRefusal(request) { return forbidden(refusal) }
        let f = request.form
        let lines = (f["matchers"] ?? "").split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let body: [String: JSONValue] = [
            "matchers": .array(lines.map(JSONValue.string)), "duration": .string(f["duration"] ?? ""),
            "createdBy": .string(f["created_by"].flatMap { $0.isEmpty ? nil : $0 } ?? "console"), "comment": .string(f["comment"] ?? ""),
        ]
        // The silences API does the work (validation, store, metrics, log): one place.
        let answer = await backend.silences.create(body: (try? IssueCoding.encode(body)) ?? [])
        let flash = answer.status == 201 ? Flash(.ok, "Silence created.") : Flash(.error, "Silence not created: \(Self.apiError(answer))")
        // A refused silence comes back with what was typed, to correct it.
        let back = answer.status == 201 ? "/silences" : "/silences?" + [
            ("matchers", lines.joined(separator: "\n")), ("duration", f["duration"] ?? ""), ("created_by", f["created_by"] ?? ""), ("comment", f["comment"] ?? ""),
        ].map { "\($0.0)=\(PercentEncoding.encode(String($0.1.prefix(1024))))" }.joined(separator: "&")
        return .redirect(Self.base + back, headers: [cookie(ConsoleAuth.flashCookie, flash.cookie, maxAge: 60)])
    }

    private func expireSilence(_ request: ConsoleRequest, id: String) async -> ConsoleResponse {
        if let refusal = auth.writeRefusal(request) { return forbidden(refusal) }
        let answer = await backend.silences.expire(id: id)
        let flash = answer.status == 200 ? Flash(.ok, "Silence expired.") : Flash(.error, "Silence not expired: \(Self.apiError(answer))")
        return .redirect(Self.base + "/silences", headers: [cookie(ConsoleAuth.flashCookie, flash.cookie, maxAge: 60)])
    }

    private static func apiError(_ response: SilencesAPI.Response) -> String {
        (try? IssueCoding.decode([String: String].self, from: response.body))?["error"] ?? "HTTP \(response.status)"
    }

    // MARK: - Preview

    /// The example the preview starts with: the one the README sends.
    static let exampleBody = """
        {
          "version": "4",
          "status": "firing",
          "receiver": "cano",
          "groupKey": "{}:{alertname=\\"KubePodCrashLooping\\"}",
          "groupLabels": {"alertname": "KubePodCrashLooping"},
          "externalURL": "http://alertmanager.example:9093",
          "alerts": [{
            "status": "firing",
            "labels": {"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "payments", "pod": "api-7d9f8b-x2k4q", "container": "api"},
            "annotations": {"summary": "Pod payments/api-7d9f8b-x2k4q is crash looping", "description": "Container api restarted 6 times in 10 minutes."},
            "startsAt": "2026-11-30T10:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=kube_pod_container_status_restarts_total"
          }]
        }
        """

    /// The most Issues one preview renders: each runs enrichment and every destination's
    /// render, and a page of thousands helps nobody while it costs memory and CPU.
    static let previewIssueLimit = 20
    /// The largest body a preview takes (at most the intake's limit).
    static let previewBodyLimit = 1 << 20

    private func preview(_ request: ConsoleRequest, _ context: PageContext) async -> ConsoleResponse {
        if let refusal = auth.crossSiteRefusal(request) { return forbidden(refusal) }
        let text = request.form["body"] ?? ""
        var page = PreviewPage(context: context.titled("Preview"), body: shown(text))
        let limit = min(config.server.maxBodyBytes, Self.previewBodyLimit)
        guard text.utf8.count <= limit else {
            page.body = ""
            page.error = "The body is over \(limit) bytes, the most a preview takes."
            return render("preview", page, status: 413)
        }
        guard backend.previewer.admit() else {
            return .text(429, "429: \(Previewer.concurrency) previews are running already; try again in a moment\n",
                         headers: [HTTPHeader(name: "Retry-After", value: "2")])
        }
        defer { backend.previewer.leave() }
        switch backend.intake.parse(Array(text.utf8)) {
        case .failure(let refusal):
            page.error = AlertmanagerIntake.echo(refusal.message, limit: 1024)  // as the intake would answer it
            return render("preview", page, status: 400)
        case .success(let parsed):
            page.rejected = parsed.rejected.map { shown($0["error"] ?? "") }
            if parsed.issues.isEmpty && parsed.rejected.isEmpty { page.error = "The body holds no alert." }
            if parsed.issues.count > Self.previewIssueLimit {
                page.error = "The body holds \(parsed.issues.count) alerts; the preview shows the first \(Self.previewIssueLimit)."
            }
            let store = backend.silenceStore
            let silences = (try? await BlockingThread.run(name: "cano-console") { () throws -> [Silence] in try store.active() }) ?? []
            for mapped in parsed.issues.prefix(Self.previewIssueLimit) {
                let issue = await backend.prepare(mapped)
                let matches = backend.router.matches(for: issue)
                let silence = silences.first { $0.matches(issue) }?.id
                let renders = await backend.previewer.renders(issue, destinations: matches.map(\.destination))
                page.issues.append(PreviewPage.PreviewIssue(
                    title: shown(issue.title), status: issue.status.rawValue, severity: issue.severity.rawValue,
                    routes: matches.map { .init(destination: $0.destination, silenced: silence, grouped: Grouping.of(issue, $0) != nil) },
                    renders: renders))
            }
            return render("preview", page)
        }
    }

    // MARK: - Admin session

    private func signIn(_ request: ConsoleRequest) -> ConsoleResponse {
        if let refusal = auth.crossSiteRefusal(request) { return forbidden(refusal) }
        let back = Self.localPath(request.form["back"])
        guard let session = auth.newSession(), auth.isAdminToken(request.form["token"] ?? "") else {
            logger.warning("rejected a console sign-in with a wrong admin token")
            return .redirect(Self.base + back, headers: [cookie(ConsoleAuth.flashCookie, Flash(.error, "That is not the admin token.").cookie, maxAge: 60)])
        }
        logger.info("admin signed in to the console")
        return .redirect(Self.base + back, headers: [
            cookie(ConsoleAuth.sessionCookie, session, maxAge: Int(ConsoleAuth.sessionLifetime.components.seconds)),
            cookie(ConsoleAuth.flashCookie, Flash(.ok, "Signed in as admin.").cookie, maxAge: 60),
        ])
    }

    private func signOut(_ request: ConsoleRequest) -> ConsoleResponse {
        if let refusal = auth.writeRefusal(request) { return forbidden(refusal) }
        return .redirect(Self.base + "/", headers: [
            cookie(ConsoleAuth.sessionCookie, "", maxAge: 0), cookie(ConsoleAuth.flashCookie, Flash(.ok, "Signed out.").cookie, maxAge: 60),
        ])
    }

    /// A path inside the console to go back to; anything else (another site) is `/`.
    static func localPath(_ path: String?) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/?=&%+")
        guard let path, path.hasPrefix("/"), !path.hasPrefix("//"), !path.contains(".."), path.allSatisfy(allowed.contains) else { return "/" }
        return path
    }

    // MARK: - Helpers

    /// A page from its template; a page that showed the flash message clears its cookie.
    private func render(_ template: String, _ page: some ConsolePage, status: Int = 200) -> ConsoleResponse {
        let html = ConsoleTemplates.library.render(page, withTemplate: template) ?? "template \(template) is missing"
        var headers = [HTTPHeader(name: "Content-Type", value: "text/html; charset=utf-8")]
        if page.context.flash != nil { headers.append(cookie(ConsoleAuth.flashCookie, "", maxAge: 0)) }
        return .page(status, html, headers: headers)
    }

    private func notFound(_ context: PageContext) -> ConsoleResponse {
        render("error", ErrorPage(context: context.titled("Not found"), heading: "Not found",
                                  message: "Nothing here (an Issue older than the last \(backend.journal.keep) is pruned)."), status: 404)
    }

    private func forbidden(_ reason: String) -> ConsoleResponse {
        logger.warning("refused a console write", metadata: ["reason": .string(reason)])
        return .text(403, "403: \(reason)\n")
    }

    /// A console cookie: HttpOnly, SameSite=Strict, scoped to the console's path; Secure
    /// when the console is reached over https (`server.external_url`).
    private func cookie(_ name: String, _ value: String, maxAge: Int) -> HTTPHeader {
        let secure = config.server.externalURL?.lowercased().hasPrefix("https://") == true ? "; Secure" : ""
        return HTTPHeader(name: "Set-Cookie", value: "\(name)=\(value); Path=\(Self.base); Max-Age=\(maxAge); HttpOnly; SameSite=Strict\(secure)")
    }
}
