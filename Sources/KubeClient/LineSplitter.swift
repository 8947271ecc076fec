/// Splits a byte stream into newline-terminated lines as chunks arrive: the watch stream is
/// newline-delimited JSON, and a chunk may end in the middle of an event.
struct LineSplitter {
    private var pending: [UInt8] = []
    /// A line longer than this is an error (a runaway stream, not an event).
    let maxLineBytes: Int

    init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    /// Appends a chunk and returns the complete lines in it (without the newline).
    /// Returns nil when a line outgrows `maxLineBytes`.
    mutating func feed(_ chunk: [UInt8]) -> [ArraySlice<UInt8>]? {
        var lines: [ArraySlice<UInt8>] = []
        var start = chunk.startIndex
        var i = chunk.startIndex
        while i < chunk.endIndex {
            if chunk[i] == UInt8(ascii: "\n") {
                if pending.isEmpty {
                    lines.append(chunk[start..<i])
                } else {
                    pending.append(contentsOf: chunk[start..<i])
                    lines.append(pending[...])
                    pending = []
                }
                start = i + 1
            }
            i += 1
        }
        if start < chunk.endIndex { pending.append(contentsOf: chunk[start...]) }
        if pending.count > maxLineBytes { return nil }
        return lines.filter { !$0.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") } }
    }

    /// What is left after the stream ended (a last line without a newline).
    var remainder: [UInt8] { pending }
}
