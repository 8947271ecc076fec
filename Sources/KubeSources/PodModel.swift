import KubeClient

/// The pod fields the pod detector reads; the decoder skips everything else.
struct PodModel: KubeObject {
    var metadata: ObjectMeta
    var spec: Spec?
    var status: Status?

    struct Spec: Decodable, Sendable {
        var nodeName: String?
    }
    struct Status: Decodable, Sendable {
        var phase: String?
        var reason: String?
        var message: String?
        var containerStatuses: [ContainerStatus]?
        var initContainerStatuses: [ContainerStatus]?
    }
    struct ContainerStatus: Decodable, Sendable {
        var name: String
        var ready: Bool?
        var restartCount: Int?
        var state: ContainerState?
        var lastState: ContainerState?
    }
    struct ContainerState: Decodable, Sendable {
        var waiting: Waiting?
        var running: Running?
        var terminated: Terminated?
    }
    struct Waiting: Decodable, Sendable {
        var reason: String?
        var message: String?
    }
    struct Running: Decodable, Sendable {
        var startedAt: String?
    }
    struct Terminated: Decodable, Sendable {
        var exitCode: Int?
        var signal: Int?
        var reason: String?
        var message: String?
        var finishedAt: String?
    }

    /// Init containers first, then app containers.
    var allContainers: [ContainerStatus] {
        (status?.initContainerStatuses ?? []) + (status?.containerStatuses ?? [])
    }
}

extension PodModel.Terminated {
    /// A kill by the kernel's OOM killer: reason OOMKilled AND exit code 137 (128+SIGKILL).
    /// Exit 143 (SIGTERM: rolling updates, scale-downs) and evictions are not OOM kills.
    var isOOMKill: Bool { reason == "OOMKilled" && exitCode == 137 }
}
