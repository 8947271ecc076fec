import CanoSDK

/// The subset of label and field selectors the fake server understands: comma-separated
/// `key=value`, `key==value`, `key!=value` and bare `key` (exists).
struct Selector: Sendable {
    enum Term: Sendable {
        case equals(String, String)
        case notEquals(String, String)
        case exists(String)
    }
    let terms: [Term]

    init(_ text: String?) {
        terms = (text ?? "").split(separator: ",").map { raw in
            let t = String(raw).trimmingCharacters(in: .whitespaces)
            if let r = t.range(of: "!=") { return .notEquals(String(t[..<r.lowerBound]), String(t[r.upperBound...])) }
            if let r = t.range(of: "==") { return .equals(String(t[..<r.lowerBound]), String(t[r.upperBound...])) }
            if let r = t.range(of: "=") { return .equals(String(t[..<r.lowerBound]), String(t[r.upperBound...])) }
            return .exists(t)
        }
    }

    /// Label selector semantics: keys are label names.
    func matchesLabels(_ object: JSONValue) -> Bool {
        let labels = object.at("metadata.labels")?.objectValue ?? [:]
        return terms.allSatisfy { term in
            switch term {
            case .equals(let k, let v): labels[k]?.stringValue == v
            case .notEquals(let k, let v): labels[k]?.stringValue != v
            case .exists(let k): labels[k] != nil
            }
        }
    }

    /// Field selector semantics: keys are member paths ("type", "metadata.name").
    func matchesFields(_ object: JSONValue) -> Bool {
        terms.allSatisfy { term in
            switch term {
            case .equals(let k, let v): Self.text(object.at(k)) == v
            case .notEquals(let k, let v): Self.text(object.at(k)) != v
            case .exists(let k): object.at(k) != nil
            }
        }
    }

    private static func text(_ v: JSONValue?) -> String {
        switch v {
        case .string(let s)?: s
        case .bool(let b)?: b ? "true" : "false"
        case .number(let n)?: n.rounded() == n ? String(Int64(n)) : String(n)
        default: ""
        }
    }
}

import Foundation
