import Foundation
import CanoSDK

/// The few `metadata` fields cano-collector reads. Decoding only these keeps memory flat:
/// everything else in an object (managedFields, spec...) is skipped by the decoder.
public struct ObjectMeta: Codable, Sendable, Equatable {
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var creationTimestamp: String?
    public var labels: [String: String]?
    public var ownerReferences: [OwnerReference]?

    public init(
        name: String? = nil, namespace: String? = nil, uid: String? = nil, resourceVersion: String? = nil,
        creationTimestamp: String? = nil, labels: [String: String]? = nil, ownerReferences: [OwnerReference]? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.creationTimestamp = creationTimestamp
        self.labels = labels
        self.ownerReferences = ownerReferences
    }

    /// The controlling owner (the one with `controller: true`), else the first owner.
    public var controller: OwnerReference? {
        ownerReferences?.first { $0.controller == true } ?? ownerReferences?.first
    }
}

/// One `metadata.ownerReferences` entry.
public struct OwnerReference: Codable, Sendable, Equatable {
    public var apiVersion: String?
    public var kind: String
    public var name: String
    public var uid: String?
    public var controller: Bool?
    public init(apiVersion: String? = nil, kind: String, name: String, uid: String? = nil, controller: Bool? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
    }
}

/// A Kubernetes object model: anything with `metadata`. Detectors declare their own small
/// models conforming to this, holding just the fields they read.
public protocol KubeObject: Decodable, Sendable {
    var metadata: ObjectMeta { get }
}

/// A metadata-only object (`meta.k8s.io/v1 PartialObjectMetadata`).
public struct PartialObjectMetadata: KubeObject, Codable, Equatable {
    public var metadata: ObjectMeta
    public init(metadata: ObjectMeta) { self.metadata = metadata }
}

/// `metadata` of a list: where the snapshot stands and how to get the next page.
public struct ListMeta: Codable, Sendable, Equatable {
    public var resourceVersion: String?
    public var `continue`: String?
    public init(resourceVersion: String? = nil, continue: String? = nil) {
        self.resourceVersion = resourceVersion
        self.continue = `continue`
    }
}

/// One page of a list response.
public struct ListPage<Object: Decodable & Sendable>: Decodable, Sendable {
    public var metadata: ListMeta
    public var items: [Object]

    enum CodingKeys: String, CodingKey { case metadata, items }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        // The API server writes `"items": null` for an empty list.
        items = try c.decodeIfPresent([Object].self, forKey: .items) ?? []
    }
}


/// Parses a Kubernetes timestamp ("2024-01-02T03:04:05Z", also with fractions).
public func kubeTime(_ text: String?) -> Date? {
    guard let text, !text.isEmpty else { return nil }
    return RFC3339.parse(text)
}
