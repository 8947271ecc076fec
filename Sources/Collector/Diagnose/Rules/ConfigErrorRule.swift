import CanoSDK

/// `config_error`: a container that cannot be created from its spec
/// (CreateContainerConfigError): the ConfigMap, Secret or key it references is missing,
/// or `runAsNonRoot` meets an image that runs as root. The kubelet's message names the
/// object; the rule says which, in which namespace.
struct ConfigErrorRule: DiagnosisRule {
    let name = "config_error"

    func diagnose(_ facts: DiagnosisFacts) -> Diagnosis? {
        let isConfigError = facts.waiting?.reason == "CreateContainerConfigError" || facts.issue.aggregationKey == "CreateContainerConfigError"
        guard isConfigError else { return nil }
        let container = facts.containerName ?? "the container"
        let namespace = facts.pod.flatMap(PodLookup.namespace) ?? facts.issue.subject.namespace ?? "its namespace"
        let messages = [facts.waiting?.message ?? ""] + facts.eventMessages(["Failed"]) + facts.texts
        var evidence = ["\(facts.podReference) container \(container): waiting with CreateContainerConfigError"]
        for message in messages where !message.isEmpty {
            if let m = message.firstMatch(of: #/(configmap|secret) "([^"]+)" not found/#.ignoresCase()) {
                let kind = m.1.lowercased() == "secret" ? "Secret" : "ConfigMap"
                evidence.append("kubelet: \(Evidence.clip(message, 300))")
                evidence += references(facts, kind: kind, name: String(m.2))
                return Diagnosis(rule: name, cause: "\(container) references \(kind) \(namespace)/\(m.2), which does not exist", evidence: evidence,
                                 nextStep: "Create \(kind) \(m.2) in \(namespace) (or fix the name in the pod spec); mark the reference optional: true if the container can run without it.")
            }
            if let m = message.firstMatch(of: #/couldn't find key (\S+) in (Secret|ConfigMap) ([^/\s]+)/([^\s,]+)/#) {
                evidence.append("kubelet: \(Evidence.clip(message, 300))")
                return Diagnosis(rule: name, cause: "\(container) references key \(m.1) of \(m.2) \(m.3)/\(m.4), which has no such key", evidence: evidence,
                                 nextStep: "Add key \(m.1) to \(m.2) \(m.4) (kubectl get \(m.2.lowercased()) \(m.4) -n \(m.3) -o jsonpath='{.data}' lists its keys), or fix the key's name in the pod spec.")
            }
            if message.contains("runAsNonRoot") {
                evidence.append("kubelet: \(Evidence.clip(message, 300))")
                return Diagnosis(rule: name, cause: "\(container) must run as non-root (runAsNonRoot), but its image runs as root or names its user by name", evidence: evidence,
                                 nextStep: "Set securityContext.runAsUser to a numeric non-root UID (e.g. 65532), or build the image with a numeric USER.")
            }
        }
        if let message = messages.first(where: { !$0.isEmpty }) { evidence.append("kubelet: \(Evidence.clip(message, 300))") }
        return Diagnosis(rule: name, cause: "\(container) cannot be created from its spec (CreateContainerConfigError)", evidence: evidence,
                         nextStep: "kubectl describe pod shows the kubelet's full error; it names the missing ConfigMap, Secret or key.")
    }

    /// Where the container's spec uses the object: env, envFrom or a volume.
    private func references(_ facts: DiagnosisFacts, kind: String, name: String) -> [String] {
        let key = kind == "Secret" ? "secretKeyRef" : "configMapKeyRef"
        let fromKey = kind == "Secret" ? "secretRef" : "configMapRef"
        var out: [String] = []
        let spec = facts.containerSpec
        for env in spec?["env"]?.arrayValue ?? [] where env.at("valueFrom", key, "name")?.text == name {
            out.append("env \(env["name"]?.text ?? "?") reads \(kind) \(name) key \(env.at("valueFrom", key, "key")?.text ?? "?")")
        }
        for from in spec?["envFrom"]?.arrayValue ?? [] where from.at(fromKey, "name")?.text == name {
            out.append("envFrom reads all of \(kind) \(name)")
        }
        for volume in facts.pod?.at("spec", "volumes")?.arrayValue ?? [] {
            let ref = kind == "Secret" ? volume.at("secret", "secretName")?.text : volume.at("configMap", "name")?.text
            if ref == name { out.append("volume \(volume["name"]?.text ?? "?") mounts \(kind) \(name)") }
        }
        return out
    }
}
