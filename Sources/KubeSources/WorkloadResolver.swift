import KubeClient
import Synchronization

/// Finds the workload behind an event's involved object with metadata-only GETs
/// (ReplicaSet -> Deployment, Job -> CronJob, Pod -> its controller), cached and bounded.
/// Blocking: called on reflector threads.
final class WorkloadResolver: Sendable {
    let client: KubeClient?
    private let cache = Mutex<[String: Workload]>([:])
    private let maxEntries = 4096

    init(client: KubeClient?) { self.client = client }

    func resolve(kind: String, namespace: String, name: String) -> Workload {
        let plain = Workload(kind: kind, name: name)
        let resource: KubeResource
        switch kind {
        case "ReplicaSet": resource = .replicaSets
        case "Job": resource = .jobs
        case "Pod": resource = .pods
        default: return plain
        }
        let key = "\(kind)/\(namespace)/\(name)"
        if let hit = cache.withLock({ $0[key] }) { return hit }
        var workload = plain
        guard let client else { return plain }
        let meta: PartialObjectMetadata
        do {
            meta = try client.get(PartialObjectMetadata.self, path: resource.path(namespace: namespace, name: name),
                                  accept: KubeClient.acceptMetadata, retrying: false)
        } catch {
            // Gone or forbidden: the object itself is the best we know, and asking again for
            // every event about it would only repeat the failure. Transient failures are
            // not remembered.
            if error.code == .notFound || error.code == .forbidden { remember(key, plain) }
            return plain
        }
        if let owner = meta.metadata.controllerLite {
            if kind == "Pod" {
                workload = Workload.of(podName: name, labels: meta.metadata.labels, owner: owner)
                if workload.kind == "ReplicaSet" || workload.kind == "Job" {
                    workload = resolve(kind: workload.kind, namespace: namespace, name: workload.name)
                }
            } else if (kind == "ReplicaSet" && owner.kind == "Deployment") || (kind == "Job" && owner.kind == "CronJob") {
                workload = Workload(kind: owner.kind, name: owner.name)
            }
        }
        remember(key, workload)
        return workload
    }

    private func remember(_ key: String, _ workload: Workload) {
        cache.withLock { c in
            if c.count >= maxEntries { c.removeAll(keepingCapacity: true) }
            c[key] = workload
        }
    }
}
