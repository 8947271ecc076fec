/// Splits a rendered Issue into messages that each respect Slack's per-message limits:
/// at most 50 blocks, one table, and a bounded amount of text. The first message carries
/// the lead (header, context, description, links) and as much of the body as fits; the
/// rest follows as thread replies. Nothing is dropped, and a heading never ends a message
/// apart from the block it heads.
struct MessagePlanner: Sendable {
    var blockLimit = SlackLimits.blocksPerMessage
    var textBudget = SlackLimits.messageTextBudget

    /// The block lists of the root message and of each thread reply. The root ends with a
    /// note saying how much continues in the thread when anything does.
    func chunk(_ rendered: RenderedIssue) -> [[SlackBlock]] {
        var chunks = split(rendered.lead + rendered.body, reserveInFirst: true)
        if chunks.count > 1 || !rendered.files.isEmpty {
            let moreBlocks = chunks.dropFirst().reduce(0) { $0 + $1.count }
            var parts: [String] = []
            if moreBlocks > 0 { parts.append("\(moreBlocks) more block\(moreBlocks == 1 ? "" : "s") in \(chunks.count - 1) repl\(chunks.count == 2 ? "y" : "ies")") }
            if !rendered.files.isEmpty { parts.append("\(rendered.files.count) file\(rendered.files.count == 1 ? "" : "s")") }
            chunks[0].append(BlockKit.context(["🧵 Continued in the thread: " + parts.joined(separator: " and ")]))
        }
        return chunks
    }

    /// `blocks` as consecutive messages within the limits; never empty (an empty input is
    /// one empty message). `reserveInFirst` keeps one block and a little text free in the
    /// first message, for the root's "continued" note.
    func split(_ blocks: [SlackBlock], reserveInFirst: Bool) -> [[SlackBlock]] {
        // Reserve one block and a little text in the root for the "continued" note.
        let noteReserve = 200
        var chunks: [[SlackBlock]] = []
        var current: [SlackBlock] = []
        var weight = 0
        var hasTable = false
        func capacity() -> (blocks: Int, text: Int) {
            chunks.isEmpty && reserveInFirst ? (blockLimit - 1, textBudget - noteReserve) : (blockLimit, textBudget)
        }
        func close() {
            chunks.append(current)
            current = []
            weight = 0
            hasTable = false
        }
        func add(_ block: SlackBlock) {
            current.append(block)
            weight += block.weight
            hasTable = hasTable || block.isTable
        }
        for block in blocks {
            let cap = capacity()
            let full = current.count >= cap.blocks || (weight + block.weight > cap.text && !current.isEmpty) || (block.isTable && hasTable)
            if full {
                // A heading goes with what it heads: move trailing headings along, unless
                // they are all the message holds (then the block can't fit with them anyway).
                var carried: [SlackBlock] = []
                while let last = current.last, last.keepWithNext, current.count > 1 {
                    current.removeLast()
                    carried.insert(last, at: 0)
                    weight -= last.weight
                }
                close()
                if carried.isEmpty, let heading = block.heading {
                    // The message starts inside an enrichment: repeat its heading.
                    add(BlockKit.section(heading + " (continued)"))
                }
                carried.forEach(add)
            }
            add(block)
        }
        if !current.isEmpty || chunks.isEmpty { close() }
        return chunks
    }
}
