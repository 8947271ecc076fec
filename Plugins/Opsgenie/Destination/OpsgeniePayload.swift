import CanoSDK

/// Opsgenie Alert API v2 field limits (docs.opsgenie.com alert-api; destinations.md §4.2).
/// Lengths count characters as the API does, i.e. Unicode scalars.
enum OpsgenieLimits {
    static let message = 130
    static let alias = 512
    static let description = 15_000
    static let tags = 20
    static let tagLength = 50
    /// Keys plus values, over the whole map.
    static let detailsTotal = 8_000
    static let entity = 512
    static let source = 100
    static let note = 25_000
    static let responders = 50
    static let priorities: Set<String> = ["P1", "P2", "P3", "P4", "P5"]
    /// One detail value is capped at this so a single long annotation cannot crowd out the rest.
    static let detailValue = 1_000
}

/// Builds the Opsgenie request bodies from an Issue. Pure: no I/O, no clock.
enum OpsgeniePayload {
    /// The marker that ends a visibly shortened description.
    static let descriptionCutMarker = "\n\n… (cut by cano-collector: Opsgenie allows 15,000 characters)"
    /// The detail key that says how many details did not fit.
    static let omittedDetailsKey = "cano.omitted"

    /// The alias (Opsgenie's dedup key) for an Issue: its fingerprint, which is the same for
    /// the firing, its repeats and its resolve. Not the delivery's idempotency key, which
    /// changes with the status, so the resolve could never close what the firing opened.
    /// Cut (deterministically, so it stays stable) only if over Opsgenie's 512.
    static func alias(for issue: Issue) -> String {
        Truncation.truncate(issue.fingerprint, to: OpsgenieLimits.alias, in: .unicodeScalars, marker: "")
    }

    /// The `POST /v2/alerts` body.
    static func create(_ issue: Issue, config: OpsgenieConfig) -> JSONValue {
        var body: [String: JSONValue] = [
            "message": .string(message(issue)),
            "alias": .string(alias(for: issue)),
            "description": .string(description(issue)),
            "priority": .string(priority(issue, config: config)),
            "source": .string(config.source),
            "details": .object(details(issue, config: config).mapValues(JSONValue.string)),
        ]
        let tags = tags(issue, config: config)
        if !tags.isEmpty { body["tags"] = .array(tags.map(JSONValue.string)) }
        if let entity = entity(issue) { body["entity"] = .string(entity) }
        let responders = responders(issue, config: config)
        if !responders.isEmpty { body["responders"] = .array(responders.map(\.json)) }
        if !config.visibleTo.isEmpty { body["visibleTo"] = .array(config.visibleTo.map(\.json)) }
        return .object(body)
    }

    /// The `POST /v2/alerts/{alias}/close` body: who closed it and why.
    static func close(_ issue: Issue, config: OpsgenieConfig) -> JSONValue {
        let ended = issue.endsAt.map { " at " + RFC3339.format($0) } ?? ""
        let note = Truncation.truncate("Resolved\(ended): \(issue.title)", to: OpsgenieLimits.note, in: .unicodeScalars)
        return .object(["source": .string(config.source), "note": .string(note)])
    }

    /// The title, cut to 130 characters with "…" (Alertmanager cuts it the same way).
    static func message(_ issue: Issue) -> String {
        let title = issue.title.isEmpty ? issue.aggregationKey : issue.title
        return Truncation.truncate(title.isEmpty ? "cano-collector alert" : title, to: OpsgenieLimits.message, in: .unicodeScalars)
    }

    /// P1–P5 from the severity, through the configured map.
    static func priority(_ issue: Issue, config: OpsgenieConfig) -> String {
        config.priorities[issue.severity] ?? OpsgenieConfig.defaultPriorities[issue.severity] ?? "P3"
    }

    /// "Pod payments/worker-1": what the alert is about, for Opsgenie's entity field.
    static func entity(_ issue: Issue) -> String? {
        let s = issue.subject
        let path = [s.namespace, s.name].compactMap { $0?.isEmpty == false ? $0 : nil }.joined(separator: "/")
        let text = [s.kind ?? "", path].filter { !$0.isEmpty }.joined(separator: " ")
        return text.isEmpty ? nil : Truncation.truncate(text, to: OpsgenieLimits.entity, in: .unicodeScalars)
    }

    /// Configured tags first, then `name:value` for each of `tag_labels` the Issue has (a
    /// label, else the Issue's own `cluster` or `namespace`); each cut to 50 characters,
    /// duplicates dropped, at most 20.
    static func tags(_ issue: Issue, config: OpsgenieConfig) -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        func add(_ tag: String) {
            let cut = Truncation.truncate(tag, to: OpsgenieLimits.tagLength, in: .unicodeScalars)
            guard !cut.isEmpty, out.count < OpsgenieLimits.tags, seen.insert(cut).inserted else { return }
            out.append(cut)
        }
        config.tags.forEach(add)
        for name in config.tagLabels {
            let value = issue.subject.labels[name] ?? fieldValue(name, of: issue)
            if let value, !value.isEmpty { add("\(name):\(value)") }
        }
        return out
    }

    /// The Issue fields a tag label may fall back on, when no label of that name exists.
    private static func fieldValue(_ name: String, of issue: Issue) -> String? {
        switch name {
        case "cluster": issue.cluster
        case "namespace": issue.subject.namespace
        case "severity": issue.severity.rawValue
        default: nil
        }
    }

    /// The team to page for this Issue, the first of: the `team_annotation` annotation, the
    /// `team_label` label, `team_by_namespace` for its namespace, the static `team`. The
    /// most specific source wins: an annotation is set on one workload on purpose, a label
    /// may come from a whole rule group, the namespace map is a cluster-wide default.
    /// An annotation or label value is trimmed; a blank one, or one with control
    /// characters, does not count and the next source is asked.
    static func team(_ issue: Issue, config: OpsgenieConfig) -> String? {
        func named(_ value: String?) -> String? {
            guard let value else { return nil }
            let scalars = value.unicodeScalars
            guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
                  let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return nil }
            let trimmed = String(scalars[first...last])
            return OpsgenieConfig.isTeamName(trimmed) ? trimmed : nil
        }
        let s = issue.subject
        if let key = config.teamAnnotation, let team = named(s.annotations[key]) { return team }
        if let key = config.teamLabel, let team = named(s.labels[key]) { return team }
        if let namespace = s.namespace, let team = config.teamByNamespace[namespace] { return team }
        return config.team
    }

    /// The routed team (``team(_:config:)``) first, then the configured `responders`,
    /// without duplicates and within Opsgenie's 50.
    static func responders(_ issue: Issue, config: OpsgenieConfig) -> [OpsgenieResponder] {
        var out: [OpsgenieResponder] = []
        if let team = team(issue, config: config) { out.append(OpsgenieResponder(type: "team", field: "name", value: team)) }
        for responder in config.responders where !out.contains(responder) && out.count < OpsgenieLimits.responders {
            out.append(responder)
        }
        return out
    }

    /// String → string details within Opsgenie's 8,000 characters (keys and values), added
    /// in this order until the budget runs out: configured `details`, the Issue's context
    /// (cluster, subject, severity, fingerprint, start, links), labels, then annotations
    /// (a label or annotation whose name is taken gets a `label.`/`annotation.` prefix).
    /// Each value is cut at 1,000 characters; entries that no longer fit are left out and
    /// counted under `cano.omitted`, so nothing disappears silently.
    static func details(_ issue: Issue, config: OpsgenieConfig) -> [String: String] {
        var candidates: [(String, String)] = config.details
        let s = issue.subject
        var context: [(String, String?)] = [
            ("cluster", issue.cluster), ("severity", issue.severity.rawValue), ("fingerprint", issue.fingerprint),
            ("subject", entity(issue)), ("node", s.node), ("container", s.container),
            ("issueSource", issue.source.rawValue), ("startsAt", RFC3339.format(issue.startsAt)),
        ]
        context += issue.links.map { ("link: \($0.title)", $0.url) }
        candidates += context.compactMap { key, value in value.flatMap { $0.isEmpty ? nil : (key, $0) } }
        let labels = config.includeLabels ? s.labels.sorted { $0.key < $1.key } : []
        let annotations = config.includeAnnotations ? s.annotations.sorted { $0.key < $1.key } : []

        var out: [String: String] = [:]
        var used = 0
        var omitted = 0
        // Room kept for the `cano.omitted` note itself.
        let budget = OpsgenieLimits.detailsTotal - 64
        func add(_ key: String, _ value: String) {
            guard out[key] == nil else { return }
            let cutKey = Truncation.truncate(key, to: 128, in: .unicodeScalars)
            let cutValue = Truncation.truncate(value, to: OpsgenieLimits.detailValue, in: .unicodeScalars)
            let size = cutKey.unicodeScalars.count + cutValue.unicodeScalars.count
            guard out[cutKey] == nil, used + size <= budget else {
                omitted += 1
                return
            }
            out[cutKey] = cutValue
            used += size
        }
        // The first writer of a key wins among configured details and the Issue's context.
        for (key, value) in candidates where out[key] == nil { add(key, value) }
        // A label or annotation named like a key already written ("severity") is kept too,
        // under a prefix, so no value the user set is lost to a name clash.
        for (key, value) in labels { add(out[key] == nil ? key : "label." + key, value) }
        for (key, value) in annotations { add(out[key] == nil ? key : "annotation." + key, value) }
        if omitted > 0 {
            out[omittedDetailsKey] = "\(omitted) more details left out (Opsgenie allows \(OpsgenieLimits.detailsTotal) characters)"
        }
        return out
    }

    /// The Issue as plain text: its description, where and what it is about, links and the
    /// enrichers' context, cut visibly at 15,000 characters.
    static func description(_ issue: Issue) -> String {
        var lines: [String] = []
        if let text = issue.description, !text.isEmpty {
            lines.append(text)
            lines.append("")
        }
        lines += issue.diagnosisLines
        if let cluster = issue.cluster, !cluster.isEmpty { lines.append("Cluster: \(cluster)") }
        if let entity = entity(issue) {
            var extra: [String] = []
            if let node = issue.subject.node, !node.isEmpty { extra.append("node \(node)") }
            if let container = issue.subject.container, !container.isEmpty { extra.append("container \(container)") }
            lines.append("Subject: \(entity)" + (extra.isEmpty ? "" : " (\(extra.joined(separator: ", ")))"))
        }
        lines.append("Severity: \(issue.severity.rawValue) · Source: \(issue.source.rawValue) · Started: \(RFC3339.format(issue.startsAt))")
        lines += issue.plainTextContext
        return Truncation.truncate(lines.joined(separator: "\n"), to: OpsgenieLimits.description, in: .unicodeScalars, marker: descriptionCutMarker)
    }

}
