import CanoSDK

/// `resource_quota`: the namespace's ResourceQuotas, used against hard, so a quota
/// violation shows which limit is exhausted.
struct ResourceQuotaEnricher: KubeEnricher {
    let api: KubeAPI
    let name = "resource_quota"
    var displayName: String { "resource quota" }

    func enrich(_ issue: Issue, parameters: EnricherParameters, deadline: ContinuousClock.Instant) throws(EnricherFailure) -> [Enrichment] {
        guard let namespace = issue.subject.namespace else { return [] }
        let quotas = try api.items(kind: "ResourceQuota", namespace: namespace, what: "resource quotas of namespace \(namespace)")
        guard !quotas.isEmpty else { return [] }
        return [Self.render(quotas)]
    }

    static func render(_ quotas: [JSONValue]) -> Enrichment {
        var rows: [[String]] = []
        for quota in quotas {
            let hard = quota.at("status", "hard")?.objectValue ?? quota.at("spec", "hard")?.objectValue ?? [:]
            let used = quota.at("status", "used")?.objectValue ?? [:]
            for resource in hard.keys.sorted() {
                let h = hard[resource]?.text ?? ""
                let u = used[resource]?.text ?? "0"
                rows.append([PodLookup.name(quota), resource, u, h, u == h ? "at limit" : ""])
            }
        }
        return Enrichment(type: "resource_quota", title: "Resource quotas",
                          blocks: [.table(Block.Table(headers: ["Quota", "Resource", "Used", "Hard", ""], rows: rows))])
    }
}
