/// RFC 3986 percent-encoding, in one place for the host (Kubernetes API paths, Alertmanager
/// links) and plugins.
public enum PercentEncoding {
    /// `text` with every byte but the unreserved characters (`A-Z a-z 0-9 - . _ ~`) written
    /// as `%XX`: safe as a path segment, a query value or a URL fragment.
    public static func encode(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF")
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                out.append("%")
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            }
        }
        return out
    }
}
