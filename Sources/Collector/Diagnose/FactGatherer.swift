#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Logging
import PrometheusAPI

/// Reads what the rules need from the cluster: the Issue's pod, the events of the Issue's
/// object and of that pod, the pod's node, and for Helm Issues the newest release. Each
/// read that fails (no access, 404, 403) is skipped: a diagnosis with less evidence is
/// better than none; a Prometheus that fails is a warning and
/// `cano_diagnosis_prometheus_errors_total`, since nothing else would show it. Blocking;
/// the stage runs it on a thread of its own.
struct FactGatherer: Sendable {
    let api: KubeAPI
    /// Where an OOM kill's memory history comes from (`prometheus:`); nil: nowhere.
    let prometheus: PrometheusClient?
    let metrics: Metrics
    let logger: Logger

    /// Whether there is anything to read for `issue`.
    func canRead(_ issue: Issue) -> Bool {
        guard let target = KubeTarget.of(issue) else { return false }
        return api.reader != nil || (prometheus != nil && target.kind == "Pod")
    }

    /// The facts for `issue`. The Prometheus queries get the time left before
    /// `prometheusDeadline`, a little before the stage's (diagnosis.timeout), so a slow
    /// Prometheus costs the memory history, never the cluster facts read before it: the
    /// stage drops everything gathered after its deadline.
    func gather(_ issue: Issue, prometheusDeadline: ContinuousClock.Instant) -> DiagnosisFacts {
        var facts = readCluster(issue)
        guard let prometheus, facts.isOOMKill, let target = KubeTarget.of(issue), target.kind == "Pod" || facts.pod != nil else { return facts }
        let pod = facts.pod.map(PodLookup.name) ?? target.name
        let namespace = facts.pod.flatMap(PodLookup.namespace) ?? target.namespace ?? ""
        /// Runs `query` with the time left, or returns nil: a warning and the error counter
        /// when Prometheus answered nothing usable; only a debug line when the cluster reads
        /// took the whole time (the stage counts that as its timeout).
        func ask(_ what: String, _ query: () throws(PrometheusError) -> [Series]) -> [Series]? {
            guard prometheusDeadline - .now >= .milliseconds(10) else {
                logger.debug("diagnosis: no time left within diagnosis.timeout for Prometheus", metadata: ["fingerprint": .string(issue.fingerprint)])
                return nil
            }
            do throws(PrometheusError) { return try query() } catch {
                metrics.increment("cano_diagnosis_prometheus_errors_total")
                logger.warning("diagnosis: Prometheus gave no \(what); diagnosing without it", metadata: [
                    "fingerprint": .string(issue.fingerprint), "reason": .string(error.message)])
                return nil
            }
        }
        let memory = ContainerQueries.memoryWorkingSet(namespace: namespace, pod: pod, container: facts.containerName)
        guard let series = ask("memory history", { () throws(PrometheusError) in
            let series = try prometheus.queryRange(memory, end: Date(), step: .seconds(15), timeout: prometheusDeadline - .now).filter { !$0.points.isEmpty }
            if series.isEmpty { throw PrometheusError("no samples of container_memory_working_set_bytes for \(namespace)/\(pod)") }
            return series
        }) else { return facts }
        facts.memory = (series.first { $0.labels["container"] == facts.containerName } ?? series.first)?.points
        if facts.containerSpec == nil {
            let limit = ContainerQueries.resource("limits", "memory", namespace: namespace, pod: pod, container: facts.containerName)
            facts.memoryLimit = ask("memory limit", { () throws(PrometheusError) in
                try prometheus.queryRange(limit, end: Date(), step: .seconds(60), timeout: prometheusDeadline - .now)
            })?.first?.points.last?.value
        }
        return facts
    }

    private func readCluster(_ issue: Issue) -> DiagnosisFacts {
        guard api.reader != nil, let target = KubeTarget.of(issue) else { return DiagnosisFacts(issue: issue) }
        if issue.source == .helm {
            return DiagnosisFacts(issue: issue, helmRelease: helmRelease(issue))
        }
        let pod = (try? PodLookup.pods(for: target, api: api))?.first
        var involved = [(target.kind, target.name)]
        if let pod, target.kind != "Pod" { involved.append(("Pod", PodLookup.name(pod))) }
        let namespace = target.namespace ?? pod.flatMap(PodLookup.namespace)
        var events: [JSONValue] = []
        for (kind, name) in involved {
            events += (try? api.items(kind: "Event", namespace: kind == "Node" ? nil : namespace,
                                      query: [("fieldSelector", "involvedObject.kind=\(kind),involvedObject.name=\(name)")],
                                      what: "events of \(kind) \(name)")) ?? []
        }
        let nodeName = pod?.at("spec", "nodeName")?.text ?? target.node
        let node = nodeName.flatMap { try? api.object(kind: "Node", name: $0, namespace: nil) }
        return DiagnosisFacts(issue: issue, pod: pod, events: events, node: node)
    }

    /// The release's newest revision, decoded (see ``HelmReleaseEnricher``).
    private func helmRelease(_ issue: Issue) -> JSONValue? {
        guard let namespace = issue.subject.namespace,
              let release = issue.subject.labels["name"] ?? issue.subject.labels["release"] ?? HelmReleaseEnricher.releaseName(issue.subject),
              let secrets = try? api.items(kind: "Secret", namespace: namespace, query: [("labelSelector", "owner=helm,name=\(release)")],
                                           what: "Helm release \(namespace)/\(release)"),
              let newest = secrets.max(by: { HelmReleaseEnricher.revision($0) < HelmReleaseEnricher.revision($1) })
        else { return nil }
        return try? HelmReleaseEnricher.decodeRelease(newest)
    }
}
