import CanoSDK

/// `owner_chain`: who owns the object (Pod → ReplicaSet → Deployment, Job → CronJob) and
/// the top workload's rollout status: is a new version rolling out, are replicas missing.
struct OwnerChainEnricher: KubeEnricher {
    let api: KubeAPI
    let name = "owner_chain"
    var displayName: String { "owner chain" }

    func enrich(_ issue: Issue, parameters: EnricherParameters, deadline: ContinuousClock.Instant) throws(EnricherFailure) -> [Enrichment] {
        guard let target = KubeTarget.of(issue), KubeAPI.resources[target.kind] != nil, target.kind != "Node" else { return [] }
        var chain: [(kind: String, name: String, object: JSONValue?)] = []
        var current: (String, String)? = (target.kind, target.name)
        while let (kind, name) = current, chain.count < 5 {
            guard KubeAPI.resources[kind] != nil else {
                // A custom resource (RayCluster, Rollout...): named, not followed.
                chain.append((kind, name, nil))
                break
            }
            let object = try api.object(kind: kind, name: name, namespace: target.namespace)
            chain.append((kind, name, object))
            current = Self.controller(of: object)
        }
        var blocks: [Block] = [.markdown(chain.map { "\($0.kind) `\($0.name)`" }.joined(separator: " → "))]
        if let top = chain.last(where: { $0.object != nil }), top.kind != "Pod", let object = top.object {
            blocks += Self.rollout(kind: top.kind, object)
        }
        return [Enrichment(type: "owner_chain", title: "Owner", blocks: blocks)]
    }

    /// The controlling owner reference (or the first one).
    static func controller(of object: JSONValue) -> (String, String)? {
        let refs = object.at("metadata", "ownerReferences")?.arrayValue ?? []
        guard let ref = refs.first(where: { $0["controller"]?.boolValue == true }) ?? refs.first,
              let kind = ref["kind"]?.text, let name = ref["name"]?.text else { return nil }
        return (kind, name)
    }

    static func rollout(kind: String, _ o: JSONValue) -> [Block] {
        let s = o["status"]
        func n(_ key: String) -> String { s?[key]?.text ?? "0" }
        var rows: [[String]]
        switch kind {
        case "Deployment", "ReplicaSet":
            rows = [["Desired", o.at("spec", "replicas")?.text ?? "1"], ["Updated", n("updatedReplicas")],
                    ["Ready", n("readyReplicas")], ["Available", n("availableReplicas")]]
            if kind == "Deployment" { rows.append(["Unavailable", n("unavailableReplicas")]) }
        case "StatefulSet":
            rows = [["Desired", o.at("spec", "replicas")?.text ?? "1"], ["Ready", n("readyReplicas")], ["Updated", n("updatedReplicas")],
                    ["Current revision", s?["currentRevision"]?.text ?? ""], ["Update revision", s?["updateRevision"]?.text ?? ""]]
        case "DaemonSet":
            rows = [["Desired", n("desiredNumberScheduled")], ["Ready", n("numberReady")], ["Updated", n("updatedNumberScheduled")],
                    ["Unavailable", n("numberUnavailable")]]
        case "Job":
            rows = [["Active", n("active")], ["Succeeded", n("succeeded")], ["Failed", n("failed")],
                    ["Backoff limit", o.at("spec", "backoffLimit")?.text ?? "6"]]
        case "CronJob":
            rows = [["Schedule", o.at("spec", "schedule")?.text ?? ""], ["Last scheduled", s?["lastScheduleTime"]?.text ?? "never"],
                    ["Last successful", s?["lastSuccessfulTime"]?.text ?? "never"], ["Active jobs", String(s?["active"]?.arrayValue?.count ?? 0)]]
        default:
            return []
        }
        if let generation = o.at("metadata", "generation")?.text, let observed = s?["observedGeneration"]?.text, generation != observed {
            rows.append(["Rollout", "generation \(generation) not yet observed (controller at \(observed))"])
        }
        var blocks: [Block] = [.table(Block.Table(headers: ["\(kind) \(PodLookup.name(o))", "Value"], rows: rows))]
        let conditions = (s?["conditions"]?.arrayValue ?? []).map { c in
            [c["type"]?.text ?? "", c["status"]?.text ?? "", c["reason"]?.text ?? "", String((c["message"]?.text ?? "").prefix(300))]
        }
        if !conditions.isEmpty {
            blocks.append(.table(Block.Table(headers: ["Condition", "Status", "Reason", "Message"], rows: conditions)))
        }
        return blocks
    }
}
