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
/// 400/401/413 for what no retry can fix, 503 for backpressure and shutdown, 500 when the
/// database failed.
public struct AlertmanagerIntake: Sendable {
    /// What to answer.
    public struct Response: Sendable, Equatable {
        public var status: Int
        /// A JSON object: `{"accepted":N,"duplicates":N,"rejected":[...]}` or `{"error":"..."}`.
        public var body: [UInt8]
        public var headers: [HTTPHeader]

        static func error(_ status: Int, _ message: String, headers: [HTTPHeader] = []) -> Response {
            Response(status: status, body: (try? IssueCoding.encode(["error": message])) ?? [], headers: headers)
        }
    }

    private let mapper: AlertMapper
    private let auth: IntakeAuth
    private let sink: any IssueSink
    private let metrics: Metrics
    private let logger: Logger

    public init(config: CollectorConfig, sink: any IssueSink, metrics: Metrics, logger: Logger) {
        self.mapper = AlertMapper(config: config.alertmanager, cluster: config.cluster)
        self.auth = config.server.auth
        self.sink = sink
        self.metrics = metrics
        self.logger = logger
        metrics.describe("cano_alerts_received_total", type: "counter", help: "Alerts received from Alertmanager, by outcome (accepted, duplicate, rejected).")
        metrics.describe("cano_issues_created_total", type: "counter", help: "Issues created, by source.")
        metrics.describe("cano_intake_requests_total", type: "counter", help: "Intake HTTP requests, by status code.")
    }

    /// Handles one request. `authorization` is the raw Authorization header, if any.
    public func handle(body: [UInt8], authorization: String?) async -> Response {
        let response = await process(body: body, authorization: authorization)
        metrics.increment("cano_intake_requests_total", ["code": String(response.status)])
        return response
    }

    private func process(body: [UInt8], authorization: String?) async -> Response {
        guard authorized(authorization) else {
            logger.warning("rejected an intake request with missing or wrong credentials")
            return .error(401, "missing or invalid credentials", headers: [HTTPHeader(name: "WWW-Authenticate", value: auth.challenge)])
        }
        let webhook: AlertmanagerWebhook
        do {
            webhook = try IssueCoding.decode(AlertmanagerWebhook.self, from: body)
        } catch let error as DecodingError {
            if let syntax = JSONSyntaxCheck.firstError(in: body) {
                return .error(400, "invalid Alertmanager webhook body: not valid JSON at \(syntax)")
            }
            return .error(400, "invalid Alertmanager webhook body: \(Self.describe(error))")
        } catch {
            return .error(400, "invalid Alertmanager webhook body: \(error)")
        }

        var issues: [Issue] = []
        var rejected: [[String: String]] = []
        for (index, decoded) in webhook.alerts.enumerated() {
            switch decoded {
            case .alert(let alert):
                do {
                    issues.append(try mapper.map(alert, externalURL: webhook.externalURL))
                } catch {
                    rejected.append(["index": String(index), "error": "alerts[\(index)]: \(error.message)"])
                }
            case .invalid(let reason):
                rejected.append(["index": String(index), "error": reason])
            }
        }
        if !rejected.isEmpty {
            metrics.increment("cano_alerts_received_total", ["outcome": "rejected"], by: Double(rejected.count))
            for r in rejected { logger.warning("rejected an alert", metadata: ["reason": .string(r["error"] ?? "")]) }
        }
        if issues.isEmpty && !rejected.isEmpty {
            return Response(status: 400, body: Self.summary(accepted: 0, duplicates: 0, rejected: rejected), headers: [])
        }

        do {
            let receipt = try await sink.submit(issues)
            let accepted = issues.count - receipt.duplicates
            metrics.increment("cano_alerts_received_total", ["outcome": "accepted"], by: Double(accepted))
            metrics.increment("cano_alerts_received_total", ["outcome": "duplicate"], by: Double(receipt.duplicates))
            metrics.increment("cano_issues_created_total", ["source": IssueSource.prometheus.rawValue], by: Double(issues.count))
            return Response(status: 200, body: Self.summary(accepted: accepted, duplicates: receipt.duplicates, rejected: rejected), headers: [])
        } catch {
            logger.error("could not accept alerts", metadata: ["reason": .string(error.message), "alerts": .stringConvertible(issues.count)])
            switch error.code {
            case .backpressure, .shuttingDown:
                return .error(503, error.message, headers: [HTTPHeader(name: "Retry-After", value: "5")])
            case .storage:
                return .error(500, error.message)
            }
        }
    }

    private func authorized(_ header: String?) -> Bool {
        switch auth {
        case .none:
            return true
        case .bearer(let token):
            guard let header, header.hasPrefix("Bearer ") else { return false }
            return Self.constantTimeEqual(Array(header.utf8.dropFirst(7)), Array(token.value.utf8))
        case .basic(let username, let password):
            guard let header, header.hasPrefix("Basic "),
                  let decoded = Data(base64Encoded: String(header.dropFirst(6))) else { return false }
            let expected = Array("\(username):\(password.value)".utf8)
            return Self.constantTimeEqual(Array(decoded), expected)
        }
    }

    /// Compares without an early exit, so response timing does not leak the secret.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }

    private static func summary(accepted: Int, duplicates: Int, rejected: [[String: String]]) -> [UInt8] {
        struct Summary: Encodable {
            var accepted: Int
            var duplicates: Int
            var rejected: [String]
        }
        return (try? IssueCoding.encode(Summary(accepted: accepted, duplicates: duplicates, rejected: rejected.compactMap { $0["error"] }))) ?? []
    }

    /// "alerts: expected a list" / "not valid JSON: Unexpected character ... line 1, column 9".
    static func describe(_ error: DecodingError) -> String {
        if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
            let underlying = context.underlyingError.map { "\($0)" } ?? context.debugDescription
            return "not valid JSON: \(underlying)"
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
