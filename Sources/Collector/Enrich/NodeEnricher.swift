import CanoSDK

/// `node`: the node's conditions (pressure, readiness), capacity and allocatable, and
/// taints. For a pod Issue, the node it runs on.
struct NodeEnricher: KubeEnricher {
    let api: KubeAPI
    let name = "node"

    func enrich(_ issue: Issue, parameters: EnricherParameters, deadline: ContinuousClock.Instant) throws(EnricherFailure) -> [Enrichment] {
        guard let target = KubeTarget.of(issue) else { return [] }
        var nodeName = target.kind == "Node" ? target.name : target.node
        if nodeName == nil, target.kind == "Pod" {
            nodeName = try api.object(kind: "Pod", name: target.name, namespace: target.namespace).at("spec", "nodeName")?.text
        }
        guard let nodeName else { return [] }
        return [Self.render(try api.object(kind: "Node", name: nodeName, namespace: nil))]
    }

    static func render(_ node: JSONValue) -> Enrichment {
        let conditions = node.at("status", "conditions")?.arrayValue ?? []
        var blocks: [Block] = []
        let ready = conditions.first { $0["type"]?.text == "Ready" }
        let pressure = conditions.filter { ($0["type"]?.text ?? "").hasSuffix("Pressure") || $0["type"]?.text == "NetworkUnavailable" }
            .filter { $0["status"]?.text == "True" }.compactMap { $0["type"]?.text }
        var summary = "Node `\(PodLookup.name(node))`: Ready=\(ready?["status"]?.text ?? "Unknown")"
        if let reason = ready?["reason"]?.text, ready?["status"]?.text != "True" { summary += " (\(reason))" }
        summary += pressure.isEmpty ? "; no pressure" : "; **under \(pressure.joined(separator: ", "))**"
        if node.at("spec", "unschedulable")?.boolValue == true { summary += "; cordoned" }
        blocks.append(.markdown(summary))
        let rows = conditions.map { c in
            [c["type"]?.text ?? "", c["status"]?.text ?? "", c["reason"]?.text ?? "", String((c["message"]?.text ?? "").prefix(300)),
             c["lastTransitionTime"]?.text ?? ""]
        }
        if !rows.isEmpty {
            blocks.append(.table(Block.Table(headers: ["Condition", "Status", "Reason", "Message", "Since"], rows: rows)))
        }
        let capacity = node.at("status", "capacity")?.objectValue ?? [:]
        let allocatable = node.at("status", "allocatable")?.objectValue ?? [:]
        let resources = Set(capacity.keys).union(allocatable.keys).sorted()
        if !resources.isEmpty {
            blocks.append(.table(Block.Table(headers: ["Resource", "Capacity", "Allocatable"],
                                             rows: resources.map { [$0, capacity[$0]?.text ?? "", allocatable[$0]?.text ?? ""] })))
        }
        let taints = (node.at("spec", "taints")?.arrayValue ?? []).map { t in
            "\(t["key"]?.text ?? "")\(t["value"]?.text.map { "=\($0)" } ?? ""):\(t["effect"]?.text ?? "")"
        }
        if !taints.isEmpty { blocks.append(.list(taints.map { "taint `\($0)`" })) }
        return Enrichment(type: "node", title: "Node", blocks: blocks)
    }
}
