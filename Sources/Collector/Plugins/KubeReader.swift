/// Read-only access to the Kubernetes API, offered to enricher plugins through the host
/// services table (`kube_get`). Implemented by the Kubernetes client when one is configured.
public protocol KubeReader: Sendable {
    /// GETs an API path ("/api/v1/namespaces/x/pods/y/log?tailLines=50"). Returns the
    /// status and body, or nil when the path is not allowed or the API is unreachable.
    func get(path: String) -> (status: Int, body: [UInt8])?
}
