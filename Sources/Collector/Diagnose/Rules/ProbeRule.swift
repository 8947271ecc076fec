#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// `probe_failure`: a liveness, readiness or startup probe that fails, from the kubelet's
/// `Unhealthy` and `Killing` events. A refused connection on a port the container does
/// not declare is a probe pointed at the wrong port; a refused connection on a declared
/// port is an app that is not listening yet (or on another interface); a timeout is an
/// endpoint slower than `timeoutSeconds`.
///
/// It speaks only when the probe is the story: the container was killed by its liveness
/// probe (exit 137 or 143, or a "failed liveness probe" kill), or it is running but not
/// ready. A container that crashed with its own exit code is the exit code's story.
struct ProbeRule: DiagnosisRule {
    let name = "probe_failure"

    struct Failure {
        var probe: String
        var message: String
    }

    func diagnose(_ facts: DiagnosisFacts) -> Diagnosis? {
        let failures = facts.eventMessages(["Unhealthy"]).compactMap(Self.failure)
        let kills = facts.eventMessages(["Killing"]).filter { $0.contains("failed liveness probe") || $0.contains("failed startup probe") }
        guard !failures.isEmpty || !kills.isEmpty else { return nil }
        let code = facts.termination?["exitCode"]?.numberValue.map { Int($0) }
        let killedByProbe = !kills.isEmpty && (code == nil || code == 137 || code == 143)
        let notReady = facts.containerStatus?.at("state", "running") != nil && facts.containerStatus?["ready"] == .bool(false)
        guard killedByProbe || (code == nil && (notReady || facts.pod == nil)) || ((code == 137 || code == 143) && !failures.isEmpty) else { return nil }

        let container = facts.containerName ?? "the container"
        let first = failures.first { $0.probe != "Readiness" } ?? failures.first
        let probeKind = first?.probe ?? (kills.first?.contains("startup") == true ? "Startup" : "Liveness")
        var evidence = kills.prefix(1).map { "event Killing: \($0)" }
        evidence += failures.prefix(2).map { "event Unhealthy: \(Evidence.clip($0.probe + " probe failed: " + $0.message))" }
        let probe = facts.containerSpec?["\(probeKind.lowercased())Probe"]
        if let probe { evidence.append("\(probeKind.lowercased())Probe: \(Self.describe(probe))") }
        let effect = probeKind == "Readiness" ? "takes it out of its Services' endpoints" : "restarts it"
        let message = first?.message ?? ""

        if message.contains("connection refused") {
            let port = Self.port(in: message)
            let declared = (facts.containerSpec?["ports"]?.arrayValue ?? []).compactMap { $0["containerPort"]?.text }
            if let port, !declared.isEmpty, !declared.contains(port) {
                evidence.append("the container declares port\(declared.count > 1 ? "s" : "") \(declared.joined(separator: ", "))")
                return Diagnosis(rule: name,
                                 cause: "\(container)'s \(probeKind.lowercased()) probe checks port \(port), which the container does not declare (it declares \(declared.joined(separator: ", "))): nothing answers there, and the kubelet \(effect)",
                                 evidence: evidence,
                                 nextStep: "Point the probe at the port the app listens on (a named port, `port: http`, keeps them in step).")
            }
            return Diagnosis(rule: name,
                             cause: "nothing listens on \(port.map { "port \($0)" } ?? "the probed port") when \(container)'s \(probeKind.lowercased()) probe runs, so the kubelet \(effect)",
                             evidence: evidence,
                             nextStep: "If the app starts slowly, add a startupProbe (or raise initialDelaySeconds, now \(probe?["initialDelaySeconds"]?.text ?? "0")s); if it listens on 127.0.0.1 only, bind it to 0.0.0.0.")
        }
        if message.contains("context deadline exceeded") || message.contains("Timeout exceeded") || message.contains("timeout") || message.contains("timed out") {
            return Diagnosis(rule: name,
                             cause: "\(container)'s \(probeKind.lowercased()) probe times out: the endpoint answers slower than timeoutSeconds (\(probe?["timeoutSeconds"]?.text ?? "1")s), and the kubelet \(effect)",
                             evidence: evidence,
                             nextStep: "Make the health endpoint cheap (no calls to databases or other services), or raise timeoutSeconds and failureThreshold.")
        }
        if let status = message.firstMatch(of: #/statuscode: (\d+)/#) {
            return Diagnosis(rule: name,
                             cause: "\(container)'s \(probeKind.lowercased()) probe gets HTTP \(status.1) from the health endpoint, and the kubelet \(effect)",
                             evidence: evidence,
                             nextStep: "Ask the endpoint why it answers \(status.1) (curl it from inside the pod); check the probe's path.")
        }
        return Diagnosis(rule: name,
                         cause: "\(container)'s \(probeKind.lowercased()) probe fails, and the kubelet \(effect)",
                         evidence: evidence,
                         nextStep: "Run the probe by hand inside the pod (kubectl exec) and compare its path, port and timeout with the app's.")
    }

    /// "Liveness probe failed: dial tcp ..." → (Liveness, "dial tcp ...").
    static func failure(_ message: String) -> Failure? {
        guard let m = message.firstMatch(of: #/^(Liveness|Readiness|Startup) probe (?:failed|errored): ?(.*)$/#.dotMatchesNewlines()) else { return nil }
        return Failure(probe: String(m.1), message: String(m.2).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The port of "dial tcp 10.1.2.3:8080: connect: connection refused" or of the probe URL.
    static func port(in message: String) -> String? {
        if let m = message.firstMatch(of: #/dial tcp [^\s]*:(\d+):/#) { return String(m.1) }
        if let m = message.firstMatch(of: #/https?://[^/:"\s]+:(\d+)/#) { return String(m.1) }
        return nil
    }

    /// "httpGet :8080/healthz, timeout 1s, period 10s".
    static func describe(_ probe: JSONValue) -> String {
        var parts: [String] = []
        if let h = probe["httpGet"] { parts.append("httpGet :\(h["port"]?.text ?? "?")\(h["path"]?.text ?? "/")") }
        if let t = probe["tcpSocket"] { parts.append("tcpSocket :\(t["port"]?.text ?? "?")") }
        if let g = probe["grpc"] { parts.append("grpc :\(g["port"]?.text ?? "?")") }
        if let e = probe.at("exec", "command")?.arrayValue { parts.append("exec \(Evidence.clip(e.compactMap(\.text).joined(separator: " "), 120))") }
        parts.append("timeout \(probe["timeoutSeconds"]?.text ?? "1")s")
        parts.append("period \(probe["periodSeconds"]?.text ?? "10")s")
        if let d = probe["initialDelaySeconds"]?.text { parts.append("initial delay \(d)s") }
        return parts.joined(separator: ", ")
    }
}
