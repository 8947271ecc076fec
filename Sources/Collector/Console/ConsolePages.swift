import CanoSDK
import Foundation

// What each console template reads. Plain values, built from the store's records; the
// templates escape every string but the `html` fragments, which ``HTML`` built.

/// A page's values: what its template reads, with the layout's under `context`.
protocol ConsolePage: Sendable {
    var context: PageContext { get }
}

/// What every page's layout needs.
struct PageContext: Sendable {
    var base: String
    var path: String
    var admin: Bool
    var adminConfigured: Bool
    /// The form token; rendered only into admins' forms.
    var csrf: String
    var title = "Console"
    var flash: Flash?
    let css = ConsoleTemplates.css

    func titled(_ title: String) -> PageContext {
        var copy = self
        copy.title = title
        return copy
    }
}

/// The one-line outcome of a write, shown once on the next page (carried in a cookie).
struct Flash: Sendable, Equatable {
    enum Kind: String, Sendable { case ok, error }
    var kind: String
    var text: String

    init(_ kind: Kind, _ text: String) {
        self.kind = kind.rawValue
        self.text = shown(text)
    }

    /// Decodes the cookie; nil for anything malformed.
    init?(cookie: String) {
        let parts = cookie.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, let kind = Kind(rawValue: parts[0]), let text = parts[1].removingPercentEncoding else { return nil }
        self.init(kind, String(text.prefix(300)))
    }

    var cookie: String { "\(kind).\(PercentEncoding.encode(text))" }
}

/// A `<select>` option.
struct Option: Sendable {
    var value: String
    var label: String
    var selected: Bool

    /// "any" first, then each value.
    static func list(_ values: [String], selected: String?, any: String) -> [Option] {
        [Option(value: "", label: any, selected: selected == nil)] + values.map { Option(value: $0, label: $0, selected: $0 == selected) }
    }
}

/// A short label for a badge.
struct Badge: Sendable {
    var text: String
    var kind: String
}

/// Times as the console shows them: UTC, to the second.
enum ConsoleTime {
    static func text(millis: Int64) -> String {
        guard millis > 0 else { return "" }
        let text = RFC3339.format(Date(timeIntervalSince1970: Double(millis / 1000)))
        return String(text.prefix(19)).replacingOccurrences(of: "T", with: " ") + " UTC"
    }

    static func text(_ date: Date) -> String { text(millis: Int64(date.timeIntervalSince1970 * 1000)) }
}

/// How a routing outcome or delivery state reads: a badge kind and a sentence.
enum Outcomes {
    static func kind(_ outcome: JournalRouting.Outcome) -> String {
        switch outcome {
        case .queued: "info"
        case .duplicate, .grouped, .storm: ""
        case .silenced, .held: "warn"
        case .overflow: "bad"
        }
    }

    static func meaning(_ routing: JournalRouting) -> String {
        switch routing.outcome {
        case .queued: "Queued for delivery; its state is below."
        case .duplicate: "Deduplicated: this occurrence (same fingerprint, status and start) was already queued or delivered."
        case .overflow: "Dead-lettered at once: the destination's queue was over its queue_limit."
        case .grouped: "Held in its route's notify group; it goes out in the group's notification (group_wait, group_interval)."
        case .silenced: "Silenced\(routing.silence.map { " by silence \($0)" } ?? ""): held, and notified only if it still fires when the silence ends."
        case .storm: "Folded into the destination's storm summary (the storm guard)."
        case .held: "Held back by a mute window or min_duration, or behind an earlier held occurrence."
        }
    }

    static func kind(_ state: DeliveryState) -> String {
        switch state {
        case .delivered: "ok"
        case .pending: "warn"
        case .dead: "bad"
        }
    }
}

struct IssuesPage: ConsolePage {
    var context: PageContext
    var statuses: [Option]
    var severities: [Option]
    var namespace: String
    var namespaces: [String]
    var sources: [Option]
    var destinationOptions: [Option]
    var shown: Int
    var history: Int
    var filtered: Bool
    var rows: [IssueRow]
    var intakeHint: String
}

struct IssueRow: Sendable {
    var id: Int64
    var fingerprint: String
    var received: String
    var severity: String
    var status: String
    var title: String
    var namespace: String
    var source: String
    var badges: [Badge]

    /// `deliveries`: the entry's delivery rows by destination.
    init(_ entry: JournalEntry, deliveries: [String: DeliveryRecord]) {
        id = entry.id
        fingerprint = entry.fingerprint
        received = ConsoleTime.text(millis: entry.receivedMillis)
        severity = entry.severity.rawValue
        status = entry.status.rawValue
        title = shown(entry.title)
        namespace = shown(entry.namespace ?? "")
        source = shown(entry.source)
        badges = entry.routing.isEmpty ? [Badge(text: "no route", kind: "bad")] : entry.routing.map { routing in
            // What became of it: the state of the delivery that carried it, while its row is
            // kept; until then (or for a duplicate), what routing did.
            guard routing.outcome != .duplicate, let record = deliveries[routing.destination] else {
                return Badge(text: "\(routing.destination): \(routing.outcome.rawValue)", kind: Outcomes.kind(routing.outcome))
            }
            let how = routing.outcome == .queued ? "" : " (\(routing.outcome.rawValue))"
            return Badge(text: "\(routing.destination): \(record.state.rawValue)\(how)", kind: Outcomes.kind(record.state))
        }
    }
}

struct IssuePage: ConsolePage {
    struct Route: Sendable {
        var destination: String
        var route: String
        var outcome: String
        var kind: String
        var meaning: String
    }

    var context: PageContext
    var title: String
    var status: String
    var severity: String
    var source: String
    var subject: String
    var startsAt: String
    var received: String
    var fingerprint: String
    var description: String?
    var silenceQuery: String
    var routes: [Route]
    var deliveries: [DeliveryRow]
    var enrichments: String
    var issueJSON: String
    /// The Issue as each destination renders it (the stored Issue, enrichments included).
    var renders: [MessagePreview]

    init(context: PageContext, entry: JournalEntry, issue: Issue?, deliveries: [DeliveryRecord], renders: [MessagePreview]) {
        self.renders = renders
        self.context = context
        title = shown(entry.title)
        status = entry.status.rawValue
        severity = entry.severity.rawValue
        source = shown(entry.source)
        received = ConsoleTime.text(millis: entry.receivedMillis)
        startsAt = ConsoleTime.text(millis: entry.startsAtMillis)
        fingerprint = entry.fingerprint
        description = issue?.description.map(shown)
        let subject = issue?.subject
        self.subject = shown([subject?.kind, [subject?.namespace, subject?.name].compactMap { $0 }.joined(separator: "/")]
            .compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " "))
        routes = entry.routing.map {
            Route(destination: $0.destination, route: $0.route, outcome: $0.outcome.rawValue, kind: Outcomes.kind($0.outcome), meaning: Outcomes.meaning($0))
        }
        self.deliveries = deliveries.map(DeliveryRow.init)
        enrichments = (issue?.enrichments ?? []).map(HTML.enrichment).joined()
        issueJSON = shown(issue.flatMap { try? IssueCoding.encode($0) }.map { HTML.pretty((try? IssueCoding.decode(JSONValue.self, from: $0)) ?? .null) } ?? "")
        silenceQuery = "matchers=" + PercentEncoding.encode(shown(Self.silenceMatchers(issue).joined(separator: "\n")))
    }

    /// Matchers that pick this Issue out: its alert name (else its aggregation key), its
    /// namespace and its subject's name, in the matcher syntax silences take (``Matcher``).
    static func silenceMatchers(_ issue: Issue?) -> [String] {
        guard let issue else { return [] }
        let first = issue.subject.labels["alertname"].map { ("alertname", $0) } ?? ("aggregation_key", issue.aggregationKey)
        let pairs = [first] + [issue.subject.namespace.map { ("namespace", $0) }, issue.subject.name.map { ("name", $0) }].compactMap { $0 }
        return pairs.map { Matcher(field: $0.0, op: .equal, value: $0.1).description }
    }
}

struct DeliveryRow: Sendable {
    var id: Int64
    var destination: String
    var state: String
    var kind: String
    var cause: String?
    var attempts: Int
    var queued: String
    var updated: String
    var message: String
    var reference: String

    init(_ record: DeliveryRecord) {
        id = record.id
        destination = record.destination
        state = record.state.rawValue
        kind = Outcomes.kind(record.state)
        cause = record.deadCause?.rawValue
        attempts = record.attempts
        queued = ConsoleTime.text(millis: record.queuedMillis)
        updated = ConsoleTime.text(millis: record.updatedMillis)
        message = shown(record.lastMessage ?? "")
        reference = shown(String((record.reference ?? "").prefix(200)))
    }
}

struct DestinationCard: Sendable {
    var name: String
    var type: String
    var ready: Bool
    var why: String
    var suspect: String?
    var pending: Int
    var oldest: String
    var dead: Int
    var config: String
    var failures: [DeliveryRow]
    var hasFailures: Bool

    init(config d: DestinationConfig, queue: DeliveryStore.QueueSummary?, failure: String?, suspect: String?, failures: [DeliveryRow]) {
        name = d.name
        type = d.type
        ready = failure == nil
        why = shown(failure ?? "")
        self.suspect = suspect.map(shown)
        pending = queue?.pending ?? 0
        oldest = (queue?.pending ?? 0) > 0 ? ConsoleTime.text(millis: queue?.oldestQueuedMillis ?? 0) : "nothing pending"
        dead = queue?.dead ?? 0
        config = shown(HTML.pretty(Self.redacted(d.config)))
        self.failures = failures
        hasFailures = !failures.isEmpty
    }

    /// The destination's config as the console may show it: URLs cut to their origin (a
    /// path or query often holds a token), a few harmless keys kept, every other value
    /// replaced. Secrets never reach a page, whatever key a plugin names them with.
    static func redacted(_ value: JSONValue, key: String = "") -> JSONValue {
        switch value {
        case .object(let fields): return .object(fields.reduce(into: [:]) { $0[$1.key] = redacted($1.value, key: $1.key) })
        case .array(let items): return .array(items.map { redacted($0, key: key) })
        case .string(let text):
            if key.hasSuffix("url") || key.hasSuffix("_url") { return .string(RedactedURL.origin(of: text)) }
            return shownKeys.contains(key) && !SecretSafe.isSecretKey(key) ? .string(text) : .string("(redacted)")
        default: return value
        }
    }

    /// Config keys whose text is shown as written: routing and formatting, never credentials.
    static let shownKeys: Set<String> = ["channel", "default_channel", "channel_label", "severity", "topic", "project", "issue_type", "region", "site",
                                         "format", "priority", "source", "service", "path", "ca_file"]
}

/// A dead letter: its delivery, and the Issue it carried.
struct DeadLetterRow: Sendable {
    var delivery: DeliveryRow
    /// Its Issue's journal entry, when the journal has it.
    var issueLink: Int64?
    var title: String

    /// `link`: its Issue's journal entry (id, title); `title`: else its payload's title.
    init(_ record: DeliveryRecord, link: (Int64, String)?, title: String?) {
        delivery = DeliveryRow(record)
        issueLink = link?.0
        self.title = shown(link?.1 ?? title ?? record.fingerprint)
    }
}

struct DestinationsPage: ConsolePage {
    var context: PageContext
    var destinations: [DestinationCard]
    var deadLetters: [DeadLetterRow]
    var hasDeadLetters: Bool
    var deadCount: Int

    init(context: PageContext, destinations: [DestinationCard], deadLetters: [DeadLetterRow]) {
        self.context = context
        self.destinations = destinations
        self.deadLetters = deadLetters
        hasDeadLetters = !deadLetters.isEmpty
        deadCount = deadLetters.count
    }
}

struct SilenceRow: Sendable {
    var id: String
    var state: String
    var kind: String
    var matchers: String
    var startsAt: String
    var endsAt: String
    var createdBy: String
    var comment: String
    var expirable: Bool

    init(_ silence: Silence, now: Date) {
        let state = silence.state(at: now)
        id = silence.id
        self.state = state.rawValue
        kind = state == .active ? "warn" : state == .pending ? "info" : ""
        matchers = shown(silence.matcherStrings.joined(separator: ", "))
        startsAt = ConsoleTime.text(silence.startsAt)
        endsAt = ConsoleTime.text(silence.endsAt)
        createdBy = shown(silence.createdBy)
        comment = shown(silence.comment)
        expirable = state != .expired
    }
}

struct SilencesPage: ConsolePage {
    var context: PageContext
    /// The form's values: prefilled from an Issue, or kept from a refused attempt.
    var matchers: String
    var duration: String
    var createdBy: String
    var comment: String
    var silences: [SilenceRow]
}

extension Silence.State {
    /// Listing order: active first, then pending, then expired.
    var order: Int {
        switch self {
        case .active: 0
        case .pending: 1
        case .expired: 2
        }
    }
}

struct PreviewPage: ConsolePage {
    struct RouteItem: Sendable {
        var destination: String
        var silenced: String?
        /// Its route groups it: it goes out in its group's notification, not as shown here.
        var grouped: Bool
    }

    struct PreviewIssue: Sendable {
        var title: String
        var status: String
        var severity: String
        var routes: [RouteItem]
        var renders: [MessagePreview]
        var routed: Bool

        init(title: String, status: String, severity: String, routes: [RouteItem], renders: [MessagePreview]) {
            self.title = title
            self.status = status
            self.severity = severity
            self.routes = routes
            self.renders = renders
            routed = !routes.isEmpty
        }
    }

    var context: PageContext
    var body: String
    var error: String?
    var rejected: [String] = []
    var issues: [PreviewIssue] = []

    init(context: PageContext, body: String) {
        self.context = context
        self.body = body
    }
}

/// One destination's rendering of one Issue: what it would send (``Previewer``).
struct MessagePreview: Sendable {
    var destination: String
    var heading: String
    var summary: String
    /// The rendering, built by ``HTML``.
    var html: String
    var payload: String?
    var builderURL: String?
    var isSlack: Bool
}

struct ErrorPage: ConsolePage {
    var context: PageContext
    var heading: String
    var message: String
}
