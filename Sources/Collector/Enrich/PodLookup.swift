import CanoSDK

/// Finds the pods an Issue is about: the Pod itself, or for a Job the pods it created
/// (the most recent first). Other kinds have no single pod to look at.
enum PodLookup {
    static func pods(for target: KubeTarget, api: KubeAPI, limit: Int = 1) throws(EnricherFailure) -> [JSONValue] {
        switch target.kind {
        case "Pod":
            return [try api.object(kind: "Pod", name: target.name, namespace: target.namespace)]
        case "Job":
            let pods = try api.items(kind: "Pod", namespace: target.namespace, query: [("labelSelector", "job-name=\(target.name)")],
                                     what: "pods of Job \(target.namespace.map { "\($0)/" } ?? "")\(target.name)")
            return Array(pods.sorted { ($0.at("metadata", "creationTimestamp")?.text ?? "") > ($1.at("metadata", "creationTimestamp")?.text ?? "") }.prefix(limit))
        default:
            return []
        }
    }

    /// The container statuses of a pod, init containers first, each with its kind.
    static func statuses(_ pod: JSONValue) -> [(status: JSONValue, isInit: Bool)] {
        (pod.at("status", "initContainerStatuses")?.arrayValue ?? []).map { ($0, true) }
            + (pod.at("status", "containerStatuses")?.arrayValue ?? []).map { ($0, false) }
    }

    /// The container to look at: the one asked for, else the subject's, else the one that
    /// died most recently, else the first.
    static func container(in pod: JSONValue, requested: String?) -> String? {
        if let requested, !requested.isEmpty { return requested }
        let statuses = pod.at("status", "containerStatuses")?.arrayValue ?? []
        let died = statuses.filter { $0.at("lastState", "terminated") != nil || $0.at("state", "terminated") != nil }
            .max { finished($0) < finished($1) }
        if let name = died?["name"]?.stringValue { return name }
        if let name = statuses.max(by: { ($0["restartCount"]?.numberValue ?? 0) < ($1["restartCount"]?.numberValue ?? 0) })?["name"]?.stringValue,
           (statuses.first { $0["name"]?.stringValue == name }?["restartCount"]?.numberValue ?? 0) > 0 {
            return name
        }
        return pod.at("spec", "containers")?.arrayValue?.first?["name"]?.stringValue
    }

    private static func finished(_ status: JSONValue) -> String {
        status.at("lastState", "terminated", "finishedAt")?.text ?? status.at("state", "terminated", "finishedAt")?.text ?? ""
    }

    static func name(_ object: JSONValue) -> String { object.at("metadata", "name")?.text ?? "?" }
    static func namespace(_ object: JSONValue) -> String? { object.at("metadata", "namespace")?.text }
}
