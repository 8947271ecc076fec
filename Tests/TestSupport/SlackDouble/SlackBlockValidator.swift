import CanoSDK

/// Checks Block Kit the way Slack does for messages (destinations.md §1.6) and reports
/// problems as Slack's `invalid_blocks` `errors` strings: "<problem> [json-pointer:/path]".
/// Lengths are counted in UTF-16 code units, as Slack does.
enum SlackBlockValidator {
    static func validate(blocks: [JSONValue], pointer: String) -> [String] {
        var errors: [String] = []
        if blocks.count > 50 { errors.append("must provide no more than 50 items [json-pointer:\(pointer)]") }
        var tables = 0
        for (i, block) in blocks.enumerated() {
            let p = "\(pointer)/\(i)"
            guard let object = block.objectValue, let type = object["type"]?.stringValue else {
                errors.append("must be an object with a type [json-pointer:\(p)]")
                continue
            }
            if let id = object["block_id"]?.stringValue, id.utf16.count > 255 {
                errors.append("must be less than 256 characters [json-pointer:\(p)/block_id]")
            }
            switch type {
            case "section":
                let text = object["text"]
                let fields = object["fields"]?.arrayValue
                if text == nil && fields == nil { errors.append("must provide either text or fields [json-pointer:\(p)]") }
                if let text { errors += textObject(text, max: 3000, pointer: "\(p)/text") }
                if let fields {
                    if fields.count > 10 { errors.append("must provide no more than 10 items [json-pointer:\(p)/fields]") }
                    for (j, field) in fields.enumerated() { errors += textObject(field, max: 2000, pointer: "\(p)/fields/\(j)") }
                }
            case "header":
                guard let text = object["text"] else {
                    errors.append("must provide text [json-pointer:\(p)/text]")
                    continue
                }
                if text["type"]?.stringValue != "plain_text" { errors.append("must be a plain_text object [json-pointer:\(p)/text]") }
                errors += textObject(text, max: 150, pointer: "\(p)/text")
            case "context":
                let elements = object["elements"]?.arrayValue ?? []
                if elements.isEmpty { errors.append("must provide at least 1 item [json-pointer:\(p)/elements]") }
                if elements.count > 10 { errors.append("must provide no more than 10 items [json-pointer:\(p)/elements]") }
                for (j, element) in elements.enumerated() where element["type"]?.stringValue != "image" {
                    errors += textObject(element, max: 3000, pointer: "\(p)/elements/\(j)")
                }
            case "divider":
                break
            case "actions":
                let elements = object["elements"]?.arrayValue ?? []
                if elements.isEmpty { errors.append("must provide at least 1 item [json-pointer:\(p)/elements]") }
                if elements.count > 25 { errors.append("must provide no more than 25 items [json-pointer:\(p)/elements]") }
                for (j, element) in elements.enumerated() {
                    let ep = "\(p)/elements/\(j)"
                    guard element["type"]?.stringValue == "button" else { continue }
                    if let text = element["text"] { errors += textObject(text, max: 75, pointer: "\(ep)/text") } else {
                        errors.append("must provide text [json-pointer:\(ep)/text]")
                    }
                    if let url = element["url"]?.stringValue, url.utf16.count > 3000 {
                        errors.append("must be less than 3001 characters [json-pointer:\(ep)/url]")
                    }
                    if let id = element["action_id"]?.stringValue, id.utf16.count > 255 {
                        errors.append("must be less than 256 characters [json-pointer:\(ep)/action_id]")
                    }
                }
            case "table":
                tables += 1
                let rows = object["rows"]?.arrayValue ?? []
                if rows.isEmpty { errors.append("must provide at least 1 item [json-pointer:\(p)/rows]") }
                if rows.count > 100 { errors.append("must provide no more than 100 items [json-pointer:\(p)/rows]") }
                if (object["column_settings"]?.arrayValue?.count ?? 0) > 20 {
                    errors.append("must provide no more than 20 items [json-pointer:\(p)/column_settings]")
                }
                for (r, row) in rows.enumerated() {
                    let cells = row.arrayValue ?? []
                    if cells.count > 20 { errors.append("must provide no more than 20 items [json-pointer:\(p)/rows/\(r)]") }
                    for (c, cell) in cells.enumerated() {
                        let cellType = cell["type"]?.stringValue
                        if cellType != "raw_text" && cellType != "rich_text" {
                            errors.append("must be a raw_text or rich_text cell [json-pointer:\(p)/rows/\(r)/\(c)]")
                        } else if cellType == "raw_text", cell["text"]?.stringValue == nil {
                            errors.append("must provide a string text [json-pointer:\(p)/rows/\(r)/\(c)/text]")
                        }
                    }
                }
            case "image", "rich_text", "markdown", "video", "file", "input":
                break
            default:
                errors.append("unsupported type: \(type) [json-pointer:\(p)/type]")
            }
        }
        if tables > 1 { errors.append("only one table block is allowed per message [json-pointer:\(pointer)]") }
        return errors
    }

    static func textObject(_ value: JSONValue, max: Int, pointer: String) -> [String] {
        guard let type = value["type"]?.stringValue, type == "plain_text" || type == "mrkdwn" else {
            return ["must be a text object [json-pointer:\(pointer)]"]
        }
        guard let text = value["text"]?.stringValue else { return ["must provide a string text [json-pointer:\(pointer)/text]"] }
        let length = text.utf16.count
        if length == 0 { return ["must be more than 0 characters [json-pointer:\(pointer)/text]"] }
        if length > max { return ["must be less than \(max + 1) characters [json-pointer:\(pointer)/text]"] }
        return []
    }
}
