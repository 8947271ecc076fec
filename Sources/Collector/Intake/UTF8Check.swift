/// Finds the first byte where a body stops being UTF-8, so a 400 can say where (JSON must
/// be UTF-8; a proxy re-encoding to Latin-1 is the usual culprit).
enum UTF8Check {
    /// The offset of the first byte of the first invalid sequence, or nil when valid.
    static func firstInvalidByte(in bytes: [UInt8]) -> Int? {
        // ASCII fast path: most webhook bodies are pure ASCII. A plain loop over the buffer:
        // the generic `contains(where:)` is ~50x slower in debug builds, and it runs on the
        // HTTP handler's task for bodies of up to max_body_bytes.
        let ascii = bytes.withUnsafeBufferPointer { buffer in
            var combined: UInt8 = 0
            for byte in buffer { combined |= byte }
            return combined < 0x80
        }
        guard !ascii else { return nil }
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .error: return offset
            case .emptyInput: return nil
            }
        }
    }
}
