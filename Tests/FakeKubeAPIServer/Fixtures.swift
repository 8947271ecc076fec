import Foundation
import CanoSDK
import Yams

import TestSupport

/// Fixture loading for Kubernetes objects: the shared `Fixtures` (TestSupport) plus YAML.
extension Fixtures {
    /// A JSON or YAML fixture as a JSON value (YAML timestamps stay strings, as in JSON).
    public static func load(_ relative: String) throws -> JSONValue {
        let data = Data(try data(relative))
        if relative.hasSuffix(".json") {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        }
        guard let node = try Yams.compose(yaml: String(decoding: data, as: UTF8.self)) else {
            throw FixtureError(message: "fixture \(relative) is empty")
        }
        return try json(from: node)
    }

    static func json(from node: Node) throws -> JSONValue {
        switch node {
        case .scalar(let scalar):
            // Quoted scalars are strings; plain ones follow the YAML 1.2 core schema.
            let text = scalar.string
            if scalar.style == .singleQuoted || scalar.style == .doubleQuoted || scalar.style == .literal || scalar.style == .folded {
                return .string(text)
            }
            switch text {
            case "null", "Null", "NULL", "~", "": return .null
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            default:
                if let i = Int64(text) { return .number(Double(i)) }
                if let d = Double(text), text.contains(".") || text.contains("e") { return .number(d) }
                return .string(text)
            }
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (k, v) in mapping { members[k.string ?? ""] = try json(from: v) }
            return .object(members)
        case .sequence(let sequence):
            return .array(try sequence.map { try json(from: $0) })
        case .alias:
            throw FixtureError(message: "YAML aliases are not supported in fixtures")
        }
    }
}

/// A fixture could not be read.
public struct FixtureError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension JSONValue {
    /// Reads a member path ("status.containerStatuses").
    public func at(_ path: String) -> JSONValue? {
        var current: JSONValue? = self
        for part in path.split(separator: ".") {
            if let index = Int(part), let a = current?.arrayValue {
                current = index < a.count ? a[index] : nil
            } else {
                current = current?[String(part)]
            }
        }
        return current
    }

    /// Returns a copy with the member path set (objects are created on the way).
    public func setting(_ path: String, to value: JSONValue) -> JSONValue {
        let parts = path.split(separator: ".").map(String.init)
        return Self.set(self, parts[...], value)
    }

    private static func set(_ node: JSONValue, _ parts: ArraySlice<String>, _ value: JSONValue) -> JSONValue {
        guard let head = parts.first else { return value }
        if let index = Int(head), case .array(var a) = node, index < a.count {
            a[index] = set(a[index], parts.dropFirst(), value)
            return .array(a)
        }
        var members = node.objectValue ?? [:]
        members[head] = set(members[head] ?? .null, parts.dropFirst(), value)
        return .object(members)
    }

    /// Returns a copy without the member at path.
    public func removing(_ path: String) -> JSONValue {
        var parts = path.split(separator: ".").map(String.init)
        let last = parts.removeLast()
        let parentPath = parts.joined(separator: ".")
        guard case .object(var parent)? = parts.isEmpty ? self : at(parentPath) else { return self }
        parent[last] = nil
        return parts.isEmpty ? .object(parent) : setting(parentPath, to: .object(parent))
    }
}
