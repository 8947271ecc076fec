#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Logging

/// `POST /api/alerts`: checks auth, decodes the webhook, maps alerts to Issues and submits
/// them durably, then answers. Independent of the HTTP server so it is tested directly.
///
/// Alertmanager retries 5xx and drops 4xx, so the status codes say whether a retry helps:
/// 400/401/405/413/415 for what no retry can fix, 503 with Retry-After for what passes
/// (the store unavailable, shutdown), 500 for a bug (an Issue that cannot be encoded).
/// Every answer, including those the HTTP layer decides (413 for
/// a raw body over the limit, 405), is counted in `cano_intake_requests_total{code}`.
///
/// What a 400 and the logs echo of the request is bounded (``BoundedEcho``, at most
/// ``maxListedRejections`` reasons, ``maxLoggedRejections`` log lines) and scrubbed
/// (``SecretScrubber``): the sender chooses the body's size, not ours.
public struct AlertmanagerIntake: Sendable {
    /// What to answer.
    public struct Response: Sendable, Equatable {
        public var status: Int
        /// A JSON object: `{"accepted":N,"duplicates":N,"held":N,"rejected":[...]}` or
        /// `{"error":"..."}`. `held` counts the Issue-and-destination pairs kept in a notify
        /// group (grouped, silenced, muted, waiting for `min_duration`) instead of queued.
        public var body: [UInt8]
        public var headers: [HTTPHeader]

        static func error(_ status: Int, _ message: String, headers: [HTTPHeader] = []) -> Response {
            Response(status: status, body: (try? IssueCoding.encode(["error": AlertmanagerIntake.echo(message, limit: 1024)])) ?? [], headers: headers)
        }
    }

    private let mapper: AlertMapper
    private let auth: IntakeAuth
    private let sink: any IssueSink
    private let metrics: Metrics
    private let logger: Logger
    /// The largest body accepted after decoding `Content-Encoding` (`server.max_body_bytes`).
    private let maxBodyBytes: Int

    /// The most rejection reasons a 400 lists; the rest are counted ("… and N more").
    public static let maxListedRejections = 10
    /// The most rejected alerts logged one by one per request; the rest in one summary line.
    public static let maxLoggedRejections = 5

    public init(config: CollectorConfig, sink: any IssueSink, metrics: Metrics, logger: Logger) {
        self.mapper = AlertMapper(config: config.alertmanager, cluster: config.cluster)
        self.auth = config.server.auth
        self.sink = sink
        self.metrics = metrics
        self.logger = logger
        self.maxBodyBytes = config.server.maxBodyBytes
        metrics.describe("cano_alerts_received_total", type: "counter", help: "Alerts received from Alertmanager, by outcome (accepted, duplicate, rejected).")
        metrics.describe("cano_issues_created_total", type: "counter", help: "Issues created, by source.")
        metrics.describe("cano_intake_requests_total", type: "counter", help: "Intake HTTP requests, by status code.")
        metrics.describe("cano_alerts_truncated_total", type: "counter",
                         help: "Alerts Alertmanager left out of its webhooks (truncatedAlerts, the receiver's max_alerts); they never reach the collector.")
    }

    /// Handles one request. `authorization` is the raw Authorization header, if any;
    /// `contentEncoding` the raw Content-Encoding header (identity and gzip are accepted).
    public func handle(body: [UInt8], authorization: String?, contentEncoding: String? = nil) async -> Response {
        let response = await process(body: body, authorization: authorization, contentEncoding: contentEncoding)
        return counted(response)
    }

    /// The 413 for a request whose raw body passed `limit` bytes before it was read whole
    /// (the HTTP layer stops reading there), counted like every other answer.
    public func bodyTooLarge(limit: Int) -> Response {
        counted(.error(413, "request body exceeds \(limit) bytes (server.max_body_bytes)"))
    }

    /// The 405 for a method other than POST on the intake path, with `Allow: POST`.
    public func methodNotAllowed(_ method: String) -> Response {
        counted(.error(405, "\(Self.echo(method, limit: 32)) is not allowed here; Alertmanager POSTs webhooks to this path",
                       headers: [HTTPHeader(name: "Allow", value: "POST")]))
    }

    private func counted(_ response: Response) -> Response {
        metrics.increment("cano_intake_requests_total", ["code": String(response.status)])
        return response
    }

    /// A webhook body, checked and mapped: the Issues, the alerts refused (index and
    /// reason) and the webhook itself.
    struct Parsed {
        var issues: [Issue]
        var rejected: [[String: String]]
        var webhook: AlertmanagerWebhook
    }

    /// Why a body as a whole was refused (the intake answers it with a 400).
    struct Refusal: Error {
        var message: String
        init(_ message: String) { self.message = message }
        var response: Response { .error(400, message) }
    }

    /// Checks and maps a decoded (not gzip) webhook body, with no side effect: the intake
    /// and the console's preview share it, so the preview shows exactly what the intake
    /// would make.
    func parse(_ body: [UInt8]) -> Result<Parsed, Refusal> {
        if let offset = UTF8Check.firstInvalidByte(in: body) {
            return .failure(Refusal("invalid Alertmanager webhook body: not valid UTF-8 at byte offset \(offset) (\(JSONSyntaxCheck.position(of: offset, in: body)))"))
        }
        let webhook: AlertmanagerWebhook
        do {
            webhook = try IssueCoding.decode(AlertmanagerWebhook.self, from: body)
        } catch let error as DecodingError {
            if let syntax = JSONSyntaxCheck.firstError(in: body) {
                return .failure(Refusal("invalid Alertmanager webhook body: not valid JSON at \(syntax)"))
            }
            return .failure(Refusal("invalid Alertmanager webhook body: \(Self.describe(error))"))
        } catch {
            return .failure(Refusal("invalid Alertmanager webhook body: \(error)"))
        }

        let group = AlertMapper.Group(truncatedAlerts: max(0, webhook.truncatedAlerts ?? 0), labels: webhook.groupLabels?.labels ?? [:])
        var issues: [Issue] = []
        var rejected: [[String: String]] = []
        for (index, decoded) in webhook.alerts.enumerated() {
            switch decoded {
            case .alert(let alert):
                do {
                    var issue = try mapper.map(alert, externalURL: webhook.externalURL, group: group)
                    // Routes group by Alertmanager's own group unless they set group_by.
                    if let key = webhook.groupKey, !key.isEmpty {
                        issue.groupKey = key
                        issue.groupLabels = group.labels
                    }
                    issues.append(issue)
                } catch {
                    rejected.append(["index": String(index), "error": Self.echo("alerts[\(index)]: \(error.message)", limit: 512)])
                }
            case .invalid(let reason):
                rejected.append(["index": String(index), "error": Self.echo(reason, limit: 512)])
            }
        }
        return .success(Parsed(issues: issues, rejected: rejected, webhook: webhook))
    }

    private func process(body raw: [UInt8], authorization: String?, contentEncoding: String?) async -> Response {
        guard authorized(authorization) else {
            logger.warning("rejected an intake request with missing or wrong credentials")
            return .error(401, "missing or invalid credentials", headers: [HTTPHeader(name: "WWW-Authenticate", value: auth.challenge)])
        }
        let body: [UInt8]
        switch ContentEncoding.decode(raw, encoding: contentEncoding, maxBytes: maxBodyBytes) {
        case .success(let decoded): body = decoded
        case .failure(.unsupported(let name)):
            return .error(415, "Content-Encoding \"\(Self.echo(name, limit: 64))\" is not supported; send the body uncompressed or with gzip")
        case .failure(.tooLarge):
            return .error(413, "the gzip-decoded request body exceeds \(maxBodyBytes) bytes (server.max_body_bytes)")
        case .failure(.corrupt):
            return .error(400, "invalid Alertmanager webhook body: Content-Encoding is gzip but the body is not valid gzip")
        }
        let parsed: Parsed
        switch parse(body) {
        case .success(let p): parsed = p
        case .failure(let refusal): return refusal.response
        }
        let (issues, rejected, webhook) = (parsed.issues, parsed.rejected, parsed.webhook)
        let truncated = max(0, webhook.truncatedAlerts ?? 0)
        if truncated > 0 {
            metrics.increment("cano_alerts_truncated_total", by: Double(truncated))
            logger.warning("Alertmanager left alerts of a group out of this webhook (max_alerts); each Issue of the webhook says so", metadata: [
                "truncated_alerts": .stringConvertible(truncated),
                "group_key": .string(Self.echo(webhook.groupKey ?? "", limit: 256)),
                "receiver": .string(Self.echo(webhook.receiver ?? "", limit: 64)),
            ])
        }
        if !rejected.isEmpty {
            metrics.increment("cano_alerts_received_total", ["outcome": "rejected"], by: Double(rejected.count))
            for r in rejected.prefix(Self.maxLoggedRejections) { logger.warning("rejected an alert", metadata: ["reason": .string(r["error"] ?? "")]) }
            if rejected.count > Self.maxLoggedRejections {
                logger.warning("rejected more alerts in the same request", metadata: ["count": .stringConvertible(rejected.count - Self.maxLoggedRejections)])
            }
        }
        if issues.isEmpty && !rejected.isEmpty {
            return Response(status: 400, body: Self.summary(accepted: 0, duplicates: 0, held: 0, rejected: rejected), headers: [])
        }

        do {
            let receipt = try await sink.submit(issues)
            let accepted = issues.count - receipt.duplicates
            metrics.increment("cano_alerts_received_total", ["outcome": "accepted"], by: Double(accepted))
            metrics.increment("cano_alerts_received_total", ["outcome": "duplicate"], by: Double(receipt.duplicates))
            metrics.increment("cano_issues_created_total", ["source": IssueSource.prometheus.rawValue], by: Double(issues.count))
            return Response(status: 200, body: Self.summary(accepted: accepted, duplicates: receipt.duplicates, held: receipt.held, rejected: rejected), headers: [])
        } catch {
            logger.error("could not accept alerts", metadata: ["reason": .string(error.message), "alerts": .stringConvertible(issues.count)])
            switch error.code {
            case .unavailable, .shuttingDown:
                return .error(503, error.message, headers: [HTTPHeader(name: "Retry-After", value: "5")])
            case .internal:
                return .error(500, error.message)
            }
        }
    }

    private func authorized(_ header: String?) -> Bool { auth.accepts(header) }

    private static func summary(accepted: Int, duplicates: Int, held: Int, rejected: [[String: String]]) -> [UInt8] {
        struct Summary: Encodable {
            var accepted: Int
            var duplicates: Int
            var held: Int
            var rejected: [String]
        }
        var reasons = rejected.prefix(maxListedRejections).compactMap { $0["error"] }
        if rejected.count > maxListedRejections { reasons.append("… and \(rejected.count - maxListedRejections) more rejected alerts") }
        return (try? IssueCoding.encode(Summary(accepted: accepted, duplicates: duplicates, held: held, rejected: reasons))) ?? []
    }

    /// Request-derived text fit to send back or log: secrets scrubbed, then capped
    /// (scrubbing first, so a cut cannot leave half a secret that no longer matches).
    static func echo(_ text: String, limit: Int = BoundedEcho.defaultLimit) -> String {
        BoundedEcho.cap(SecretScrubber.shared.scrub(text), limit: limit)
    }

    /// "alerts: expected a list" / "not valid JSON: Unexpected character ... line 1, column 9".
    static func describe(_ error: DecodingError) -> String {
        if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
            let underlying = context.underlyingError.map { "\($0)" } ?? context.debugDescription
            return "not valid JSON: \(echo(underlying))"
        }
        return error.readableDescription
    }
}

extension IntakeAuth {
    /// The WWW-Authenticate challenge for a 401.
    var challenge: String {
        switch self {
        case .basic: "Basic realm=\"cano-collector\""
        default: "Bearer realm=\"cano-collector\""
        }
    }
}
