#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// `scheduling`: why no node takes the pod, from the scheduler's FailedScheduling message
/// ("0/12 nodes are available: 5 Insufficient memory, 7 node(s) had untolerated taint
/// {…}"), in the pod's PodScheduled condition, its events or the Issue itself. Each
/// reason is counted, and the fix that would open the most nodes is suggested.
struct SchedulingRule: DiagnosisRule {
    let name = "scheduling"

    /// One reason of the message: how many nodes it excludes, and the scheduler's words.
    struct Reason: Equatable {
        var nodes: Int
        var text: String
    }

    func diagnose(_ facts: DiagnosisFacts) -> Diagnosis? {
        let condition = (facts.pod?.at("status", "conditions")?.arrayValue ?? []).first {
            $0["type"]?.text == "PodScheduled" && $0["status"]?.text == "False"
        }
        // The scheduler's own words: the pod's condition and events, and the Issue's text
        // only when the Issue is about scheduling (an alert may quote such a line in passing).
        let aboutScheduling = facts.issue.aggregationKey.contains("Schedul")
        let candidates = [condition?["message"]?.text].compactMap { $0 } + facts.eventMessages(["FailedScheduling"]) + (aboutScheduling ? facts.texts : [])
        guard let message = candidates.first(where: { $0.contains("nodes are available") && Self.parse($0) != nil }),
              let (total, reasons) = Self.parse(message) else { return nil }
        let summary = "0/\(total) nodes: " + reasons.map { "\($0.nodes) \(Self.short($0.text))" }.joined(separator: ", ")
        var evidence = ["scheduler: \(Evidence.clip(message, 400))"]
        if condition != nil { evidence.insert("\(facts.podReference) is Pending, PodScheduled=False", at: 0) }
        let best = reasons.filter { !Self.isControlPlaneTaint($0.text) }.max { $0.nodes < $1.nodes } ?? reasons[0]
        evidence += requestsEvidence(facts, for: best.text)
        return Diagnosis(rule: name, cause: "no node can take the pod: \(summary)", evidence: evidence,
                         nextStep: Self.fix(for: best, total: total, facts: facts))
    }

    /// (total nodes, reasons) of "0/N nodes are available: ...", or nil.
    static func parse(_ message: String) -> (Int, [Reason])? {
        guard let m = message.firstMatch(of: #/0/(\d+) nodes are available: ([^\n]*)/#), let total = Int(m.1) else { return nil }
        var body = String(m.2)
        if let cut = body.range(of: " preemption:") { body = String(body[..<cut.lowerBound]) }
        body = body.trimmingCharacters(in: .whitespacesAndNewlines)
        if body.hasSuffix(".") { body.removeLast() }
        let reasons = body.split(separator: /, (?=\d+ )/).compactMap { part -> Reason? in
            guard let r = part.firstMatch(of: #/^(\d+) (.+)$/#.dotMatchesNewlines()), let n = Int(r.1) else { return nil }
            return Reason(nodes: n, text: String(r.2))
        }
        return reasons.isEmpty ? nil : (total, reasons)
    }

    /// "insufficient memory", "had untolerated taint {…}".
    static func short(_ text: String) -> String {
        text.replacingOccurrences(of: "node(s) ", with: "").replacingOccurrences(of: "Insufficient", with: "insufficient")
    }

    static func isControlPlaneTaint(_ text: String) -> Bool {
        text.contains("taint") && (text.contains("node-role.kubernetes.io/control-plane") || text.contains("node-role.kubernetes.io/master"))
    }

    /// The cheapest change that opens the reason's nodes.
    static func fix(for reason: Reason, total: Int, facts: DiagnosisFacts) -> String {
        let t = reason.text
        let nodes = "\(reason.nodes) of \(total) nodes"
        if let r = t.firstMatch(of: #/Insufficient ([^\s,]+[^\s,.])/#) {
            return "Lower the pod's \(r.1) request, or add capacity: \(nodes) lack \(r.1) (kubectl describe nodes shows what is allocated)."
        }
        if t.contains("taint") {
            let taint = t.firstMatch(of: #/\{[^}]*\}/#).map { String($0.0) } ?? "their taint"
            return "\(nodes) are reserved by taint \(taint): add a matching toleration only if the pod belongs on them; otherwise free room on the others."
        }
        if t.contains("affinity/selector") || t.contains("node selector") || t.contains("node affinity") {
            return "The pod's nodeSelector or node affinity rules out \(nodes): check the labels it asks for (kubectl get nodes --show-labels)."
        }
        if t.contains("volume node affinity conflict") {
            return "The pod's PersistentVolume lives in a zone where \(nodes) are not: schedule it in the volume's zone, or use a StorageClass with volumeBindingMode WaitForFirstConsumer."
        }
        if t.contains("pod anti-affinity") || t.contains("pod affinity") {
            return "Pod (anti-)affinity rules out \(nodes): there are fewer suitable nodes than replicas; relax it to preferredDuringScheduling or add nodes."
        }
        if t.contains("Too many pods") {
            return "\(nodes) are at their pod limit (max-pods): add nodes or raise the kubelet's max-pods."
        }
        if t.contains("unschedulable") {
            return "\(nodes) are cordoned (unschedulable): uncordon them when their maintenance is over."
        }
        if t.contains("unbound immediate PersistentVolumeClaims") || t.contains("persistentvolumeclaim") {
            return "A PersistentVolumeClaim of the pod is not bound: check its StorageClass and its provisioner's events."
        }
        if t.contains("free ports") {
            return "The pod asks for a hostPort that \(nodes) already use: drop the hostPort or run fewer replicas per node."
        }
        return "Read the scheduler's full message above; \(nodes) are ruled out by: \(t)."
    }

    /// The pod's total request of the resource the reason lacks.
    private func requestsEvidence(_ facts: DiagnosisFacts, for text: String) -> [String] {
        guard let r = text.firstMatch(of: #/Insufficient ([^\s,]+[^\s,.])/#), let pod = facts.pod else { return [] }
        let resource = String(r.1)
        let values = (pod.at("spec", "containers")?.arrayValue ?? []).compactMap { $0.at("resources", "requests", resource)?.text }
        guard !values.isEmpty else { return [] }
        return ["the pod requests \(resource): \(values.joined(separator: " + "))"]
    }
}
