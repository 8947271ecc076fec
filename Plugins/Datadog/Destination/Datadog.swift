import CanoSDK

/// The `datadog` destination: posts each Issue to the Datadog Events API as an alert
/// event, firing and resolve tied together by `aggregation_key` = the Issue's fingerprint.
///
/// - v2 (`POST https://event-management-intake.<site>/api/v2/events`, `category: alert`)
///   on every site that has the v2 intake, which is all of them today; v1
///   (`POST https://api.<site>/api/v1/events`) when `api_version: v1` asks for it, because
///   only v1 events trigger Datadog notifications (`@`-mentions). See ``DatadogConfig``.
/// - Results: 200/202 delivered; 429 retries after `X-RateLimit-Reset` (or `Retry-After`);
///   408 and 5xx retry; 400, 403 and other 4xx are permanent, with Datadog's `errors`.
/// - At create, one key check: `GET https://api.<site>/api/v1/validate` (``DatadogNotifier/checkKey()``).
/// - The API key travels only in the `DD-API-KEY` header; results and log lines are
///   cleaned of it.
///
/// See docs/datadog.md for users.
public final class Datadog: DestinationPlugin {
    /// The type name in config: `type: datadog`.
    public static let name = "datadog"
    /// This plugin's version, also sent in `User-Agent`.
    public static let version = "1.0.0"

    private let notifier: DatadogNotifier

    /// Validates the config (see ``DatadogConfig``), then checks the API key once with
    /// `GET /api/v1/validate` on the site's API host (not the v2 intake host, which does not
    /// serve it; under `api_url` when set), bounded by `timeout` and skipped by
    /// `cano-collector validate`: a rejected key fails create, so the destination shows
    /// unready at start instead of dead-lettering every Issue; an unreachable Datadog only
    /// logs a warning (plugins.md §2).
    public init(config: PluginConfig, host: HostServices) throws(PluginError) {
        let parsed = try DatadogConfig(config.json)
        let secrets = parsed.secrets
        notifier = DatadogNotifier(config: parsed) { level, message, fields in
            // Already clean at the source; redacted again because a field may quote a remote answer.
            host.log(level, SecretSafe.redact(message, prepared: secrets),
                     fields: fields.mapValues { SecretSafe.redact($0, prepared: secrets) })
        }
        if !host.isValidateOnly { try notifier.checkKey() }
    }

    /// Posts the Issue's event (blocks; runs on a host delivery thread).
    public func deliver(_ request: DeliveryRequest) -> DeliveryResult {
        notifier.deliver(request)
    }
}
