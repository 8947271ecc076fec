#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import PrometheusAPI

/// `oom_killed`: the kernel killed the container at its memory limit (reason OOMKilled,
/// exit code 137). Compares the limit with the request, and reads the runtime's own
/// memory ceiling from the container's args and env: a JVM heap (`-Xmx`,
/// `-XX:MaxRAMPercentage`) or a Go `GOMEMLIMIT` at or above the limit means the runtime
/// never gets to collect or fail cleanly before the kernel kills it. With Prometheus, the
/// working set's shape up to the kill tells a leak (a steady climb) from a limit too low
/// for the warm-up (a spike right after start).
struct OOMKilledRule: DiagnosisRule {
    let name = "oom_killed"

    func diagnose(_ facts: DiagnosisFacts) -> Diagnosis? {
        guard facts.isOOMKill else { return nil }
        let t = facts.termination
        let container = facts.containerName ?? "the container"
        var evidence: [String] = []
        if let t {
            evidence.append("\(facts.podReference) container \(container): last terminated with reason OOMKilled, exit code \(t["exitCode"]?.text ?? "?")"
                + (t["finishedAt"]?.text.map { " at \($0)" } ?? "") + (facts.containerStatus?["restartCount"]?.text.map { ", \($0) restarts" } ?? ""))
        }
        let resources = facts.containerSpec?["resources"]
        // The pod's own spec, else (the pod could not be read) kube-state-metrics' figure.
        let limitText = resources?.at("limits", "memory")?.text ?? facts.memoryLimit.map(Units.bytes)
        let requestText = resources?.at("requests", "memory")?.text
        // A limit of 0 or less is no limit a container can hit (a bad metric, a typo).
        let limit = limitText.flatMap(Quantity.parse).flatMap { $0 > 0 ? $0 : nil }
        let request = requestText.flatMap(Quantity.parse)

        guard let limit, let limitText else {
            guard facts.containerSpec != nil else {
                return Diagnosis(rule: name, cause: "\(container) was killed by the out-of-memory killer",
                                 evidence: evidence + [facts.issue.description].compactMap { $0 }.filter { !$0.isEmpty }.map { "the alert: \(Evidence.clip($0))" },
                                 nextStep: "Compare its memory working set with its limit (kubectl describe pod, container_memory_working_set_bytes): a steady climb is a leak, a spike at start-up or under load means the limit is too low.")
            }
            evidence.append("no memory limit on \(container): the kernel's OOM killer acted for the whole node")
            return Diagnosis(rule: name,
                             cause: "\(container) was OOM-killed without a memory limit of its own: its node ran out of memory",
                             evidence: evidence + nodeMemoryPressure(facts),
                             nextStep: "Set a memory request and limit on \(container) from its real usage, so the scheduler reserves the memory and a leak stops at the container.")
        }
        if facts.containerSpec != nil {
            evidence.append("memory limit \(limitText)" + (requestText.map { ", request \($0)" } ?? ", no request (it defaults to the limit)"))
        } else {
            evidence.append("memory limit \(limitText) (kube_pod_container_resource_limits)")
        }

        if let heap = RuntimeMemory.ceiling(in: facts.containerSpec, limit: limit) {
            evidence.append(heap.evidence)
            if heap.bytes >= limit * 0.9 {
                return Diagnosis(rule: name,
                                 cause: "\(container)'s \(heap.runtime) may use \(Units.bytes(heap.bytes)), \(heap.bytes >= limit ? "more than" : "almost all of") its \(limitText) limit: the kernel kills it before the runtime collects or fails cleanly",
                                 evidence: evidence,
                                 nextStep: "Set \(heap.setting) to about 75% of the limit (\(Units.bytes(limit * 0.75))), leaving room for the runtime's off-heap memory, or raise the limit.")
            }
        } else if let runtime = RuntimeMemory.unboundedRuntime(in: facts.containerSpec) {
            evidence.append(runtime)
        }
        let run = (t?["startedAt"]?.text.flatMap(RFC3339.parse), t?["finishedAt"]?.text.flatMap(RFC3339.parse))
        if let trend = facts.memory.flatMap({ MemoryTrend.classify($0, start: run.0?.timeIntervalSince1970, end: run.1?.timeIntervalSince1970) }) {
            let share = { (bytes: Double) in "\(Int((min(bytes / limit, 1000) * 100).rounded()))% of the limit" }
            switch trend {
            // The samples must come near the limit (70%: scrapes miss the last surge) for
            // their shape to explain the kill.
            case .leak(let minutes, let from, let peak) where peak >= 0.7 * limit:
                evidence.append("Prometheus: the working set grew from \(Units.bytes(from)) to \(Units.bytes(peak)) (\(share(peak))) over \(minutes) min")
                return Diagnosis(rule: name, cause: "\(container)'s memory grew steadily for \(minutes) min up to its \(limitText) limit: likely a leak",
                                 evidence: evidence,
                                 nextStep: "Profile the heap before the next kill (a heap dump, pprof, tracemalloc); a higher limit only delays it.")
            case .startupSpike(let seconds, let peak) where peak >= 0.7 * limit:
                evidence.append("Prometheus: the working set reached \(Units.bytes(peak)) (\(share(peak))) \(seconds)s after the container started")
                return Diagnosis(rule: name, cause: "\(container)'s memory spiked at start-up: the \(limitText) limit is too low for its warm-up",
                                 evidence: evidence,
                                 nextStep: "Raise the limit above the start-up peak (\(Units.bytes(max(peak, limit) * 1.25)) leaves 25% headroom), or make the start-up load less at once (caches, JIT, preloaded data).")
            case .leak(_, _, let peak), .startupSpike(_, let peak), .peak(_, let peak):
                evidence.append(peak >= 0.7 * limit
                    ? "Prometheus: the working set peaked at \(Units.bytes(peak)) (\(share(peak))), without a steady climb"
                    : "Prometheus: the working set peaked at \(Units.bytes(peak)) (\(share(peak))) in the samples: the kill came from a surge shorter than the scrape interval")
            }
        }
        if let request, request < limit {
            return Diagnosis(rule: name,
                             cause: "\(container) used its whole \(limitText) memory limit and was killed; it is scheduled for \(requestText ?? "?") only, so its node reserves less than it uses",
                             evidence: evidence,
                             nextStep: "If usage grows steadily until the kill, look for a leak; if it peaks at start-up or under load, raise the limit and set the request to the usual working set (kubectl top pod, or the container_memory_working_set_bytes metric).")
        }
        return Diagnosis(rule: name,
                         cause: "\(container) used its whole \(limitText) memory limit and was killed",
                         evidence: evidence,
                         nextStep: "Compare the working set with the limit over the hour before the kill (container_memory_working_set_bytes): a steady climb is a leak, a spike at start-up or under load means the limit is too low.")
    }

    private func nodeMemoryPressure(_ facts: DiagnosisFacts) -> [String] {
        guard let pressure = facts.node?.at("status", "conditions")?.arrayValue?.first(where: { $0["type"]?.text == "MemoryPressure" }),
              pressure["status"]?.text == "True" else { return [] }
        return ["node \(facts.node?.at("metadata", "name")?.text ?? "?") reports MemoryPressure: \(pressure["message"]?.text ?? "")"]
    }
}

/// What a language runtime in the container is told about memory, from its args and env.
enum RuntimeMemory {
    struct Ceiling {
        var runtime: String
        var setting: String
        var bytes: Double
        var evidence: String
    }

    /// The container's command, args and env values (names and values), for flag lookups.
    static func words(_ spec: JSONValue?) -> [String] {
        let argv = (spec?["command"]?.arrayValue ?? []) + (spec?["args"]?.arrayValue ?? [])
        let env = (spec?["env"]?.arrayValue ?? []).compactMap { e -> String? in
            guard let name = e["name"]?.text else { return nil }
            return "\(name)=\(e["value"]?.text ?? "")"
        }
        return argv.compactMap(\.text).flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init) } + env
    }

    /// The heap ceiling a JVM or Go runtime was given, if any. `-Xmx` and
    /// `-XX:MaxRAMPercentage` may sit in the args or in JAVA_TOOL_OPTIONS / JAVA_OPTS /
    /// JDK_JAVA_OPTIONS; `GOMEMLIMIT` in the env.
    static func ceiling(in spec: JSONValue?, limit: Double) -> Ceiling? {
        for word in words(spec).reversed() {
            if let r = word.range(of: "-Xmx") {
                let value = String(word[r.upperBound...])
                if let bytes = javaSize(value) {
                    return Ceiling(runtime: "JVM heap", setting: "-Xmx", bytes: bytes, evidence: "JVM flag -Xmx\(value) (\(Units.bytes(bytes)))")
                }
            }
            if let r = word.range(of: "-XX:MaxRAMPercentage=") {
                let value = String(word[r.upperBound...])
                if let percent = Double(value) {
                    return Ceiling(runtime: "JVM heap", setting: "-XX:MaxRAMPercentage", bytes: limit * percent / 100,
                                   evidence: "JVM flag -XX:MaxRAMPercentage=\(value) (\(Units.bytes(limit * percent / 100)) of the limit)")
                }
            }
            if word.hasPrefix("GOMEMLIMIT=") {
                let value = String(word.dropFirst("GOMEMLIMIT=".count))
                if let bytes = goSize(value) {
                    return Ceiling(runtime: "Go runtime (GOMEMLIMIT)", setting: "GOMEMLIMIT", bytes: bytes, evidence: "env GOMEMLIMIT=\(value) (\(Units.bytes(bytes)))")
                }
            }
        }
        return nil
    }

    /// A note for a JVM or Go program that was given no ceiling at all, when the words say
    /// which runtime it is.
    static func unboundedRuntime(in spec: JSONValue?) -> String? {
        let w = words(spec)
        if w.contains(where: { $0 == "java" || $0.hasSuffix("/java") || $0.hasPrefix("JAVA_") }) {
            return "a JVM without -Xmx or -XX:MaxRAMPercentage: it sizes its heap at 25% of the limit by default, so the rest is off-heap or native memory"
        }
        if w.contains(where: { $0.hasPrefix("GOGC=") }) {
            return "a Go program with GOGC set but no GOMEMLIMIT: its heap may grow to twice the live set before a collection"
        }
        return nil
    }

    /// `-Xmx` sizes: "512m", "2g", "1048576" (bytes), case-insensitive binary units.
    static func javaSize(_ text: String) -> Double? {
        let lower = text.lowercased()
        let factors: [Character: Double] = ["k": 1024, "m": 1024 * 1024, "g": 1024 * 1024 * 1024, "t": 1024 * 1024 * 1024 * 1024]
        if let last = lower.last, let f = factors[last] { return Double(lower.dropLast()).map { $0 * f } }
        return Double(lower)
    }

    /// GOMEMLIMIT sizes: "1800MiB", "2GiB", "500000000", with B, KiB, MiB, GiB, TiB.
    static func goSize(_ text: String) -> Double? {
        for (suffix, f) in [("TiB", 1024.0 * 1024 * 1024 * 1024), ("GiB", 1024.0 * 1024 * 1024), ("MiB", 1024.0 * 1024), ("KiB", 1024.0), ("B", 1.0)]
        where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * f }
        }
        return Double(text)
    }
}
