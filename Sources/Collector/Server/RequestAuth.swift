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
            guard let credentials = Self.credentials(header, scheme: "bearer") else { return false }
            return ConstantTime.equal(Array(credentials.utf8), Array(token.value.utf8))
        case .basic(let username, let password):
            guard let credentials = Self.credentials(header, scheme: "basic"), let decoded = Data(base64Encoded: credentials) else { return false }
            return ConstantTime.equal(Array(decoded), Array("\(username):\(password.value)".utf8))
        }
    }

    /// What follows `scheme` in an Authorization header; the scheme's case and the spaces
    /// after it do not matter (RFC 9110, 11.1).
    private static func credentials(_ header: String?, scheme: String) -> String? {
        guard let header, let space = header.firstIndex(of: " "), header[..<space].lowercased() == scheme else { return nil }
        return String(header[space...].drop { $0 == " " })
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
