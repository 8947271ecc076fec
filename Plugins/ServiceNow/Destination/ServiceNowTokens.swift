#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Synchronization

/// OAuth access tokens for an OAuth client (`client_id`, `client_secret`), from
/// ServiceNow's token endpoint, `POST <instance>/oauth_token.do`, with a form body:
///
/// - `grant_type=client_credentials&client_id=…&client_secret=…` (ServiceNow's "Client
///   credentials grant"; the token acts as the OAuth application's user), or
/// - `grant_type=password&client_id=…&client_secret=…&username=…&password=…` when the
///   config also names a user (the token carries that user's roles; every release has it).
///
/// ServiceNow answers `{"access_token","refresh_token","scope","token_type":"Bearer",
/// "expires_in":1800}`. The token is kept in this instance only (never in the host's store:
/// it would outlive its expiry and sit in a database), used until shortly before
/// `expires_in` runs out, and dropped when the Table API answers 401 so that the caller
/// fetches one new token and sends again once. The refresh token is not used: a new
/// client-credentials or password request is as cheap and needs nothing stored.
final class ServiceNowTokens: Sendable {
    /// The token endpoint's path under the instance URL.
    static let path = "/oauth_token.do"
    /// Names the step in messages: "ServiceNow OAuth token request (POST /oauth_token.do)".
    static let step = "ServiceNow OAuth token request (POST \(path))"
    /// ServiceNow's default access token lifespan, assumed when an answer has no `expires_in`.
    static let defaultLifetime: TimeInterval = 1800
    /// A token is replaced this long before it expires (at most half its life), so no call
    /// leaves with a token that expires in flight.
    static let refreshMargin: TimeInterval = 60

    private struct Cached {
        var token: String
        /// When to stop using it: the expiry minus the margin, by ``now``.
        var renewAt: Date
    }

    private struct State {
        var cached: Cached?
        /// The static secrets and the tokens issued so far (the last few), prepared.
        var secrets: [[UInt8]]
        var issued: [String] = []
    }

    let client: ServiceNowConfig.OAuthClient
    private let config: ServiceNowConfig
    private let now: @Sendable () -> Date
    private let state: Mutex<State>

    init(client: ServiceNowConfig.OAuthClient, config: ServiceNowConfig, now: @escaping @Sendable () -> Date) {
        self.client = client
        self.config = config
        self.now = now
        state = Mutex(State(secrets: config.secrets))
    }

    /// Everything no message may contain, the access tokens issued so far included.
    var secrets: [[UInt8]] { state.withLock { $0.secrets } }

    /// Drops the cached token: the instance refused it (expired early, revoked).
    func invalidate() {
        state.withLock { $0.cached = nil }
    }

    /// `Bearer <token>`: the cached token while it is fresh, else a new one from the token
    /// endpoint (a blocking call on `http`, bounded by `timeout`).
    func authorization(using http: HTTPClient, timeout: Duration) -> Result<String, ServiceNowNotifier.Failure> {
        let now = now()
        if let cached = state.withLock({ $0.cached }), now < cached.renewAt {
            return .success("Bearer " + cached.token)
        }
        var form = [("grant_type", client.grantType), ("client_id", client.clientID), ("client_secret", client.clientSecret)]
        if let username = client.username, let password = client.password {
            form += [("username", username), ("password", password)]
        }
        let body = form.map { PercentEncoding.encode($0.0) + "=" + PercentEncoding.encode($0.1) }.joined(separator: "&")
        let request = HTTPRequest(
            method: "POST", url: config.instanceURL + Self.path,
            headers: [
                HTTPHeader(name: "Content-Type", value: "application/x-www-form-urlencoded"),
                HTTPHeader(name: "Accept", value: "application/json"),
                HTTPHeader(name: "User-Agent", value: "cano-collector-servicenow/\(ServiceNow.version)"),
            ],
            body: Array(body.utf8), timeout: timeout, maxResponseBytes: 64 * 1024)
        let secrets = self.secrets
        let response: HTTPResponse
        do {
            response = try http.send(request)
        } catch {
            return .failure(.unanswered(Self.named(HTTPOutcome.classify(error, secrets: secrets), "failed")))
        }
        guard (200..<300).contains(response.status) else {
            let outcome = HTTPOutcome.classify(response, origin: config.origin, detail: explanation(response), secrets: secrets)
            if case .permanent = outcome {
                return .failure(.rejected(Self.named(outcome, "was rejected"), status: response.status, byTokenEndpoint: true))
            }
            return .failure(.result(Self.named(outcome, "failed")))
        }
        let answer = try? IssueCoding.decode(JSONValue.self, from: response.body)
        guard let token = answer?["access_token"]?.stringValue, !token.isEmpty,
              !token.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" })
        else {
            // A login page or a hibernating developer instance answers 200 too.
            return .failure(.result(.retry(message: "\(Self.step) answered HTTP \(response.status) from \(config.origin) without an access_token: check instance_url")))
        }
        let lifetime: TimeInterval = switch answer?["expires_in"] {
        case .number(let seconds)? where seconds > 0: seconds
        case .string(let text)?: Double(text).flatMap { $0 > 0 ? $0 : nil } ?? Self.defaultLifetime
        default: Self.defaultLifetime
        }
        let renewAt = now.addingTimeInterval(lifetime - min(Self.refreshMargin, lifetime / 2))
        state.withLock { s in
            s.cached = Cached(token: token, renewAt: renewAt)
            // The last few tokens only: an older one can no longer be echoed by anything we call.
            s.issued = Array((s.issued + [token]).suffix(4))
            s.secrets = SecretSafe.prepared(config.secretValues + s.issued + s.issued.map { "Bearer " + $0 })
        }
        return .success("Bearer " + token)
    }

    /// The token endpoint's `error_description` and `error` (RFC 6749 §5.2, which
    /// ServiceNow follows: `{"error":"server_error","error_description":"access_denied"}`
    /// for a wrong client or user), with the fix for a rejection.
    private func explanation(_ response: HTTPResponse) -> String? {
        let answer = try? IssueCoding.decode(JSONValue.self, from: response.body)
        let code = answer?["error"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let description = answer?["error_description"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        var text = [description, code.map { "(\($0))" }].compactMap { $0 }.joined(separator: " ")
        let hint: String? = switch response.status {
        case 400, 401, 403:
            client.username == nil
                ? "check client_id and client_secret, and that the OAuth application allows the client credentials grant "
                    + "(glide.oauth.inbound.client.credential.grant_type.enabled) with an OAuth application user"
                : "check client_id and client_secret, and username and password: the user must be active and allowed web service access"
        default: nil
        }
        if let hint { text += (text.isEmpty ? "" : "; ") + hint }
        return text.isEmpty ? nil : text
    }

    /// `result` with its message prefixed by the step: "ServiceNow OAuth token request
    /// (POST /oauth_token.do) was rejected: HTTP 401 from …".
    private static func named(_ result: DeliveryResult, _ verb: String) -> DeliveryResult {
        switch result {
        case .delivered: result
        case .retry(let after, let message): .retry(after: after, message: "\(step) \(verb): \(message)")
        case .permanent(let message): .permanent(message: "\(step) \(verb): \(message)")
        }
    }
}
