#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Synchronization

/// The host's last line of defence against secrets in what it writes: every resolved secret
/// value of the loaded configuration is registered here, and ``scrub(_:)`` replaces each
/// with `<redacted>` in log lines, `validate` and `run` errors, `plugins check` output,
/// intake 400 bodies, `/metrics` and stored delivery messages.
///
/// What counts as a secret (registered by ``register(config:)`` and by ``ConfigLoader``
/// as it reads the file):
/// - the intake's `bearer_token` and `basic_auth` password (``Secret``), and the
///   base64 `user:password` a Basic header carries;
/// - in destination and enricher plugin configs, every string under a key that
///   ``SecretSafe/isSecretKey(_:)`` calls secret (`token`, `password`, `hmac_secret`,
///   `api_key`, `routing_key`, `credentials`, `Authorization`...), at any depth;
/// - every value read from a `*_file` key: by convention those are mounted Secrets;
/// - every `${VAR}` value whose variable name looks secret (`SLACK_TOKEN`, `AUDIT_HMAC`);
/// - in any URL anywhere in a plugin config, the userinfo password and secret-looking
///   query values (``SecretSafe/secrets(inURL:)``).
///
/// Secrets shorter than ``SecretSafe/minimumLength`` are ignored. Plugins clean their own
/// output at the source with ``SecretSafe``; this catches what they and the host miss.
public final class SecretScrubber: Sendable {
    /// The process-wide scrubber that the host's writers use.
    public static let shared = SecretScrubber()

    /// Known secrets, prepared (bytes, longest first) once per registration, not per scrub.
    private let secrets = Mutex<(values: Set<String>, prepared: [[UInt8]])>(([], []))

    /// An empty scrubber; the host uses ``shared``, tests may make their own.
    public init() {}

    /// Adds secrets; values shorter than ``SecretSafe/minimumLength`` are ignored.
    public func register(_ values: some Sequence<String>) {
        let fresh = values.filter { $0.utf8.count >= SecretSafe.minimumLength }
        guard !fresh.isEmpty else { return }
        secrets.withLock { state in
            let before = state.values.count
            state.values.formUnion(fresh)
            if state.values.count != before { state.prepared = SecretSafe.prepared(state.values) }
        }
    }

    /// Adds every secret of a loaded configuration (see the type's documentation).
    public func register(config: CollectorConfig) {
        register(Self.secrets(in: config))
    }

    /// `text` with every registered secret replaced by `<redacted>`. Without registered
    /// secrets it returns `text` untouched after one uncontended lock.
    public func scrub(_ text: String) -> String {
        let prepared = secrets.withLock { $0.prepared }
        guard !prepared.isEmpty else { return text }
        return SecretSafe.redact(text, prepared: prepared)
    }

    /// How many distinct secrets are registered (for tests and diagnostics; never the values).
    public var count: Int { secrets.withLock { $0.values.count } }

    /// The secrets a configuration holds: intake credentials and secret-keyed values and URL
    /// credentials in plugin configs.
    public static func secrets(in config: CollectorConfig) -> [String] {
        var found: [String] = []
        switch config.server.auth {
        case .none: break
        case .bearer(let token): found.append(token.value)
        case .basic(let username, let password):
            found.append(password.value)
            found.append(Data("\(username):\(password.value)".utf8).base64EncodedString())
        }
        if let admin = config.server.adminToken { found.append(admin.value) }
        if let postgres = config.storage.postgres {
            // The URL and its password; not the user name, which is no secret and may be a
            // common word ("postgres") that scrubbing would blank everywhere.
            found.append(postgres.url.value)
            if let password = (try? PostgresURL(parsing: postgres.url.value))?.password, !password.isEmpty { found.append(password) }
        }
        for destination in config.destinations { found += secrets(inPluginConfig: destination.config) }
        for plugin in config.enrichment.plugins { found += secrets(inPluginConfig: plugin.config) }
        return found
    }

    /// Secret-keyed strings and URL credentials in a plugin's JSON config, at any depth.
    /// A secret-keyed object or array (`credentials: {...}`) makes every string in it secret.
    public static func secrets(inPluginConfig json: JSONValue) -> [String] {
        var found: [String] = []
        func walk(_ value: JSONValue, secret: Bool) {
            switch value {
            case .string(let s):
                if secret {
                    found.append(s)
                    // "Bearer xyz" in an Authorization header: the token alone leaks too.
                    if let space = s.lastIndex(of: " ") { found.append(String(s[s.index(after: space)...])) }
                }
                found += SecretSafe.secrets(inURL: s)
            case .array(let items): for item in items { walk(item, secret: secret) }
            case .object(let members):
                // A `*_file` placeholder holds the file's path, not the secret: error
                // messages must be able to say which file is missing.
                guard members[YAMLReader.unreadFileMarker] == nil else { return }
                for (key, member) in members { walk(member, secret: secret || SecretSafe.isSecretKey(key)) }
            case .null, .bool, .number: break
            }
        }
        walk(json, secret: false)
        return found
    }
}
