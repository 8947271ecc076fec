#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// `exit_code`: what the last exit code of a crashed container means. 126 and 127 come
/// from the runtime (not executable, not found), 128+n is death by signal n. A SIGKILL
/// (137) that is not an OOM kill is told from a node shutdown, and a SIGTERM (143) sent
/// by Kubernetes (a rollout, a scale-down) from one nobody asked for.
struct ExitCodeRule: DiagnosisRule {
    let name = "exit_code"

    /// Linux signal numbers (x86-64 and arm64 agree on these).
    static let signals: [Int: (name: String, meaning: String)] = [
        1: ("SIGHUP", "hang-up"), 2: ("SIGINT", "interrupt"), 3: ("SIGQUIT", "quit, with a core dump"),
        4: ("SIGILL", "an illegal CPU instruction: a binary built for a newer CPU"),
        6: ("SIGABRT", "an abort: a failed assertion or abort() in the program or its C library"),
        7: ("SIGBUS", "a bus error: a memory-mapped file was truncated or is on a failing volume"),
        8: ("SIGFPE", "an arithmetic error: a division by zero"), 9: ("SIGKILL", "a kill that cannot be caught"),
        11: ("SIGSEGV", "a segmentation fault: the program read or wrote memory it does not own"),
        13: ("SIGPIPE", "a write to a closed pipe or socket"), 14: ("SIGALRM", "an alarm"), 15: ("SIGTERM", "a request to stop"),
    ]

    func diagnose(_ facts: DiagnosisFacts) -> Diagnosis? {
        guard let t = facts.termination, let code = t["exitCode"]?.numberValue.map({ Int($0) }) else { return nil }
        let container = facts.containerName ?? "the container"
        let reason = t["reason"]?.text ?? "unknown"
        let message = t["message"]?.text ?? ""
        let restarts = facts.containerStatus?["restartCount"]?.text
        var evidence = ["\(facts.podReference) container \(container): last exit code \(code), reason \(reason)"
            + (restarts.map { ", \($0) restarts" } ?? "")]
        if !message.isEmpty { evidence.append("termination message: \(Evidence.clip(message))") }
        let argv = Self.commandLine(facts.containerSpec)
        if let argv { evidence.append("command: \(argv)") }

        if message.contains("exec format error") {
            return Diagnosis(rule: name, cause: "\(container)'s image is built for another CPU architecture (exec format error)",
                             evidence: evidence + facts.nodeArchitecture,
                             nextStep: "Publish the image for the node's architecture (a multi-arch manifest: docker buildx --platform linux/amd64,linux/arm64), or schedule the pod on nodes of the image's architecture.")
        }
        switch code {
        case 0:
            return Diagnosis(rule: name, cause: "\(container) exits successfully (code 0) and is restarted: its main process finishes instead of running",
                             evidence: evidence,
                             nextStep: "For a one-off task, use a Job; for a server, make the command run in the foreground (no daemon mode, no trailing `&`).")
        case 127:
            let missing = Self.missingCommand(message) ?? Self.missingCommand(facts.logs ?? "")
            return Diagnosis(rule: name, cause: missing.map { "the command `\($0)` does not exist in \(container)'s image (exit code 127)" }
                                 ?? "\(container)'s command was not found (exit code 127)",
                             evidence: evidence,
                             nextStep: "Fix the command or args in the pod spec (a typo, or a tool the image does not ship), or use an image that has it.")
        case 126:
            return Diagnosis(rule: name, cause: "\(container)'s command exists but cannot be executed (exit code 126): it is not executable or not a program",
                             evidence: evidence,
                             nextStep: "Check the file's execute bit and its first line (#!), and that the security context's user may run it.")
        case 2:
            return Diagnosis(rule: name, cause: "\(container) exited with code 2: usually invalid command-line arguments or a shell syntax error",
                             evidence: evidence + lastLogLine(facts),
                             nextStep: "Compare the command and args with the program's usage; the previous container's log names the bad argument.")
        case 137:
            if shutDownWithNode(facts) {
                return Diagnosis(rule: name, cause: "\(container) was killed (SIGKILL, exit code 137) when its node shut down; the program did not crash",
                                 evidence: evidence + shutdownEvidence(facts),
                                 nextStep: "Nothing to fix in the application. If this repeats, look at why the node restarts (spot or preemptible reclaim, upgrades) and use a PodDisruptionBudget.")
            }
            let grace = facts.pod?.at("spec", "terminationGracePeriodSeconds")?.text ?? "30"
            return Diagnosis(rule: name, cause: "\(container) was killed with SIGKILL (exit code 137), not by the OOM killer (reason \(reason))",
                             evidence: evidence + stopEvents(facts),
                             nextStep: "When Kubernetes stopped it, the program ignored SIGTERM for the \(grace)s grace period: handle SIGTERM, or raise terminationGracePeriodSeconds. Otherwise, something in the container or on the node killed it.")
        case 143:
            let stopped = stopEvents(facts)
            if facts.pod?.at("metadata", "deletionTimestamp") != nil || !stopped.isEmpty {
                return Diagnosis(rule: name, cause: "\(container) was stopped by Kubernetes (SIGTERM, exit code 143): a rollout, a scale-down or an eviction, not a crash",
                                 evidence: evidence + stopped + (facts.pod?.at("metadata", "deletionTimestamp")?.text.map { ["the pod is being deleted since \($0)"] } ?? []),
                                 nextStep: "Nothing to fix if a rollout was under way. If the program should have exited 0 on SIGTERM, handle the signal and exit cleanly.")
            }
            return Diagnosis(rule: name, cause: "\(container) exited on SIGTERM (exit code 143) that Kubernetes did not send: the program or a process in it stopped itself",
                             evidence: evidence + lastLogLine(facts),
                             nextStep: "Look for what sends the signal: a supervisor in the container, a health script, or the program exiting with 143 by itself.")
        case 129...159:
            let n = code - 128
            let signal = Self.signals[n].map { "\($0.name), \($0.meaning)" } ?? "signal \(n)"
            return Diagnosis(rule: name, cause: "\(container) died of signal \(n) (exit code \(code): \(signal))",
                             evidence: evidence + lastLogLine(facts),
                             nextStep: n == 11 || n == 6
                                ? "Read the previous container's log for the stack trace; a native library or an incompatible image build is the usual suspect."
                                : "Read the previous container's log (kubectl logs --previous) for what happened just before the signal.")
        default:
            return Diagnosis(rule: name, cause: "\(container) exited with code \(code): the application stopped on an error of its own",
                             evidence: evidence + lastLogLine(facts),
                             nextStep: "Read the previous container's log (kubectl logs --previous); the last lines before the exit say why.")
        }
    }

    /// "wge" from `exec: "wge": executable file not found in $PATH`, or from a shell's
    /// "sh: wge: not found" / "bash: wge: command not found".
    static func missingCommand(_ text: String) -> String? {
        if let m = text.firstMatch(of: #/exec: "([^"]+)": (?:executable file not found|stat [^:]*: no such file)/#) { return String(m.1) }
        if let m = text.firstMatch(of: #/(?m)^(?:/bin/)?(?:ba|da)?sh: (?:line \d+: )?(?:\d+: )?([^:\s]+): (?:command )?not found/#) { return String(m.1) }
        return nil
    }

    static func commandLine(_ spec: JSONValue?) -> String? {
        let argv = ((spec?["command"]?.arrayValue ?? []) + (spec?["args"]?.arrayValue ?? [])).compactMap(\.text)
        return argv.isEmpty ? nil : Evidence.clip(argv.joined(separator: " "))
    }

    /// The last non-empty log line, as evidence.
    private func lastLogLine(_ facts: DiagnosisFacts) -> [String] {
        guard let line = facts.logs?.split(separator: "\n").last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else { return [] }
        return ["last log line: \(Evidence.clip(String(line)))"]
    }

    /// Kubernetes stopping the container: "Killing" events that are not probe failures.
    private func stopEvents(_ facts: DiagnosisFacts) -> [String] {
        facts.eventMessages(["Killing"]).filter { !$0.contains("probe") }.prefix(2).map { "event Killing: \(Evidence.clip($0))" }
    }

    private func shutDownWithNode(_ facts: DiagnosisFacts) -> Bool {
        let podReason = facts.pod?.at("status", "reason")?.text ?? ""
        return ["Terminated", "Shutdown", "NodeShutdown"].contains(podReason)
            || !facts.eventMessages(["NodeShutdown", "Shutdown", "Rebooted", "NodeNotReady"]).isEmpty
    }

    private func shutdownEvidence(_ facts: DiagnosisFacts) -> [String] {
        var out: [String] = []
        if let r = facts.pod?.at("status", "reason")?.text { out.append("pod status reason \(r): \(facts.pod?.at("status", "message")?.text ?? "")") }
        out += facts.events.filter { ["NodeShutdown", "Shutdown", "Rebooted", "NodeNotReady"].contains($0["reason"]?.text ?? "") }.prefix(2)
            .map { "event \($0["reason"]?.text ?? ""): \(Evidence.clip($0["message"]?.text ?? ""))" }
        return out
    }

}
