#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import CZlib

/// Decodes a request body by its `Content-Encoding`: none or `identity` as is, `gzip` (and
/// its old alias `x-gzip`) inflated with zlib through the CZlib shim, anything else refused.
///
/// The size limit applies to the decoded bytes: a 10 KB gzip bomb that inflates to 1 GB
/// is refused as soon as it passes `maxBytes`, never held whole in memory.
enum ContentEncoding {
    /// Why a body cannot be decoded.
    enum Failure: Error, Equatable {
        /// An encoding other than identity and gzip (the header's value, as sent).
        case unsupported(String)
        /// The decoded body would pass the limit.
        case tooLarge
        /// The body is not what its encoding says.
        case corrupt
    }

    static func decode(_ body: [UInt8], encoding header: String?, maxBytes: Int) -> Result<[UInt8], Failure> {
        let codings = (header ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty && $0 != "identity" }
        guard !codings.isEmpty else { return .success(body) }
        guard codings.count == 1, codings[0] == "gzip" || codings[0] == "x-gzip" else {
            return .failure(.unsupported(header ?? ""))
        }
        return inflate(body, maxBytes: maxBytes)
    }

    /// gzip (or zlib) data inflated, or why not; at most `maxBytes` of output.
    static func inflate(_ input: [UInt8], maxBytes: Int) -> Result<[UInt8], Failure> {
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        let rc = input.withUnsafeBufferPointer { cano_gunzip($0.baseAddress, $0.count, maxBytes, &out, &length) }
        defer { free(out) }
        switch rc {
        case 0: return .success(out.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? [])
        case -2: return .failure(.tooLarge)
        default: return .failure(.corrupt)
        }
    }
}
