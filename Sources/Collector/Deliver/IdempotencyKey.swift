import Crypto
import CanoSDK

/// The idempotency key handed to destinations: SHA-256 (hex) over the destination name,
/// fingerprint, status and start, so it is the same across retries, restarts and
/// re-queued dead letters, and differs for the resolve of the same alert.
public enum IdempotencyKey {
    /// The key for one delivery of an alert occurrence to one destination.
    public static func make(destination: String, fingerprint: String, status: String, startsAtMillis: Int64) -> String {
        // NUL separators: no field can contain one, so distinct tuples never collide.
        var bytes = Array(destination.utf8)
        bytes.append(0)
        bytes += fingerprint.utf8
        bytes.append(0)
        bytes += status.utf8
        bytes.append(0)
        bytes += String(startsAtMillis).utf8
        return Hex.lowercase(SHA256.hash(data: bytes))
    }
}
