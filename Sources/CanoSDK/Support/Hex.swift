/// Lowercase hexadecimal, the way digests are written: idempotency keys and fingerprints
/// (SHA-256), the Webhook plugin's signature and the console's session MACs (HMAC-SHA256).
public enum Hex {
    /// `bytes` as lowercase hex, two digits per byte (`[0x0f, 0xa0]` is `"0fa0"`).
    public static func lowercase<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits: StaticString = "0123456789abcdef"
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        digits.withUTF8Buffer { digits in
            for byte in bytes {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
