#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// `image_pull`: why the kubelet cannot pull an image, from the container's waiting
/// message and the pod's `Failed` events (`ImagePullBackOff` alone says only that it
/// is waiting to try again; the first failure's words are in the events).
struct ImagePullRule: DiagnosisRule {
    let name = "image_pull"

    /// The causes, checked in order against the pull error; the registry's own words.
    enum Kind: CaseIterable {
        case rateLimited, unauthorized, notFound, architecture, dns, tls, unknown

        static func of(_ text: String) -> Kind {
            let t = text.lowercased()
            if t.contains("toomanyrequests") || t.contains("429 too many requests") || t.contains("pull rate limit") { return .rateLimited }
            if t.contains("no matching manifest for") || t.contains("no match for platform") { return .architecture }
            if t.contains("manifest unknown") || t.contains("not found: manifest") || t.contains(": not found") && t.contains("failed to resolve reference") {
                return .notFound
            }
            // Words, not bare status numbers: "401" also occurs in digests and ports.
            if t.contains("unauthorized") || t.contains("authentication required") || t.contains("403 forbidden")
                || t.contains("access to the resource is denied") || t.contains("pull access denied") { return .unauthorized }
            if t.contains("repository does not exist") || t.contains("not found") { return .notFound }
            if t.contains("no such host") || t.contains("server misbehaving") || t.contains("temporary failure in name resolution") { return .dns }
            if t.contains("x509:") || t.contains("tls:") || t.contains("certificate") { return .tls }
            return .unknown
        }
    }

    func diagnose(_ facts: DiagnosisFacts) -> Diagnosis? {
        let waiting = facts.waiting
        let pullEvents = facts.eventMessages(["Failed"]).filter { $0.hasPrefix("Failed to pull image") }
        let isPull = ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"].contains(waiting?.reason ?? "")
            || ["ImagePullBackOff", "ErrImagePull"].contains(facts.issue.aggregationKey)
        guard isPull || !pullEvents.isEmpty else { return nil }
        let container = facts.containerName ?? "the container"
        let image = facts.containerSpec?["image"]?.text ?? facts.containerStatus?["image"]?.text ?? "its image"
        // The most informative words: a pull error, not "Back-off pulling image".
        let errors = ([waiting?.message ?? ""] + pullEvents + facts.texts).filter { !$0.isEmpty && !$0.hasPrefix("Back-off") }
        let error = errors.first { Kind.of($0) != .unknown } ?? errors.first ?? waiting?.message ?? ""
        var evidence = ["\(facts.podReference) container \(container): waiting with \(waiting?.reason ?? "ImagePullBackOff") for image \(image)"]
        if !error.isEmpty { evidence.append("pull error: \(Evidence.clip(error, 300))") }
        let registry = Self.registry(of: image)
        let namespace = facts.pod.flatMap(PodLookup.namespace) ?? facts.issue.subject.namespace ?? "its namespace"

        if waiting?.reason == "InvalidImageName" {
            return Diagnosis(rule: name, cause: "\(container)'s image reference \(image) is not a valid image name", evidence: evidence,
                             nextStep: "Fix the image in the pod spec: registry/repository:tag or @sha256:digest, lower-case.")
        }
        switch Kind.of(error) {
        case .rateLimited:
            return Diagnosis(rule: name, cause: "\(registry) rate-limits the node's pulls of \(image) (toomanyrequests)", evidence: evidence,
                             nextStep: "Pull with an authenticated account (an imagePullSecret: Docker Hub's anonymous limit is per IP), or mirror the image to a registry of your own.")
        case .unauthorized:
            let secrets = (facts.pod?.at("spec", "imagePullSecrets")?.arrayValue ?? []).compactMap { $0["name"]?.text }
            evidence.append(secrets.isEmpty ? "the pod has no imagePullSecrets (its ServiceAccount may add some)"
                                            : "imagePullSecrets in \(namespace): \(secrets.joined(separator: ", "))")
            return Diagnosis(rule: name,
                             cause: secrets.isEmpty ? "\(registry) refuses the anonymous pull of \(image): the pod has no pull secret"
                                                    : "\(registry) refuses the pull of \(image) with the pod's pull secret \(secrets.joined(separator: ", ")) in \(namespace)",
                             evidence: evidence,
                             nextStep: secrets.isEmpty ? "Create a docker-registry Secret in \(namespace) and list it in imagePullSecrets (or on the ServiceAccount); if the image should be public, check its name."
                                                       : "Check that Secret \(secrets[0]) in \(namespace) holds current credentials for \(registry) (kubectl get secret \(secrets[0]) -n \(namespace) -o jsonpath='{.data.\\.dockerconfigjson}' | base64 -d), and that the image name is right.")
        case .notFound:
            return Diagnosis(rule: name, cause: "\(image) does not exist in \(registry): a wrong repository or tag", evidence: evidence,
                             nextStep: "Check the tag exists (crane ls, or the registry's UI); a tag pushed by CI under another name is the usual cause.")
        case .architecture:
            return Diagnosis(rule: name, cause: "\(image) has no variant for the node's architecture", evidence: evidence + facts.nodeArchitecture,
                             nextStep: "Publish a multi-arch image (docker buildx --platform), or add a nodeSelector for kubernetes.io/arch matching the image.")
        case .dns:
            return Diagnosis(rule: name, cause: "the node cannot resolve the registry \(registry) (DNS)", evidence: evidence,
                             nextStep: "Check the registry's host name in the image reference; if it is right, the node's DNS (not the cluster's) cannot resolve it.")
        case .tls:
            return Diagnosis(rule: name, cause: "the node does not trust \(registry)'s TLS certificate", evidence: evidence,
                             nextStep: "If the host name is right, install the registry's CA on the nodes (containerd's hosts.toml), or use a registry with a publicly trusted certificate; a certificate for other names usually means a wrong host.")
        case .unknown:
            return Diagnosis(rule: name, cause: "the node cannot pull \(image)", evidence: evidence,
                             nextStep: "Run `crictl pull \(image)` on the node, or read the pod's events (kubectl describe pod) for the first pull error.")
        }
    }

    /// "docker.io" for "nginx", "gcr.io" for "gcr.io/x/y:1".
    static func registry(of image: String) -> String {
        let first = image.split(separator: "/").first.map(String.init) ?? image
        let hasRegistry = image.contains("/") && (first.contains(".") || first.contains(":") || first == "localhost")
        return hasRegistry ? first : "docker.io"
    }
}
