/// Slack's message and Block Kit limits (destinations.md §1.6), enforced before sending so
/// a message is never rejected for size.
///
/// Lengths are counted in UTF-16 code units: Slack counts characters the JavaScript way, and
/// that is never less than Swift's character count, so staying under it is always safe.
public enum SlackLimits {
    /// Blocks per message.
    public static let blocksPerMessage = 50
    /// A section's `text`.
    public static let sectionText = 3000
    /// A header's `plain_text`.
    public static let headerText = 150
    /// A section's `fields`: count and length of each.
    public static let fieldCount = 10
    public static let fieldText = 2000
    /// A context block's elements.
    public static let contextElements = 10
    /// An actions block's elements.
    public static let actionElements = 25
    /// A button's label and URL.
    public static let buttonText = 75
    public static let buttonURL = 3000
    /// A table block: rows including the header row, and cells per row.
    public static let tableRows = 100
    public static let tableColumns = 20
    /// The fallback `text` we send (Slack truncates at 40,000, renders well up to 4,000).
    public static let fallbackText = 4000
    /// Cumulative block text per message we allow ourselves: Slack answers
    /// `msg_blocks_too_long` somewhere around 13k characters (undocumented), so stay well under.
    public static let messageTextBudget = 11_000

    /// The length Slack measures.
    public static func length(_ text: String) -> Int { text.utf16.count }

    /// `text` cut to at most `limit`, with a note saying it was cut. A cut inside a code
    /// fence closes the fence, and a cut never splits an `&amp;` entity or a `<link>`.
    public static func truncate(_ text: String, to limit: Int, mrkdwn: Bool = true) -> String {
        guard length(text) > limit else { return text }
        let total = length(text)
        // Reserve room for the closing fence and the note, sized for the worst case.
        let noteFor: (Int) -> String = { omitted in
            mrkdwn ? "\n_… truncated: \(omitted) more characters not shown_" : "… (truncated, \(omitted) more characters)"
        }
        let reserve = length(noteFor(total)) + 4
        var head = prefix(text, utf16Limit: max(0, limit - reserve))
        if mrkdwn { head = trimBrokenMarkup(head) }
        if let newline = head.lastIndex(of: "\n"), head.distance(from: newline, to: head.endIndex) < 200, head.distance(from: head.startIndex, to: newline) > 0 {
            head = String(head[..<newline])  // end on a whole line when that costs little
        }
        var result = head
        if mrkdwn, fenceCount(head) % 2 == 1 { result += "\n```" }
        result += noteFor(total - length(head))
        return result
    }

    /// Splits `text` into pieces of at most `limit`, at line breaks where possible. A piece
    /// that ends inside a code fence closes it and the next piece reopens it, so every piece
    /// renders on its own. Nothing is dropped.
    public static func split(_ text: String, limit: Int) -> [String] {
        guard length(text) > limit else { return [text] }
        var pieces: [String] = []
        var current = ""
        var inFence = false
        func flush() {
            guard !current.isEmpty else { return }
            if inFence { current += "\n```" }
            pieces.append(current)
            current = inFence ? "```\n" : ""
        }
        let room = limit - 4  // space for a closing fence
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(rawLine)
            var firstPass = true
            while firstPass || !line.isEmpty {
                firstPass = false
                let separator = current.isEmpty || current == "```\n" ? "" : "\n"
                let available = room - length(current) - length(separator)
                if length(line) <= available {
                    current += separator + line
                    break
                }
                if length(current) > 4 && current != "```\n" {
                    flush()
                    continue
                }
                // A single line longer than a piece: hard-split it.
                var head = prefix(line, utf16Limit: max(1, available))
                if head.isEmpty { head = String(line.prefix(1)) }
                current += separator + head
                line = String(line.dropFirst(head.count))
                flush()
            }
            if rawLine.trimmingLeadingSpaces().hasPrefix("```") { inFence.toggle() }
        }
        if inFence && !current.isEmpty && current != "```\n" {
            // The text itself left a fence open; close it so later blocks don't inherit it.
            current += "\n```"
            inFence = false
        }
        if !current.isEmpty && current != "```\n" { pieces.append(current) }
        return pieces
    }

    /// The longest prefix of whole characters within `utf16Limit` code units.
    static func prefix(_ text: String, utf16Limit: Int) -> String {
        var count = 0
        var end = text.startIndex
        for index in text.indices {
            let n = text[index].utf16.count
            if count + n > utf16Limit { break }
            count += n
            end = text.index(after: index)
        }
        return String(text[..<end])
    }

    static func fenceCount(_ text: String) -> Int {
        text.split(separator: "\n", omittingEmptySubsequences: false).filter { $0.trimmingLeadingSpaces().hasPrefix("```") }.count
    }

    /// Drops a trailing half entity (`&am`) or half link (`<http://x|lab`).
    static func trimBrokenMarkup(_ text: String) -> String {
        var s = Substring(text)
        if let amp = s.lastIndex(of: "&"), !s[amp...].contains(";"), s.distance(from: amp, to: s.endIndex) < 6 {
            s = s[..<amp]
        }
        if let open = s.lastIndex(of: "<"), !s[open...].contains(">") {
            s = s[..<open]
        }
        return String(s)
    }
}

extension Substring {
    func trimmingLeadingSpaces() -> Substring { drop { $0 == " " } }
}
