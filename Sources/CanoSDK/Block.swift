#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One piece of context inside an ``Enrichment``. Destinations render each kind their own
/// way (Slack: mrkdwn sections, table blocks, thread files...).
///
/// JSON: an object with a `"type"` discriminator, e.g. `{"type":"markdown","text":"..."}`.
/// A destination that meets a type it does not know should skip it, not fail.
public enum Block: Sendable, Equatable {
    /// Markdown text (CommonMark subset: emphasis, code spans, fences, links).
    case markdown(String)
    /// A table; each row has `headers.count` cells.
    case table(Table)
    /// A file attachment (logs, manifests).
    case file(File)
    /// A JSON document shown as code.
    case json(JSONValue)
    /// A short heading.
    case header(String)
    /// A bulleted list.
    case list([String])
    /// A visual separator.
    case divider
    /// Buttons or links.
    case links([Link])

    /// A table block's content.
    public struct Table: Codable, Sendable, Equatable {
        public var headers: [String]
        public var rows: [[String]]
        public init(headers: [String], rows: [[String]]) {
            self.headers = headers
            self.rows = rows
        }
    }

    /// A file block's content. `contentBase64` keeps the JSON contract binary-safe.
    public struct File: Codable, Sendable, Equatable {
        public var name: String
        public var mimeType: String
        public var contentBase64: String
        public init(name: String, mimeType: String, contentBase64: String) {
            self.name = name
            self.mimeType = mimeType
            self.contentBase64 = contentBase64
        }
        /// A file block holding `bytes`.
        public init(name: String, mimeType: String, bytes: some Sequence<UInt8>) {
            self.init(name: name, mimeType: mimeType, contentBase64: Data(bytes).base64EncodedString())
        }
        /// The decoded content, or nil when `contentBase64` is not valid base64.
        public var bytes: [UInt8]? { Data(base64Encoded: contentBase64).map { Array($0) } }
    }

    /// Every `"type"` this SDK decodes.
    public static let knownTypes: Set<String> = ["markdown", "table", "file", "json", "header", "list", "divider", "links"]

    /// The `"type"` discriminator used in JSON.
    public var typeName: String {
        switch self {
        case .markdown: "markdown"
        case .table: "table"
        case .file: "file"
        case .json: "json"
        case .header: "header"
        case .list: "list"
        case .divider: "divider"
        case .links: "links"
        }
    }
}

extension Block: Codable {
    private enum CodingKeys: String, CodingKey {
        case type, text, headers, rows, name, mimeType, contentBase64, value, items, links
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "markdown": self = .markdown(try c.decode(String.self, forKey: .text))
        case "header": self = .header(try c.decode(String.self, forKey: .text))
        case "table":
            self = .table(Table(headers: try c.decode([String].self, forKey: .headers), rows: try c.decode([[String]].self, forKey: .rows)))
        case "file":
            self = .file(File(
                name: try c.decode(String.self, forKey: .name),
                mimeType: try c.decode(String.self, forKey: .mimeType),
                contentBase64: try c.decode(String.self, forKey: .contentBase64)))
        case "json": self = .json(try c.decode(JSONValue.self, forKey: .value))
        case "list": self = .list(try c.decode([String].self, forKey: .items))
        case "divider": self = .divider
        case "links": self = .links(try c.decode([Link].self, forKey: .links))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown block type \"\(type)\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(typeName, forKey: .type)
        switch self {
        case .markdown(let text), .header(let text): try c.encode(text, forKey: .text)
        case .table(let table):
            try c.encode(table.headers, forKey: .headers)
            try c.encode(table.rows, forKey: .rows)
        case .file(let file):
            try c.encode(file.name, forKey: .name)
            try c.encode(file.mimeType, forKey: .mimeType)
            try c.encode(file.contentBase64, forKey: .contentBase64)
        case .json(let value): try c.encode(value, forKey: .value)
        case .list(let items): try c.encode(items, forKey: .items)
        case .divider: break
        case .links(let links): try c.encode(links, forKey: .links)
        }
    }
}

extension Block {
    /// The block as plain text lines, for services whose text field is not markdown
    /// (PagerDuty's custom details, Opsgenie's description, Jira comments, Datadog events):
    /// tables as `a | b` rows, lists and links as `- ` items, JSON compact, a file by name
    /// and size only (its content is attached, if at all, by the plugin).
    public var plainTextLines: [String] {
        switch self {
        case .markdown(let text), .header(let text): return [text]
        case .list(let items): return items.map { "- " + $0 }
        case .divider: return ["---"]
        case .links(let links): return links.map { "- \($0.title): \($0.url)" }
        case .table(let table):
            return [table.headers.joined(separator: " | ")] + table.rows.map { $0.joined(separator: " | ") }
        case .json(let value):
            return [(try? IssueCoding.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? ""]
        case .file(let file):
            return ["[file \(file.name), \(file.mimeType), \(file.contentBase64.utf8.count / 4 * 3) bytes: not attached]"]
        }
    }
}
