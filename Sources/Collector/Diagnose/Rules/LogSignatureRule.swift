#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// `log_signature`: a well-known crash signature in the tail of the container's log (the
/// `pod_logs` enricher's text, previous container first): a Go panic, a Java
/// OutOfMemoryError, a Python traceback's last line, Node's heap out of memory, a port
/// already in use, a permission denied on a path.
struct LogSignatureRule: DiagnosisRule {
    let name = "log_signature"

    /// One signature: the first line it matches, and what that line means.
    struct Signature: Sendable {
        var matches: @Sendable (String) -> Bool
        var cause: @Sendable (_ container: String, _ line: String, _ lines: [Substring], _ index: Int) -> String
        var nextStep: String
    }

    static let signatures: [Signature] = [
        Signature(matches: { $0.contains("java.lang.OutOfMemoryError") },
                  cause: { c, line, _, _ in "\(c) ran out of JVM memory: \(Evidence.clip(String(line[line.range(of: "java.lang.OutOfMemoryError")!.lowerBound...]), 120))" },
                  nextStep: "A heap dump (-XX:+HeapDumpOnOutOfMemoryError) shows what fills the heap; raise -Xmx (and the memory limit with it) only if the live set is legitimately larger."),
        Signature(matches: { $0.contains("JavaScript heap out of memory") },
                  cause: { c, _, _, _ in "\(c)'s Node.js process ran out of heap (JavaScript heap out of memory)" },
                  nextStep: "Raise --max-old-space-size to about 75% of the memory limit, or find what grows (node --heap-prof)."),
        Signature(matches: { $0.hasPrefix("fatal error: runtime: out of memory") },
                  cause: { c, _, _, _ in "\(c)'s Go runtime could not get more memory (fatal error: runtime: out of memory)" },
                  nextStep: "Set GOMEMLIMIT below the container's memory limit and look for what grows (pprof heap profile)."),
        Signature(matches: { $0.hasPrefix("panic: ") },
                  cause: { c, line, lines, i in
                      let frame = lines[(i + 1)...].prefix(12).first { $0.hasPrefix("goroutine ") }.flatMap { _ in
                          lines[(i + 1)...].prefix(12).first { !$0.hasPrefix("goroutine ") && !$0.hasPrefix("\t") && !$0.isEmpty && $0.contains("(") }
                      }
                      return "\(c) panicked (Go): \(Evidence.clip(String(line.dropFirst("panic: ".count)), 160))" + (frame.map { " in \($0.split(separator: "(").first ?? $0)" } ?? "")
                  },
                  nextStep: "The goroutine's stack trace in the log names the line; fix the nil or out-of-range access there."),
        Signature(matches: { $0.hasPrefix("Traceback (most recent call last):") },
                  cause: { c, _, lines, i in
                      let last = lines[(i + 1)...].first { !$0.hasPrefix(" ") && !$0.hasPrefix("\t") && !$0.isEmpty }
                      return "\(c) stopped on a Python exception: \(Evidence.clip(String(last ?? "(the traceback is cut off)"), 160))"
                  },
                  nextStep: "The traceback's last frame names the file and line; a ModuleNotFoundError or ImportError means the image lacks a dependency."),
        Signature(matches: { $0.lowercased().contains("address already in use") },
                  cause: { c, line, _, _ in "\(c) cannot listen: the port is already in use (\(Evidence.clip(line, 120)))" },
                  nextStep: "Another process in the pod (a sidecar, or a second server in the same container) or, with hostNetwork, on the node holds the port; give each its own port."),
        Signature(matches: { $0.contains("ermission denied") && $0.contains("/") },
                  cause: { c, line, _, _ in
                      let path = line.firstMatch(of: #/(/[^\s:'"]+)/#).map { String($0.1) } ?? "a path"
                      return "\(c) may not access \(path): permission denied"
                  },
                  nextStep: "The container runs as a user who cannot use that path: set securityContext.fsGroup (or runAsUser) to match the volume's owner, or fix the path's ownership in the image."),
    ]

    func diagnose(_ facts: DiagnosisFacts) -> Diagnosis? {
        guard let logs = facts.logs else { return nil }
        // The tail decides: the last signature wins over an older one further up.
        let lines = logs.split(separator: "\n", omittingEmptySubsequences: false).suffix(400).map { $0.trimmingTrailingCR }
        let container = facts.containerName ?? "the container"
        for (index, line) in lines.enumerated().reversed() {
            let text = String(line).trimmingCharacters(in: .whitespaces)
            guard let signature = Self.signatures.first(where: { $0.matches(text) }) else { continue }
            var evidence = ["log line \(lines.count - index) from the end: \(Evidence.clip(text, 200))"]
            if let t = facts.termination, let code = t["exitCode"]?.text {
                evidence.append("\(facts.podReference) container \(container): last exit code \(code), reason \(t["reason"]?.text ?? "unknown")")
            }
            return Diagnosis(rule: name, cause: signature.cause(container, text, lines, index), evidence: evidence, nextStep: signature.nextStep)
        }
        return nil
    }
}

private extension Substring {
    var trimmingTrailingCR: Substring { last == "\r" ? dropLast() : self }
}
