import CanoSDK

/// `eviction`: the kubelet evicted the pod because its node ran short of memory, disk or
/// PIDs. The pod's status message says which resource and how much each container used
/// against its request; the node's conditions say whether the pressure is still on.
struct EvictionRule: DiagnosisRule {
    let name = "eviction"

    func diagnose(_ facts: DiagnosisFacts) -> Diagnosis? {
        let podStatus = facts.pod?["status"]
        let evicted = podStatus?["reason"]?.text == "Evicted" || facts.issue.aggregationKey == "Evicted"
        guard evicted else { return nil }
        let message = podStatus?["message"]?.text ?? facts.eventMessages(["Evicted"]).first ?? facts.issue.description ?? ""
        var evidence = ["\(facts.podReference): phase \(podStatus?["phase"]?.text ?? "Failed"), reason Evicted: \(Evidence.clip(message, 300))"]
        // "The node was low on resource: memory." (the sentence's full stop is not part of it).
        let resource = message.firstMatch(of: #/low on resource: ([\w-]+)/#).map { String($0.1) }
        let nodeName = facts.node?.at("metadata", "name")?.text ?? facts.pod?.at("spec", "nodeName")?.text ?? facts.issue.subject.node
        let pressures = (facts.node?.at("status", "conditions")?.arrayValue ?? []).filter {
            ["MemoryPressure", "DiskPressure", "PIDPressure"].contains($0["type"]?.text ?? "")
        }
        for c in pressures {
            evidence.append("node \(nodeName ?? "?") \(c["type"]?.text ?? "?")=\(c["status"]?.text ?? "?")" + (c["message"]?.text.map { ": \($0)" } ?? ""))
        }
        let node = nodeName.map { "node \($0)" } ?? "its node"
        switch resource {
        case "memory"?:
            return Diagnosis(rule: name, cause: "the pod was evicted because \(node) ran low on memory; pods using more than their memory request go first", evidence: evidence,
                             nextStep: "Set the pod's memory request to its real usage (then the scheduler reserves it, and it is evicted last); if many pods were evicted, the node is overcommitted.")
        case "ephemeral-storage"?, "nodefs"?, "imagefs"?:
            return Diagnosis(rule: name, cause: "the pod was evicted because \(node) ran low on disk (\(resource!))", evidence: evidence,
                             nextStep: "Find what writes to the container's filesystem or emptyDir (logs, caches, temp files); set an ephemeral-storage limit, or mount a volume for the data.")
        case "pids"?:
            return Diagnosis(rule: name, cause: "the pod was evicted because \(node) ran out of process IDs", evidence: evidence,
                             nextStep: "Look for a process leak (a fork loop, zombie children without an init such as tini); set the kubelet's podPidsLimit.")
        default:
            return Diagnosis(rule: name, cause: "the pod was evicted from \(node)" + (resource.map { " (low on \($0))" } ?? ""), evidence: evidence,
                             nextStep: "kubectl describe node \(nodeName ?? "") shows the pressure conditions and the eviction thresholds.")
        }
    }
}
