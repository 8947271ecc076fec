#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// Keeps one enricher's output under its byte budget, so a 50 MB log or a plugin gone
/// wild cannot bloat the outbox or the destination message.
///
/// Content is counted (text, cells, file bytes, encoded JSON), not JSON overhead. Blocks
/// are kept in order until the budget runs out; the block that crosses it is cut (text
/// and files keep their end, where the crash is; tables keep their first rows) and a note
/// says how much was dropped.
enum EnrichmentSizeCap {
    static func apply(_ enrichments: [Enrichment], maxBytes: Int) -> (enrichments: [Enrichment], truncated: Bool) {
        var remaining = maxBytes
        var truncated = false
        var out: [Enrichment] = []
        for enrichment in enrichments {
            if truncated { break }
            var kept = Enrichment(type: enrichment.type, title: enrichment.title, blocks: [])
            for block in enrichment.blocks {
                let size = Self.size(of: block)
                if size <= remaining {
                    kept.blocks.append(block)
                    remaining -= size
                    continue
                }
                truncated = true
                if let cut = Self.cut(block, to: remaining) { kept.blocks.append(cut) }
                kept.blocks.append(.markdown("_output truncated to \(maxBytes) bytes_"))
                break
            }
            out.append(kept)
        }
        return (out, truncated)
    }

    static func size(of block: Block) -> Int {
        switch block {
        case .markdown(let text), .header(let text): return text.utf8.count
        case .table(let table): return (table.headers + table.rows.flatMap { $0 }).reduce(0) { $0 + $1.utf8.count }
        case .file(let file): return file.contentBase64.utf8.count * 3 / 4
        case .json(let value): return (try? IssueCoding.encode(value).count) ?? 0
        case .list(let items): return items.reduce(0) { $0 + $1.utf8.count }
        case .divider: return 0
        case .links(let links): return links.reduce(0) { $0 + $1.title.utf8.count + $1.url.utf8.count }
        }
    }

    /// The block cut down to `budget` bytes, or nil when nothing useful fits.
    private static func cut(_ block: Block, to budget: Int) -> Block? {
        guard budget > 64 else { return nil }
        switch block {
        case .markdown(let text): return .markdown(LogText.tail(text, bytes: budget))
        case .file(let file):
            guard let bytes = file.bytes else { return nil }
            let tail = LogText.tail(String(decoding: bytes, as: UTF8.self), bytes: budget)
            return .file(Block.File(name: file.name, mimeType: file.mimeType, bytes: Array(tail.utf8)))
        case .table(let table):
            var rows: [[String]] = []
            var used = table.headers.reduce(0) { $0 + $1.utf8.count }
            for row in table.rows {
                let size = row.reduce(0) { $0 + $1.utf8.count }
                guard used + size <= budget else { break }
                rows.append(row)
                used += size
            }
            return rows.isEmpty ? nil : .table(Block.Table(headers: table.headers, rows: rows))
        case .list(let items):
            var kept: [String] = []
            var used = 0
            for item in items where used + item.utf8.count <= budget {
                kept.append(item)
                used += item.utf8.count
            }
            return kept.isEmpty ? nil : .list(kept)
        default:
            return nil
        }
    }
}
