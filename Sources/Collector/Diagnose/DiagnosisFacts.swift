#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import PrometheusAPI

/// What the rules read: the Issue (with its enrichments), and, when the collector can
/// read the cluster, the objects it is about. Every field is optional evidence; a rule
/// that lacks what it needs answers nothing, and the next rule gets its turn.
///
/// Kubernetes objects stay JSON (as the API serves them, as the fixtures hold them), so a
/// rule reads exactly the field the API reference names.
public struct DiagnosisFacts: Sendable {
    /// The Issue, enriched.
    public var issue: Issue
    /// The pod the Issue is about (for a Job: its newest pod).
    public var pod: JSONValue?
    /// Events of the Issue's object, its pod and their controllers, newest first.
    public var events: [JSONValue]
    /// The pod's node.
    public var node: JSONValue?
    /// The newest revision of the Helm release the Issue is about, decoded.
    public var helmRelease: JSONValue?
    /// The container's memory working set over `prometheus.lookback`, when Prometheus is
    /// configured and the Issue is an OOM kill.
    public var memory: [Series.Sample]?
    /// The container's memory limit in bytes as kube-state-metrics reports it, for when
    /// the pod itself could not be read.
    public var memoryLimit: Double?

    /// Facts about `issue`; the objects default to unknown.
    public init(issue: Issue, pod: JSONValue? = nil, events: [JSONValue] = [], node: JSONValue? = nil, helmRelease: JSONValue? = nil,
                memory: [Series.Sample]? = nil) {
        self.issue = issue
        self.memory = memory
        self.pod = pod
        self.events = events.sorted { EventsEnricher.time($0) > EventsEnricher.time($1) }
        self.node = node
        self.helmRelease = helmRelease
    }

    /// The container the Issue is about: the subject's, else the one that died last.
    var containerName: String? {
        if let c = issue.subject.container, !c.isEmpty { return c }
        return pod.flatMap { PodLookup.container(in: $0, requested: nil) }
    }

    /// That container's status (`status.containerStatuses[]` or the init containers').
    var containerStatus: JSONValue? {
        guard let pod, let name = containerName else { return nil }
        return PodLookup.statuses(pod).first { $0.status["name"]?.text == name }?.status
    }

    /// That container's spec (`spec.containers[]` or `spec.initContainers[]`).
    var containerSpec: JSONValue? {
        guard let pod, let name = containerName else { return nil }
        let all = (pod.at("spec", "initContainers")?.arrayValue ?? []) + (pod.at("spec", "containers")?.arrayValue ?? [])
        return all.first { $0["name"]?.text == name }
    }

    /// The container's latest termination: the current state when it is terminated, else
    /// the last one (a crash-looping container waits, with the crash in `lastState`).
    var termination: JSONValue? {
        containerStatus?.at("state", "terminated") ?? containerStatus?.at("lastState", "terminated")
    }

    /// Whether the Issue is an OOM kill: the container's termination says so, or the
    /// detector's reason or the alert's name does.
    var isOOMKill: Bool {
        termination?["reason"]?.text == "OOMKilled" || ["OOMKilled", "KubeContainerOOMKilled"].contains(issue.aggregationKey)
    }

    /// The container's waiting reason and message.
    var waiting: (reason: String, message: String)? {
        guard let w = containerStatus?.at("state", "waiting"), let reason = w["reason"]?.text else { return nil }
        return (reason, w["message"]?.text ?? "")
    }

    /// The messages of events with one of `reasons`, newest first.
    func eventMessages(_ reasons: Set<String>) -> [String] {
        events.filter { reasons.contains($0["reason"]?.text ?? "") }.compactMap { $0["message"]?.text ?? $0["note"]?.text }
    }

    /// The logs the `pod_logs` enricher read (each file block's text, previous container
    /// first as the enricher orders them); nil when none were read.
    var logs: String? {
        let texts = issue.enrichments.filter { $0.type == "pod_logs" }.flatMap(\.blocks).compactMap { block -> String? in
            guard case .file(let file) = block, let bytes = file.bytes else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }
        return texts.isEmpty ? nil : texts.joined(separator: "\n")
    }

    /// Where the Issue says what happened, for rules that read messages: the description,
    /// then each annotation that says something else, one line each (a rule quotes the
    /// line it matched, not the whole alert).
    var texts: [String] {
        var out: [String] = []
        for text in [issue.description ?? ""] + issue.subject.annotations.sorted(by: { $0.key < $1.key }).map(\.value) {
            // Trimmed by hand: Foundation's trimmingCharacters bridges through NSString, and
            // several rules read these lines for every alert (it was 4% of ingest's CPU).
            for piece in text.split(separator: "\n") {
                let scalars = piece.unicodeScalars
                guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
                      let end = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { continue }
                let line = String(scalars[start...end])
                if !out.contains(line) { out.append(line) }
            }
        }
        return out
    }

    /// "node N is arm64", when the node was read: for wrong-architecture causes.
    var nodeArchitecture: [String] {
        guard let arch = node?.at("status", "nodeInfo", "architecture")?.text else { return [] }
        return ["node \(node?.at("metadata", "name")?.text ?? "?") is \(arch)"]
    }

    /// "Pod ns/name" for evidence lines.
    var podReference: String {
        guard let pod else { return KubeTarget.of(issue)?.reference ?? "the subject" }
        return "Pod \(PodLookup.namespace(pod).map { "\($0)/" } ?? "")\(PodLookup.name(pod))"
    }
}
