import CanoSDK

/// `events`: the recent events of the Issue's object and of its controlling owner (a
/// pod's ReplicaSet, a Job's CronJob), newest first.
///
/// Parameters: `limit` (15), `warnings_only` (false), `owner` (true).
struct EventsEnricher: KubeEnricher {
    let api: KubeAPI
    let name = "events"

    func validate(_ parameters: EnricherParameters) throws(EnricherFailure) { _ = try Self.options(parameters) }

    static func options(_ p: EnricherParameters) throws(EnricherFailure) -> (limit: Int, warningsOnly: Bool, owner: Bool) {
        (try p.int("limit", in: 1...200) ?? 15, try p.bool("warnings_only") ?? false, try p.bool("owner") ?? true)
    }

    func enrich(_ issue: Issue, parameters: EnricherParameters, deadline: ContinuousClock.Instant) throws(EnricherFailure) -> [Enrichment] {
        let (limit, warningsOnly, includeOwner) = try Self.options(parameters)
        guard let target = KubeTarget.of(issue) else { return [] }
        var objects = [(target.kind, target.name)]
        if includeOwner, KubeAPI.resources[target.kind] != nil,
           let object = try? api.object(kind: target.kind, name: target.name, namespace: target.kind == "Node" ? nil : target.namespace),
           let owner = OwnerChainEnricher.controller(of: object) {
            objects.append(owner)
        }
        var events: [JSONValue] = []
        for (kind, name) in objects {
            var selector = "involvedObject.kind=\(kind),involvedObject.name=\(name)"
            if warningsOnly { selector += ",type=Warning" }
            events += try api.items(kind: "Event", namespace: kind == "Node" ? nil : target.namespace,
                                    query: [("fieldSelector", selector)], what: "events of \(kind) \(name)")
        }
        guard !events.isEmpty else {
            return [Enrichment(type: "events", title: "Events", blocks: [.markdown("_no recent events for \(objects.map { "\($0.0) `\($0.1)`" }.joined(separator: " or "))_")])]
        }
        let sorted = events.sorted { Self.time($0) > Self.time($1) }.prefix(limit)
        let rows = sorted.map { e -> [String] in
            [
                Self.time(e),
                e["type"]?.text ?? "",
                e["reason"]?.text ?? "",
                "\(e.at("involvedObject", "kind")?.text ?? "")/\(e.at("involvedObject", "name")?.text ?? "")",
                (e["count"]?.text ?? e.at("series", "count")?.text) ?? "1",
                String((e["message"]?.text ?? e["note"]?.text ?? "").prefix(300)),
            ]
        }
        return [Enrichment(type: "events", title: "Events", blocks: [
            .table(Block.Table(headers: ["Last seen", "Type", "Reason", "Object", "Count", "Message"], rows: Array(rows))),
        ])]
    }

    /// The event's latest time, whichever of the v1 fields carries it.
    static func time(_ e: JSONValue) -> String {
        e["lastTimestamp"]?.text ?? e.at("series", "lastObservedTime")?.text ?? e["eventTime"]?.text
            ?? e["firstTimestamp"]?.text ?? e.at("metadata", "creationTimestamp")?.text ?? ""
    }
}
