import CanoSDK

/// `helm`: what made a Helm release fail, from the release itself (its status, its
/// description as Helm wrote it, and its hooks' last runs): a failed hook, a resource
/// that did not become ready in time, an immutable field, an ownership conflict, or an
/// operation still holding the release.
struct HelmRule: DiagnosisRule {
    let name = "helm"

    func diagnose(_ facts: DiagnosisFacts) -> Diagnosis? {
        guard facts.issue.source == .helm else { return nil }
        let release = facts.helmRelease
        let releaseName = release?["name"]?.text ?? facts.issue.subject.labels["name"] ?? facts.issue.subject.name ?? "the release"
        let status = release?.at("info", "status")?.text ?? facts.issue.subject.labels["status"] ?? "failed"
        let description = release?.at("info", "description")?.text ?? ""
        var evidence: [String] = []
        if let release {
            let chart = release.at("chart", "metadata")
            evidence.append("release \(releaseName) revision \(release["version"]?.text ?? "?"), status \(status)"
                + (chart.map { ", chart \($0["name"]?.text ?? "?")-\($0["version"]?.text ?? "?")" } ?? ""))
        }
        if !description.isEmpty { evidence.append("Helm: \(Evidence.clip(description, 400))") }
        let failedHooks = (release?["hooks"]?.arrayValue ?? []).filter { $0.at("last_run", "phase")?.text == "Failed" }
        for hook in failedHooks.prefix(3) {
            let events = (hook["events"]?.arrayValue ?? []).compactMap(\.text).joined(separator: ", ")
            evidence.append("hook \(hook["name"]?.text ?? "?") (\(hook["kind"]?.text ?? "?"), \(events)) last run Failed"
                + (hook.at("last_run", "completed_at")?.text.map { " at \($0)" } ?? ""))
        }
        let namespace = facts.issue.subject.namespace ?? "default"

        if let hook = failedHooks.first {
            let kind = hook["kind"]?.text ?? "resource"
            let hookName = hook["name"]?.text ?? "?"
            return Diagnosis(rule: name, cause: "Helm release \(releaseName): its \((hook["events"]?.arrayValue ?? []).compactMap(\.text).joined(separator: "/")) hook \(kind) \(hookName) failed",
                             evidence: evidence,
                             nextStep: kind == "Job" ? "Read the hook Job's pod logs (kubectl logs job/\(hookName) -n \(namespace)); fix it, then `helm upgrade` again (or `helm rollback`)."
                                                     : "Inspect \(kind) \(hookName) in \(namespace); fix it, then `helm upgrade` again (or `helm rollback`).")
        }
        if let m = description.firstMatch(of: #/(?:hook|hooks) failed: (.*)/#) {
            return Diagnosis(rule: name, cause: "Helm release \(releaseName): a hook failed: \(Evidence.clip(String(m.1), 160))", evidence: evidence,
                             nextStep: "Read the hook's logs (hook Jobs keep their pods unless hook-delete-policy removes them), fix it, then upgrade again.")
        }
        if let m = description.firstMatch(of: #/resource ([^\s]+) not ready/#) {
            return Diagnosis(rule: name, cause: "Helm release \(releaseName): \(m.1) did not become ready before Helm's --timeout", evidence: evidence,
                             nextStep: "Look at \(m.1)'s pods (their own Issues say why they are not ready); raise --timeout only if it is simply slow.")
        }
        if description.contains("timed out waiting for the condition") || description.contains("context deadline exceeded") {
            return Diagnosis(rule: name, cause: "Helm release \(releaseName): its resources did not become ready before Helm's --timeout (--wait)", evidence: evidence,
                             nextStep: "Find the release's pods that are not ready (kubectl get pods -n \(namespace) -l app.kubernetes.io/instance=\(releaseName)); their crash or pull Issues name the cause.")
        }
        if let m = description.firstMatch(of: #/cannot patch "([^"]+)" with kind (\w+)/#) {
            return Diagnosis(rule: name, cause: "Helm release \(releaseName): the upgrade cannot patch \(m.2) \(m.1), usually an immutable field (a selector, a volumeClaimTemplate)", evidence: evidence,
                             nextStep: "Delete and recreate \(m.2) \(m.1) (for a StatefulSet: --cascade=orphan keeps its pods), or revert the changed immutable field.")
        }
        if description.contains("already exists") && description.contains("cannot be imported") || description.contains("rendered manifests contain a resource that already exists") {
            return Diagnosis(rule: name, cause: "Helm release \(releaseName): a resource it renders already exists and belongs to something else", evidence: evidence,
                             nextStep: "Delete the existing resource, or adopt it by adding the meta.helm.sh/release-name and release-namespace annotations and the managed-by label.")
        }
        if status.hasPrefix("pending-") || description.contains("another operation") {
            return Diagnosis(rule: name, cause: "Helm release \(releaseName) is stuck in \(status): an operation was interrupted and still holds the release", evidence: evidence,
                             nextStep: "`helm rollback \(releaseName) -n \(namespace)` to the last deployed revision clears the lock; then upgrade again.")
        }
        guard status == "failed" else { return nil }
        return Diagnosis(rule: name, cause: "Helm release \(releaseName) failed" + (description.isEmpty ? "" : ": \(Evidence.clip(description, 160))"), evidence: evidence,
                         nextStep: "`helm history \(releaseName) -n \(namespace)` shows each revision's description; `helm rollback` returns to the last good one.")
    }
}
