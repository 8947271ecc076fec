@testable import Collector
import CanoSDK
import Foundation
import Synchronization
import TestSupport
import Yams

/// Reads the shared fixtures (JSON or YAML) as JSON values, without Yams turning
/// unquoted timestamps into dates: YAML scalars keep their text unless they are plain
/// numbers, booleans or null, as Kubernetes' own YAML→JSON conversion does.
enum KubeFixtures {
    static func object(_ relativePath: String) throws -> JSONValue {
        let bytes = try Fixtures.data(relativePath)
        if relativePath.hasSuffix(".json") { return try IssueCoding.decode(JSONValue.self, from: bytes) }
        guard let node = try Yams.compose(yaml: String(decoding: bytes, as: UTF8.self)) else { throw TestSupportError("empty YAML \(relativePath)") }
        return json(node)
    }

    static func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let s):
            guard s.style == .plain else { return .string(s.string) }
            if ["", "~", "null"].contains(s.string) { return .null }
            if s.string == "true" || s.string == "false" { return .bool(s.string == "true") }
            if let i = Int(s.string) { return .number(Double(i)) }
            return .string(s.string)
        case .mapping(let m):
            var members: [String: JSONValue] = [:]
            for (k, v) in m { members[k.string ?? ""] = json(v) }
            return .object(members)
        case .sequence(let seq):
            return .array(seq.map { json($0) })
        case .alias:
            return .null
        }
    }
}

extension JSONValue {
    /// A copy with `value` set at a key path (for objects a test builds from a fixture).
    func setting(_ path: [String], _ value: JSONValue) -> JSONValue {
        guard let key = path.first else { return value }
        var members = objectValue ?? [:]
        members[key] = (members[key] ?? .object([:])).setting(Array(path.dropFirst()), value)
        return .object(members)
    }
}

/// An in-process stand-in for the Kubernetes API behind the ``KubeReader`` seam, serving
/// real fixture objects. It answers what the API server answers for the calls the
/// enrichers make: GET by name (404 Status otherwise), lists with `labelSelector`
/// (equality terms) and `fieldSelector` (involvedObject.kind/name, type), and pods/log
/// with `container`/`previous` (400 for a container that has no previous instance).
/// It deliberately ignores `limitBytes` and `tailLines`, like a proxy that drops them,
/// so the enrichers' own caps are what the tests see.
///
/// It stands in for the kube branch's HTTPS fake API server until that is merged: the
/// enrichers only see `KubeReader`, which the kube client implements.
final class FixtureKube: KubeReader, Sendable {
    private struct State {
        var objects: [String: JSONValue] = [:]  // API path → object
        var logs: [String: [UInt8]] = [:]       // "ns/pod/container/previous" → text
        var requests: [String] = []
    }
    private let state = Mutex(State())

    /// Serves `object` at its own API path (kind, namespace and name from the object).
    func add(_ object: JSONValue) {
        guard let kind = object["kind"]?.stringValue, let name = object.at("metadata", "name")?.stringValue,
              let path = KubeAPI.path(kind: kind, name: name, namespace: kind == "Node" ? nil : object.at("metadata", "namespace")?.stringValue)
        else { return }
        state.withLock { $0.objects[path] = object }
    }

    func setLog(namespace: String, pod: String, container: String, previous: Bool, _ text: [UInt8]) {
        state.withLock { $0.logs["\(namespace)/\(pod)/\(container)/\(previous)"] = text }
    }

    var requests: [String] { state.withLock { $0.requests } }

    func get(path: String) -> (status: Int, body: [UInt8])? {
        state.withLock { $0.requests.append(path) }
        let parts = path.split(separator: "?", maxSplits: 1).map(String.init)
        let route = parts[0]
        var query: [String: String] = [:]
        if parts.count == 2 {
            for item in parts[1].split(separator: "&") {
                let kv = item.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                query[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
        }
        let segments = route.split(separator: "/").map(String.init)
        if segments.last == "log", segments.count >= 7 {
            let key = "\(segments[3])/\(segments[5])/\(query["container"] ?? "")/\(query["previous"] == "true")"
            guard let text = state.withLock({ $0.logs[key] }) else {
                return (400, Self.status(400, "BadRequest", "previous terminated container \"\(query["container"] ?? "")\" in pod \"\(segments[5])\" not found"))
            }
            return (200, text)
        }
        let objects = state.withLock { $0.objects }
        if let object = objects[route] { return (200, try! IssueCoding.encode(object)) }
        // A list: every object whose path is route + "/" + name.
        let items = objects.filter { key, _ in
            key.hasPrefix(route + "/") && !key.dropFirst(route.count + 1).contains("/")
        }.map(\.value).filter { Self.matches($0, query) }
        if !items.isEmpty || Self.isCollection(segments) {
            return (200, try! IssueCoding.encode(JSONValue.object(["kind": .string("List"), "apiVersion": .string("v1"),
                                                                     "metadata": .object([:]), "items": .array(items)])))
        }
        return (404, Self.status(404, "NotFound", "not found"))
    }

    private static func isCollection(_ segments: [String]) -> Bool {
        guard let last = segments.last else { return false }
        return KubeAPI.resources.values.contains { $0.plural == last }
    }

    private static func matches(_ object: JSONValue, _ query: [String: String]) -> Bool {
        if let selector = query["labelSelector"], !selector.isEmpty {
            for term in selector.split(separator: ",") {
                let kv = term.split(separator: "=", maxSplits: 1).map(String.init)
                if object.at("metadata", "labels", kv[0])?.stringValue != (kv.count > 1 ? kv[1] : "") { return false }
            }
        }
        if let selector = query["fieldSelector"], !selector.isEmpty {
            for term in selector.split(separator: ",") {
                let kv = term.split(separator: "=", maxSplits: 1).map(String.init)
                let path = kv[0].split(separator: ".").map(String.init)
                var value: JSONValue? = object
                for key in path { value = value?[key] }
                if value?.stringValue != (kv.count > 1 ? kv[1] : "") { return false }
            }
        }
        return true
    }

    static func status(_ code: Int, _ reason: String, _ message: String) -> [UInt8] {
        try! IssueCoding.encode(JSONValue.object([
            "kind": .string("Status"), "apiVersion": .string("v1"), "status": .string("Failure"),
            "message": .string(message), "reason": .string(reason), "code": .number(Double(code)),
        ]))
    }
}

/// The next sink: records what reached it, like the outbox would commit it.
final class RecordingSink: IssueSink, Sendable {
    private let received = Mutex<[Issue]>([])
    var issues: [Issue] { received.withLock { $0 } }

    func submit(_ issues: [Issue]) async throws(SubmitError) -> SubmitReceipt {
        received.withLock { $0 += issues }
        return SubmitReceipt(queued: issues.count, duplicates: 0)
    }
}

extension Issue {
    /// The enrichments of one enricher type.
    func enrichments(_ type: String) -> [Enrichment] { enrichments.filter { $0.type == type } }
}

extension Enrichment {
    var tables: [Block.Table] { blocks.compactMap { if case .table(let t) = $0 { t } else { nil } } }
    var markdown: [String] { blocks.compactMap { if case .markdown(let m) = $0 { m } else { nil } } }
    var files: [Block.File] { blocks.compactMap { if case .file(let f) = $0 { f } else { nil } } }
    var links: [Link] { blocks.flatMap { block -> [Link] in if case .links(let l) = block { return l } else { return [] } } }
}
