import CanoSDK

/// `container_status`: one row per container: state, last termination (reason, exit
/// code, time), restarts, image; plus the pod's phase and reason (Evicted pods have no
/// container statuses, only a reason and message).
struct ContainerStatusEnricher: KubeEnricher {
    let api: KubeAPI
    let name = "container_status"
    var displayName: String { "container status" }

    func enrich(_ issue: Issue, parameters: EnricherParameters, deadline: ContinuousClock.Instant) throws(EnricherFailure) -> [Enrichment] {
        guard let target = KubeTarget.of(issue) else { return [] }
        return try PodLookup.pods(for: target, api: api).map(Self.render)
    }

    static func render(_ pod: JSONValue) -> Enrichment {
        var blocks: [Block] = []
        let phase = pod.at("status", "phase")?.text ?? "Unknown"
        var summary = "Pod `\(PodLookup.name(pod))` is **\(phase)**"
        if let node = pod.at("spec", "nodeName")?.text { summary += " on node `\(node)`" }
        if let reason = pod.at("status", "reason")?.text {
            summary += ": \(reason)"
            if let message = pod.at("status", "message")?.text { summary += " (\(message))" }
        }
        blocks.append(.markdown(summary))
        let rows = PodLookup.statuses(pod).map { entry -> [String] in
            let s = entry.status
            let last = s.at("lastState", "terminated")
            return [
                (s["name"]?.text ?? "?") + (entry.isInit ? " (init)" : ""),
                state(s["state"]),
                last?["reason"]?.text ?? "",
                last?["exitCode"]?.text ?? "",
                last?["finishedAt"]?.text ?? "",
                s["restartCount"]?.text ?? "0",
                s["image"]?.text ?? "",
            ]
        }
        if !rows.isEmpty {
            blocks.append(.table(Block.Table(
                headers: ["Container", "State", "Last termination", "Exit code", "Finished", "Restarts", "Image"], rows: rows)))
        }
        return Enrichment(type: "container_status", title: "Container status", blocks: blocks)
    }

    /// "running since …", "waiting: CrashLoopBackOff", "terminated: Error (exit 1)".
    static func state(_ state: JSONValue?) -> String {
        if let running = state?["running"] { return "running" + (running["startedAt"]?.text.map { " since \($0)" } ?? "") }
        if let waiting = state?["waiting"] {
            var text = "waiting: " + (waiting["reason"]?.text ?? "?")
            if let message = waiting["message"]?.text { text += " — " + String(message.prefix(160)) }
            return text
        }
        if let t = state?["terminated"] {
            return "terminated: " + (t["reason"]?.text ?? "?") + (t["exitCode"]?.text.map { " (exit \($0))" } ?? "")
        }
        return "unknown"
    }
}

/// `resources`: requests and limits per container; for an OOM kill, the memory limit
/// that was hit (the one the kubelet applied, from the status when it reports it).
struct ResourcesEnricher: KubeEnricher {
    let api: KubeAPI
    let name = "resources"

    func enrich(_ issue: Issue, parameters: EnricherParameters, deadline: ContinuousClock.Instant) throws(EnricherFailure) -> [Enrichment] {
        guard let target = KubeTarget.of(issue) else { return [] }
        return try PodLookup.pods(for: target, api: api).map(Self.render)
    }

    static func render(_ pod: JSONValue) -> Enrichment {
        let containers = (pod.at("spec", "initContainers")?.arrayValue ?? []).map { ($0, true) }
            + (pod.at("spec", "containers")?.arrayValue ?? []).map { ($0, false) }
        let rows = containers.map { c, isInit -> [String] in
            let r = c["resources"]
            return [
                (c["name"]?.text ?? "?") + (isInit ? " (init)" : ""),
                r?.at("requests", "cpu")?.text ?? "—", r?.at("limits", "cpu")?.text ?? "—",
                r?.at("requests", "memory")?.text ?? "—", r?.at("limits", "memory")?.text ?? "—",
            ]
        }
        var blocks: [Block] = []
        for (status, _) in PodLookup.statuses(pod) {
            let killed = [status.at("lastState", "terminated"), status.at("state", "terminated")]
                .compactMap { $0 }.first { $0["reason"]?.text == "OOMKilled" }
            guard let killed, let container = status["name"]?.text else { continue }
            let spec = containers.first { $0.0["name"]?.text == container }?.0
            let specLimit = spec?.at("resources", "limits", "memory")?.text
            // The status carries the limit the kubelet actually applied (after rounding or
            // in-place resize); the spec what was asked for.
            let applied = status.at("resources", "limits", "memory")?.text ?? specLimit
            var text = "**`\(container)` was OOMKilled**"
            if let at = killed["finishedAt"]?.text { text += " at \(at)" }
            if let code = killed["exitCode"]?.text { text += " (exit code \(code))" }
            if let applied {
                text += ": it hit its memory limit of **\(applied)**"
                if let specLimit, specLimit != applied { text += " (spec: \(specLimit))" }
            } else {
                text += ": it has no memory limit, so the node ran out of memory"
            }
            if let request = spec?.at("resources", "requests", "memory")?.text { text += "; memory request \(request)" }
            blocks.append(.markdown(text + "."))
        }
        if !rows.isEmpty {
            blocks.append(.table(Block.Table(headers: ["Container", "CPU request", "CPU limit", "Memory request", "Memory limit"], rows: rows)))
        }
        return Enrichment(type: "resources", title: "Resources", blocks: blocks)
    }
}
