import CanoSDK

/// The workflows that run with no user configuration, so an OOMKilled pod arrives with
/// its previous container's log, its limits, its restarts and the events around it.
///
/// Triggers match on the aggregation key: the Kubernetes detectors' reason or the
/// Prometheus alert name (the kube-prometheus-stack names). Alerts carry their pod,
/// container, job and node in labels, which `AlertMapper` turns into the Issue's subject,
/// so the same Kubernetes enrichers apply to both.
public enum DefaultWorkflows {
    /// Pod crashes: the log of the container that died, its status, limits and events.
    static let podCrash: [EnricherStep] = [
        EnricherStep("container_status"), EnricherStep("pod_logs"), EnricherStep("resources"),
        EnricherStep("events"), EnricherStep("owner_chain"),
    ]

    /// The built-in list, in order.
    public static let all: [WorkflowConfig] = [
        WorkflowConfig(name: "alert-context", trigger: WorkflowTrigger(sources: ["prometheus"]),
                       steps: [EnricherStep("alert_labels")]),
        // The collector's Silence link (with `server.external_url`) for what no Alertmanager silences.
        WorkflowConfig(name: "silence-link", trigger: WorkflowTrigger(sources: ["kubernetes", "helm"]),
                       steps: [EnricherStep("alert_labels")]),
        WorkflowConfig(name: "oom-killed", trigger: WorkflowTrigger(aggregationKey: "OOMKilled|KubeContainerOOMKilled|.*OOMKill.*"),
                       steps: podCrash + [EnricherStep("node")]),
        WorkflowConfig(name: "crash-loop", trigger: WorkflowTrigger(aggregationKey: "CrashLoopBackOff|KubePodCrashLooping"),
                       steps: podCrash),
        WorkflowConfig(name: "image-pull", trigger: WorkflowTrigger(aggregationKey: "ImagePullBackOff|ErrImagePull"),
                       steps: [EnricherStep("container_status"), EnricherStep("events"), EnricherStep("owner_chain")]),
        WorkflowConfig(name: "container-waiting", trigger: WorkflowTrigger(aggregationKey: "KubeContainerWaiting|CreateContainerConfigError"),
                       steps: [EnricherStep("container_status"), EnricherStep("events"), EnricherStep("pod_logs"), EnricherStep("owner_chain")]),
        WorkflowConfig(name: "pod-not-ready", trigger: WorkflowTrigger(aggregationKey: "KubePodNotReady|Evicted"),
                       steps: [EnricherStep("container_status"), EnricherStep("events"), EnricherStep("owner_chain"), EnricherStep("node")]),
        WorkflowConfig(name: "job-failed",
                       trigger: WorkflowTrigger(aggregationKey: "KubeJobFailed|JobFailed|BackoffLimitExceeded|DeadlineExceeded"),
                       steps: [EnricherStep("events"), EnricherStep("owner_chain"), EnricherStep("pod_logs"), EnricherStep("container_status")]),
        WorkflowConfig(name: "helm-release", trigger: WorkflowTrigger(sources: ["helm"]),
                       steps: [EnricherStep("helm_release")]),
        WorkflowConfig(name: "quota", trigger: WorkflowTrigger(aggregationKey: ".*Quota.*|.*quota.*"),
                       steps: [EnricherStep("resource_quota"), EnricherStep("events"), EnricherStep("owner_chain")]),
        WorkflowConfig(name: "node", trigger: WorkflowTrigger(matchers: [Matcher(field: "kind", op: .equal, value: "Node")]),
                       steps: [EnricherStep("node"), EnricherStep("events")]),
    ]

    /// The plugin type of the Prometheus graph plugin (`Plugins/Prometheus`).
    public static let graphPluginType = "prometheus"

    /// Graphs of memory and CPU for OOM kills, CPU throttling and crash loops, one workflow
    /// per configured instance of the graph plugin. Its queries get 3 s.
    static func graphs(_ plugins: [EnricherPluginConfig]) -> [WorkflowConfig] {
        plugins.filter { $0.type == graphPluginType }.map { plugin in
            WorkflowConfig(name: "prometheus-graphs-\(plugin.name)",
                           trigger: WorkflowTrigger(aggregationKey: "OOMKilled|KubeContainerOOMKilled|.*OOMKill.*|CPUThrottlingHigh|CrashLoopBackOff|KubePodCrashLooping"),
                           steps: [EnricherStep(plugin.name, timeout: .seconds(3))])
        }
    }
}
