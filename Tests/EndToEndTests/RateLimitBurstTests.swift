import CanoSDK
import Foundation
import TestSupport
import Testing

/// Issues #13 and #14, for every incident destination: "a burst of 200 Issues with 429s loses
/// nothing and never retries before Retry-After". One table, one test (as Alertmanager's
/// notify tests do it): a row per plugin says how to start its strict double, how to
/// configure the plugin, which delivery a request belongs to, and what the double keeps
/// per delivery. The rest is the same for all:
///
///     POST /api/alerts ×4 (50 each) ─► cano-collector ─► plugin ─► RateLimitProxy ─► double
///                                                                  (429 + Retry-After: 1)
///
/// The proxy answers 429 to a burst of consecutive delivery requests and to every 40th after
/// it (so deliveries that already waited once are throttled again), never forwarding them,
/// and records every request. The destination's backoff is capped at 500 ms, below the
/// Retry-After, so only the Retry-After can keep a retry from coming back early: an engine
/// or plugin that ignored it would fail here rather than pass by luck.
///
/// What the engine guarantees, and so what is asserted (DeliveryEngine, RetryPolicy):
/// - Per delivery: after a retry with a Retry-After, the delivery's next attempt is due no
///   earlier than then (rounded up to the next ms), and only a fingerprint's head is ever
///   attempted. So the next request for the same delivery arrives at or after t + n, where
///   t is the arrival of the throttled request (`clockSlack` covers the engine's wall clock
///   against the proxy's monotonic one).
/// - Per destination: a Retry-After pauses the whole destination until the throttled
///   delivery is due again (docs/delivery.md, "Pause on wait"): the others would only be
///   told the same. Calls already under way finish, so how many requests of other
///   deliveries arrived during a Retry-After is measured and printed, not asserted. What
///   bounds the destination is its worker count: at most `workers` calls, so at most
///   `workers` requests in flight at the service at once (each call's requests are
///   sequential). (These plugins are not reentrant, so the host serialises their calls and
///   1 is what is seen.)
///
/// Each 429 costs the destination a whole Retry-After, so the script is a short burst and
/// a rare repeat: the long throttled runs of a count-based proxy would only measure pauses.
@Suite(.serialized) struct RateLimitBurstTests {
    /// Alerts in the burst.
    static let alertCount = 200
    /// Alerts per webhook.
    static let batchSize = 50
    /// Delivery requests 10 to 19 are throttled (a burst that hits the limit), then every 40th.
    static let policy = RateLimitProxy.Policy(retryAfterSeconds: 1, window: 10..<20, every: 40)
    /// The destination's delivery threads.
    static let workers = 2
    /// How early (by the proxy's clock) a retry may arrive: the engine schedules on the wall
    /// clock, in whole ms rounded up; this covers clock slew, never a missed Retry-After.
    static let clockSlack: Duration = .milliseconds(5)

    @Test(.timeLimit(.minutes(1)), arguments: Row.all)
    func burstWith429sLosesNothingAndNeverRetriesBeforeRetryAfter(_ row: Row) async throws {
        let began = ContinuousClock.now
        let double = try await row.start()
        let proxy = try await RateLimitProxy.start(upstream: double.url, policy: Self.policy, identity: row.identity)
        defer { stopLater { await proxy.stop(); await double.stop() } }
        let workspace = try EndToEndWorkspace(plugins: [row.product])
        defer { workspace.remove() }
        // Backoff capped below the Retry-After: see the suite's comment.
        let collector = try await CollectorProcess(configYAML: """
            \(workspace.configHead)
            destinations:
              - name: burst
                type: \(row.type)
                config: \(double.config(proxy.url))
                delivery: {workers: \(Self.workers), initial_backoff: 100ms, max_backoff: 500ms}
            default_destinations: [burst]
            """, directory: workspace.directory)
        defer { collector.stop() }

        let fingerprints = (0..<Self.alertCount).map(Self.fingerprint)
        for start in stride(from: 0, to: fingerprints.count, by: Self.batchSize) {
            let body = WebhookBody.firing(alertname: "RateLimitBurst", fingerprints: Array(fingerprints[start..<min(start + Self.batchSize, fingerprints.count)]))
            let auth = HTTPHeader(name: "Authorization", value: "Bearer \(EndToEndWorkspace.intakeToken)")
            let response = try await BlockingThread.run(name: "test-post") { try collector.postAlerts(body, headers: [auth]) }
            try #require(response.status == 200, "the intake refused batch \(start / Self.batchSize): \(response.status) \(response.text)")
        }

        // Done when the double holds every alert and the collector counts them delivered
        // with nothing left queued (no attempt still to come that could duplicate one).
        let delivered = "cano_deliveries_total{destination=\"burst\",result=\"delivered\"}"
        do {
            try await waitUntil("\(row.name): all \(Self.alertCount) alerts delivered", timeout: .seconds(40), poll: .milliseconds(50)) {
                // A collector that died cannot deliver the rest: say so now, not at the deadline.
                guard collector.isRunning else {
                    throw CollectorExited(status: collector.exitStatus, signal: collector.terminatingSignal)
                }
                guard Set(double.delivered()).isSuperset(of: fingerprints) else { return false }
                let metrics = try await Self.metrics(collector)
                return Self.sample(metrics, delivered) == Double(Self.alertCount)
                    && Self.sample(metrics, "cano_queue_depth{destination=\"burst\"}") == 0
            }
        } catch {
            let exchanges = proxy.exchanges
            // The engine's own view (queue depth, calls in flight), when the collector still answers.
            let engine = collector.isRunning
                ? ((try? await Self.metrics(collector)) ?? "").split(separator: "\n").filter { $0.hasPrefix("cano_") && $0.contains("burst") && !$0.contains("_bucket") }
                : ["(the collector is not running)"]
            Testing.Issue.record("""
                \(error): the double holds \(Set(double.delivered()).intersection(fingerprints).count) of \(Self.alertCount); \
                the proxy saw \(exchanges.count) requests (\(exchanges.filter(\.throttled).count) answered 429), the last at \
                \(exchanges.last.map { Self.ms($0.arrival - began) } ?? "-"); refused by the double: \(double.refusals().prefix(5)); metrics:
                \(engine.joined(separator: "\n"))
                collector log tail:
                \(collector.log.suffix(3000))
                """)
            throw error
        }
        let duration = ContinuousClock.now - began

        // Loses nothing, duplicates nothing: the double's own records, one per delivery it absorbed.
        let kept = Dictionary(grouping: double.delivered(), by: { $0 }).mapValues(\.count)
        #expect(fingerprints.filter { kept[$0] == nil }.isEmpty, "\(row.name): alerts never delivered")
        #expect(kept.filter { $0.value > 1 }.isEmpty, "\(row.name): alerts delivered more than once: \(kept.filter { $0.value > 1 })")
        #expect(Set(kept.keys) == Set(fingerprints), "\(row.name): records for unknown alerts: \(Set(kept.keys).subtracting(fingerprints))")
        #expect(double.refusals().isEmpty, "\(row.name): the double refused requests: \(double.refusals())")

        let exchanges = proxy.exchanges
        let throttled = exchanges.filter(\.throttled)
        #expect(throttled.count >= Self.policy.window.count, "\(row.name): the burst was not throttled as scripted (\(throttled.count) 429s)")
        #expect(!exchanges.contains { $0.status == 502 }, "\(row.name): the proxy could not reach the double")

        // The collector's account agrees: every 429 was one retry, nothing else failed.
        let metrics = try await Self.metrics(collector)
        #expect(Self.sample(metrics, delivered) == Double(Self.alertCount))
        #expect(Self.sample(metrics, "cano_dead_letters_total{destination=\"burst\"}") ?? 0 == 0, "\(row.name): dead letters")
        #expect(Self.sample(metrics, "cano_deliveries_total{destination=\"burst\",result=\"permanent\"}") ?? 0 == 0)
        #expect(Self.sample(metrics, "cano_deliveries_total{destination=\"burst\",result=\"retry\"}") ?? 0 == Double(throttled.count),
                "\(row.name): each 429 ends its attempt with one retry")
        #expect(Self.sample(metrics, "cano_delivery_retries_total{destination=\"burst\"}") ?? 0 == Double(throttled.count))

        // Never retries before Retry-After: the next request for the same delivery comes at
        // or after t + n.
        let retryAfter = Self.policy.retryAfter
        var violations: [String] = []
        var margins: [Duration] = []
        var othersDuringPause = 0
        for (index, request) in exchanges.enumerated() where request.throttled {
            guard let id = request.identity else { continue }
            let due = request.arrival + retryAfter
            guard let next = exchanges[(index + 1)...].first(where: { $0.identity == id }) else {
                violations.append("\(id): throttled at \(Self.ms(request.arrival - began)) and never tried again")
                continue
            }
            margins.append(next.arrival - due)
            if next.arrival < due - Self.clockSlack {
                violations.append("""
                    \(id): 429 (Retry-After \(Self.policy.retryAfterSeconds)) to \(request.method) \(request.target) at \(Self.ms(request.arrival - began)), \
                    next \(next.method) \(next.target) at \(Self.ms(next.arrival - began)): \(Self.ms(due - next.arrival)) early
                    """)
            }
            othersDuringPause = max(othersDuringPause, exchanges.filter { $0.identity != id && $0.arrival > request.arrival && $0.arrival < due }.count)
        }
        // Counted, not the list itself: the message lists each once, with its times.
        let violationCount = violations.count
        #expect(violationCount == 0, "\(row.name): 429s not followed by a retry at or after their Retry-After:\n\(violations.joined(separator: "\n"))")

        // At the destination: never more calls at once than it has workers.
        #expect(proxy.maxInFlight <= Self.workers, "\(row.name): \(proxy.maxInFlight) requests in flight at once with \(Self.workers) workers")

        // For CI logs and the issue: what the burst looked like.
        print("""
            RateLimitBurst \(row.name): \(Self.alertCount) delivered in \(Self.ms(duration)) (collector start included); \
            \(exchanges.count) requests, \(throttled.count) answered 429; earliest retry \(margins.min().map(Self.ms) ?? "-") after its Retry-After; \
            up to \(othersDuringPause) requests of other deliveries during one Retry-After; max \(proxy.maxInFlight) in flight
            """)
    }

    // MARK: - Helpers

    /// The collector ended during the run (a crash, or a kill from outside the test).
    struct CollectorExited: Error, CustomStringConvertible {
        let status: Int32
        let signal: Int32?
        var description: String { "the collector exited during the burst (status \(status), signal \(signal.map(String.init) ?? "none"))" }
    }

    /// The i-th alert's fingerprint: 16 hex digits, as Alertmanager's.
    static func fingerprint(_ i: Int) -> String {
        let hex = String(i, radix: 16)
        return "5ca1ab1e" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// The collector's `/metrics` text (the GET blocks: on a thread of its own).
    static func metrics(_ collector: CollectorProcess) async throws -> String {
        try await BlockingThread.run(name: "test-metrics") { try collector.get("/metrics").text }
    }

    /// The value of one series (`name{labels}` exactly as rendered), or nil when absent.
    static func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    /// "1234.5 ms".
    static func ms(_ d: Duration) -> String {
        let (seconds, attoseconds) = d.components
        let value = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        return String(Int((value * 10).rounded())).withDecimal + " ms"
    }
}

extension String {
    /// "12345" (tenths) → "1234.5".
    fileprivate var withDecimal: String {
        let negative = hasPrefix("-")
        var digits = negative ? String(dropFirst()) : self
        while digits.count < 2 { digits = "0" + digits }
        return (negative ? "-" : "") + digits.dropLast() + "." + digits.suffix(1)
    }
}

extension RateLimitBurstTests {
    /// One incident destination: its plugin, its double, and how to read both.
    struct Row: Sendable, CustomTestStringConvertible {
        /// "PagerDuty".
        let name: String
        /// The plugin's product (`libCanoPagerDuty.so`).
        let product: String
        /// The destination type in the collector config.
        let type: String
        /// The delivery a request belongs to; nil for requests that are not a delivery's.
        let identity: @Sendable (RateLimitProxy.Request) -> String?
        /// Starts the double.
        let start: @Sendable () async throws -> Target

        var testDescription: String { name }

        /// A started double, seen through what the test needs.
        struct Target: Sendable {
            /// The double's base URL (the proxy forwards there).
            let url: String
            /// The plugin's config, a YAML flow mapping, with the service at `url` (the proxy's).
            let config: @Sendable (_ url: String) -> String
            /// One fingerprint per delivery the double absorbed: a record it keeps, plus one per
            /// repeat it folded into that record (a count, a comment, a work note), so a
            /// duplicate delivery shows even where the service deduplicates.
            let delivered: @Sendable () -> [String]
            /// The requests the double refused (its contract checks), described.
            let refusals: @Sendable () -> [String]
            let stop: @Sendable () async -> Void
        }

        static let all: [Row] = [pagerDuty, opsgenie, jira, serviceNow, teams, datadog]

        /// Events API v2: every event names its alert by `dedup_key`, the fingerprint.
        static let pagerDuty = Row(
            name: "PagerDuty", product: "CanoPagerDuty", type: "pagerduty",
            identity: { $0.json?["dedup_key"]?.stringValue },
            start: {
                let key = PagerDutyDouble.sampleRoutingKey
                let double = try await PagerDutyDouble.start(routingKeys: [key])
                return Target(
                    url: double.url, config: { "{url: \"\($0)\", routing_key: \"\(key)\"}" },
                    // Every accepted trigger: a repeat would be a second one for the same key.
                    delivered: { double.alertEvents.filter { $0.action == "trigger" }.compactMap(\.dedupKey) },
                    refusals: { double.rejections.map { "\($0.status) \($0.path): \($0.errors)" } },
                    stop: { await double.stop() })
            })

        /// Alert API v2: a create carries `alias` (the fingerprint); a close names it in the path.
        static let opsgenie = Row(
            name: "Opsgenie", product: "CanoOpsgenie", type: "opsgenie",
            identity: { request in
                let path = request.segments
                guard request.method == "POST", path.count >= 2, path[0] == "v2", path[1] == "alerts" else { return nil }
                if path.count == 2 { return request.json?["alias"]?.stringValue }
                return path.count == 4 && path[3] == "close" ? path[2] : nil
            },
            start: {
                let apiKey = "og-burst-3f9a1c-OPSGENIEBURSTKEY"
                let double = try await OpsgenieDouble.start(apiKey: apiKey)
                return Target(
                    url: double.apiURL, config: { "{api_url: \"\($0)\", api_key: \"\(apiKey)\"}" },
                    // A create for an open alias only raises its count: each count is a delivery.
                    delivered: { double.alerts.flatMap { Array(repeating: $0.alias, count: $0.count) } },
                    refusals: { double.calls.filter { $0.status >= 300 }.map { "\($0.status) \($0.method) \($0.path): \($0.error ?? "") \($0.errors)" } },
                    stop: { await double.stop() })
            })

        /// REST v3: the search and the create carry the dedup label `cano-fp-<fingerprint>`;
        /// requests on an existing issue name its key in the path (not made for new firings).
        /// `GET /myself` (the credential check at create) is no delivery's.
        static let jira = Row(
            name: "Jira", product: "CanoJira", type: "jira",
            identity: { request in
                let path = request.segments
                if path.count >= 5, Array(path.prefix(4)) == ["rest", "api", "3", "issue"] { return path[4] }
                guard let label = request.text.range(of: "cano-fp-[A-Za-z0-9._-]+", options: .regularExpression) else { return nil }
                return String(request.text[label].dropFirst("cano-fp-".count))
            },
            start: {
                let (email, token) = ("alerts@example.com", "ATATT3x-burst-JIRABURSTTOKEN-77d1")
                let double = try await JiraDouble.start(email: email, apiToken: token)
                return Target(
                    url: double.url,
                    config: { "{url: \"\($0)\", project: OPS, issue_type: Incident, user: \"\(email)\", api_token: \"\(token)\"}" },
                    // A firing for an open issue adds a "still firing" comment: each is a delivery.
                    delivered: {
                        double.issues.flatMap { issue in
                            issue.labels.filter { $0.hasPrefix("cano-fp-") }.flatMap { label in
                                Array(repeating: String(label.dropFirst("cano-fp-".count)), count: 1 + issue.comments.count)
                            }
                        }
                    },
                    refusals: { double.calls.filter { $0.status >= 300 }.map { "\($0.status) \($0.method) \($0.path): \($0.errorMessages) \($0.errors)" } },
                    stop: { await double.stop() })
            })

        /// Table API: the lookup's `sysparm_query` and the create's body carry `correlation_id`
        /// (the fingerprint); an update names the record's sys_id in the path.
        static let serviceNow = Row(
            name: "ServiceNow", product: "CanoServiceNow", type: "servicenow",
            identity: { request in
                let path = request.segments
                let table = path.starts(with: ["api", "now", "table", "incident"]) || path.starts(with: ["api", "now", "v2", "table", "incident"])
                guard table else { return nil }
                if path.last != "incident" { return path.last }
                if request.method == "GET" {
                    guard let query = request.query("sysparm_query"), query.hasPrefix("correlation_id=") else { return nil }
                    return String(query.dropFirst("correlation_id=".count).prefix { $0 != "^" })
                }
                return request.json?["correlation_id"]?.stringValue
            },
            start: {
                let (username, password) = ("cano.burst", "sn-burst-8e2d4b-SNBURSTPASSWORD")
                let double = try await ServiceNowDouble.start(username: username, password: password)
                return Target(
                    url: double.instanceURL, config: { "{instance_url: \"\($0)\", username: \(username), password: \"\(password)\"}" },
                    // A firing for an open incident adds a work note: each is a delivery.
                    delivered: { double.incidents.flatMap { Array(repeating: $0.correlationID ?? "", count: 1 + $0.workNotes.count) } },
                    refusals: { double.calls.filter { $0.status >= 300 }.map { "\($0.status) \($0.method) \($0.path): \($0.error ?? "") \($0.detail ?? "")" } },
                    stop: { await double.stop() })
            })

        /// Workflows webhook: the card carries no fingerprint (the plugin sends none), so
        /// the alert is named by its `fp` label, which the burst's webhook bodies set to the
        /// fingerprint (``WebhookBody/firing(alertname:fingerprints:)``) and the card shows
        /// in its "Labels" FactSet. The webhook URL is opaque: the double takes any path, so
        /// the proxy forwards the sample path and its signed query unchanged. The plugin
        /// makes no call at create (a webhook cannot be checked without posting).
        static let teams = Row(
            name: "Teams", product: "CanoTeams", type: "msteams",
            identity: { request in
                request.json?["attachments"]?.arrayValue?.lazy.compactMap { $0["content"].flatMap(fingerprintLabel) }.first
            },
            start: {
                let double = try await TeamsDouble.start()
                return Target(
                    url: double.server.baseURL, config: { "{url: \"\($0)\(TeamsDouble.samplePath)\"}" },
                    // Webhooks cannot update a message: every accepted card is one delivery.
                    delivered: { double.cards.compactMap(fingerprintLabel) },
                    refusals: { double.rejections.map { "\($0.status): \($0.reasons)" } },
                    stop: { await double.stop() })
            })

        /// The `fp` fact of a card's top-level FactSets (the "Labels" one), nil when absent.
        /// Only the card's own body is read, where the plugin puts its FactSets, not every
        /// nested element: `delivered` runs on each 50 ms poll over up to 200 cards, in the
        /// process that also runs the proxy and the double.
        @Sendable static func fingerprintLabel(_ card: JSONValue) -> String? {
            for element in card["body"]?.arrayValue ?? [] where element["type"]?.stringValue == "FactSet" {
                for fact in element["facts"]?.arrayValue ?? [] where fact["title"]?.stringValue == "fp" {
                    return fact["value"]?.stringValue
                }
            }
            return nil
        }

        /// Events API v2 (the default): every event names its alert by `aggregation_key`, the
        /// fingerprint (v1 has it at the top level). The key check at create
        /// (`GET /api/v1/validate`, through the proxy as `api_url` is its base) has no body,
        /// so no identity: forwarded, never throttled. Datadog signals its limit with
        /// `X-RateLimit-Reset`; the proxy's 429 carries `Retry-After`, which the plugin
        /// honours first.
        static let datadog = Row(
            name: "Datadog", product: "CanoDatadog", type: "datadog",
            identity: { request in
                guard request.method == "POST", let body = request.json else { return nil }
                return (body["data"]?["attributes"]?["aggregation_key"] ?? body["aggregation_key"])?.stringValue
            },
            start: {
                let apiKey = "dd0burst0c4n0DATADOGBURSTKEY0042"
                let double = try await DatadogDouble.start(apiKeys: [apiKey])
                return Target(
                    url: double.url, config: { "{api_url: \"\($0)\", api_key: \"\(apiKey)\"}" },
                    // Events are immutable: every accepted event is one delivery.
                    delivered: { double.events.compactMap(\.aggregationKey) },
                    refusals: { double.rejections.map { "\($0.status) \($0.path): \($0.errors)" } },
                    stop: { await double.stop() })
            })
    }
}
