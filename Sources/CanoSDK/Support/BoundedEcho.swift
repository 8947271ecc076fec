/// Caps text that quotes input back: a rejected value in a 400 body, a log field, a remote
/// error body in a plugin's result message.
///
/// Input size is chosen by whoever sends it, so an echo must not be: one 4 MB webhook with
/// a huge invalid value once produced a 4 MB 400 body and megabytes of log lines. A capped
/// echo keeps the start (what a human needs to recognise the value) and says how much
/// was cut.
public enum BoundedEcho {
    /// What an echoed value is capped at by default: enough to recognise it, small enough
    /// that a few dozen echoes in one response or log burst stay a few KB.
    public static let defaultLimit = 256

    /// `text` if it fits in `limit` UTF-8 bytes; else its longest prefix that fits without
    /// splitting a character, followed by "… (N more bytes)", N counting the UTF-8 bytes cut.
    public static func cap(_ text: String, limit: Int = defaultLimit) -> String {
        let total = text.utf8.count
        guard total > limit else { return text }
        // Whole Characters only: neither a UTF-8 sequence cut in half nor a letter left
        // without its combining accent. Walks at most `limit` bytes, however long `text` is.
        var end = text.startIndex
        var used = 0
        for c in text {
            let size = c.utf8.count
            guard used + size <= limit else { break }
            used += size
            end = text.index(after: end)
        }
        let kept = text[..<end]
        let cut = total - used
        return String(kept) + "… (\(cut) more bytes)"
    }
}
