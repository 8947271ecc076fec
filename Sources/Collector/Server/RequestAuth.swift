#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension IntakeAuth {
    /// Whether the raw `Authorization` header satisfies this auth, compared in constant
    /// time. The one check for every endpoint behind `server.auth` (the intake and the
    /// silences API).
    func accepts(_ header: String?) -> Bool {
        switch self {
        case .none:
            return true
        case .bearer(let token):
            guard let header, header.hasPrefix("Bearer ") else { return false }
            return ConstantTime.equal(Array(header.utf8.dropFirst(7)), Array(token.value.utf8))
        case .basic(let username, let password):
            guard let header, header.hasPrefix("Basic "),
                  let decoded = Data(base64Encoded: String(header.dropFirst(6))) else { return false }
            return ConstantTime.equal(Array(decoded), Array("\(username):\(password.value)".utf8))
        }
    }
}

/// Comparing secrets a client presents.
enum ConstantTime {
    /// Compares without an early exit, so response timing does not leak the secret.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
