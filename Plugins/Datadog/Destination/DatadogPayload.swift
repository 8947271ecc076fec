import CanoSDK

/// Datadog's tagging rules, applied before a tag leaves the plugin: Datadog rewrites a tag
/// that breaks them, so a tag sent as written would not match the one users filter on.
///
/// A tag starts with a letter; then letters, digits, `_`, `-`, `:`, `.` and `/`; anything
/// else becomes `_`; at most 200 characters; lower case (docs.datadoghq.com
/// getting_started/tagging, "Define tags").
enum DatadogTags {
    /// `raw` in Datadog's form, or nil when no letter is left to start it with.
    static func normalise(_ raw: String) -> String? {
        var out = String.UnicodeScalarView()
        var lastWasUnderscore = false
        for scalar in raw.lowercased().unicodeScalars {
            if out.isEmpty && !scalar.properties.isAlphabetic { continue }
            let allowed = scalar.properties.isAlphabetic || scalar.properties.numericType != nil
                || scalar == "_" || scalar == "-" || scalar == ":" || scalar == "." || scalar == "/"
            let next: Unicode.Scalar = allowed ? scalar : "_"
            // "a  b" becomes "a_b", not "a__b": runs of replaced characters say nothing more.
            if next == "_" && lastWasUnderscore { continue }
            lastWasUnderscore = next == "_"
            out.append(next)
        }
        var tag = String(out)
        while tag.hasSuffix("_") { tag.removeLast() }
        tag = Truncation.truncate(tag, to: DatadogLimits.tagLength, in: .unicodeScalars, marker: "")
        return tag.isEmpty ? nil : tag
    }

    /// Whether `tag` is already in Datadog's form (what ``normalise(_:)`` returns unchanged).
    static func isValid(_ tag: String) -> Bool { normalise(tag) == tag }
}

/// Builds the Datadog event for an Issue. Pure: no I/O, no clock.
enum DatadogPayload {
    /// Ends a visibly shortened text, so a reader knows to look in the collector for the rest.
    static let textCutMarker = "\n… (cut by cano-collector: Datadog allows 4,000 characters)"

    /// The `aggregation_key`: the Issue's fingerprint, the same for the firing, its repeats
    /// and its resolve (not the idempotency key, which changes with the status). Cut, the
    /// same way every time, only if over Datadog's 100.
    static func aggregationKey(_ issue: Issue) -> String? {
        let key = Truncation.truncate(issue.fingerprint, to: DatadogLimits.aggregationKey, in: .unicodeScalars, marker: "")
        return key.isEmpty ? nil : key
    }

    /// The request body for `version`.
    static func body(_ issue: Issue, config: DatadogConfig) -> JSONValue {
        switch config.version {
        case .v1: v1(issue, config: config)
        case .v2: v2(issue, config: config)
        }
    }

    /// `POST /api/v1/events`: title, text, alert_type, priority, aggregation_key, tags.
    static func v1(_ issue: Issue, config: DatadogConfig) -> JSONValue {
        var event: [String: JSONValue] = [:]
        event["title"] = .string(title(issue, limit: DatadogLimits.v1Title))
        event["text"] = .string(text(issue))
        event["alert_type"] = .string(alertType(issue))
        event["priority"] = .string(issue.severity >= .low ? "normal" : "low")
        if let key = aggregationKey(issue) { event["aggregation_key"] = .string(key) }
        let tags = tags(issue, config: config)
        if !tags.isEmpty { event["tags"] = .array(tags.map(JSONValue.string)) }
        return .object(event)
    }

    /// `POST /api/v2/events`: an alert event, `{"data":{"type":"event","attributes":{…}}}`.
    static func v2(_ issue: Issue, config: DatadogConfig) -> JSONValue {
        let alert: [String: JSONValue] = [
            "status": .string(status(issue)),
            "priority": .string(priority(issue)),
            "custom": .object(custom(issue)),
        ]
        var attributes: [String: JSONValue] = [:]
        attributes["title"] = .string(title(issue, limit: DatadogLimits.v2Title))
        attributes["category"] = .string("alert")
        attributes["message"] = .string(text(issue))
        attributes["attributes"] = .object(alert)
        if let key = aggregationKey(issue) { attributes["aggregation_key"] = .string(key) }
        let tags = tags(issue, config: config)
        if !tags.isEmpty { attributes["tags"] = .array(tags.map(JSONValue.string)) }
        let data: [String: JSONValue] = ["type": .string("event"), "attributes": .object(attributes)]
        return .object(["data": .object(data)])
    }

    /// v1 `alert_type`: a resolve is `success`; otherwise by severity.
    static func alertType(_ issue: Issue) -> String {
        guard issue.status == .firing else { return "success" }
        switch issue.severity {
        case .high: return "error"
        case .low: return "warning"
        case .info, .debug: return "info"
        }
    }

    /// v2 alert `status`: a resolve is `ok`; HIGH is `error`; the rest `warn`, because
    /// `ok` would read as resolved and v2 has no informational status.
    static func status(_ issue: Issue) -> String {
        guard issue.status == .firing else { return "ok" }
        return issue.severity == .high ? "error" : "warn"
    }

    /// v2 alert `priority`, "1" (highest) to "5" (Datadog's default).
    static func priority(_ issue: Issue) -> String {
        switch issue.severity {
        case .high: "1"
        case .low: "3"
        case .info: "4"
        case .debug: "5"
        }
    }

    /// The title (the alert name when the Issue has none), "Resolved: " in front of a
    /// resolve so the event stream tells the two apart, cut with "…" to `limit`.
    static func title(_ issue: Issue, limit: Int) -> String {
        var title = issue.title.isEmpty ? issue.aggregationKey : issue.title
        if title.isEmpty { title = "cano-collector alert" }
        if issue.status == .resolved { title = "Resolved: " + title }
        return Truncation.truncate(title, to: limit, in: .unicodeScalars)
    }

    /// Configured tags, then `namespace:` and `cluster:` (from labels, else the Issue's own
    /// fields), then `name:value` for each of `tag_labels` the Issue has; each normalised
    /// to Datadog's rules, duplicates dropped, at most 100.
    static func tags(_ issue: Issue, config: DatadogConfig) -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        func add(_ raw: String) {
            guard out.count < DatadogLimits.tags, let tag = DatadogTags.normalise(raw), seen.insert(tag).inserted else { return }
            out.append(tag)
        }
        config.tags.forEach(add)
        let labels = issue.subject.labels
        if let namespace = nonBlank(labels["namespace"]) ?? nonBlank(issue.subject.namespace) { add("namespace:" + namespace) }
        if let cluster = nonBlank(labels["cluster"]) ?? nonBlank(issue.cluster) { add("cluster:" + cluster) }
        for name in config.tagLabels {
            let value = nonBlank(labels[name]) ?? (name == "severity" ? issue.severity.rawValue : nil)
            if let value { add("\(name):\(value)") }
        }
        return out
    }

    /// v2 `attributes.custom`: where and what the Issue is about, as strings.
    static func custom(_ issue: Issue) -> [String: JSONValue] {
        let s = issue.subject
        let fields: [(String, String?)] = [
            ("fingerprint", issue.fingerprint), ("cluster", issue.cluster), ("namespace", s.namespace),
            ("kind", s.kind), ("name", s.name), ("node", s.node), ("container", s.container),
            ("severity", issue.severity.rawValue), ("source", issue.source.rawValue),
            ("starts_at", RFC3339.format(issue.startsAt)), ("ends_at", issue.endsAt.map(RFC3339.format)),
        ]
        var out: [String: JSONValue] = [:]
        for (key, value) in fields {
            if let value = nonBlank(value) { out[key] = .string(value) }
        }
        return out
    }

    /// The Issue as plain text: description, where and what, links and the enrichers'
    /// context, cut visibly at 4,000 characters.
    static func text(_ issue: Issue) -> String {
        var lines: [String] = []
        if let description = nonBlank(issue.description) {
            lines.append(description)
            lines.append("")
        }
        lines += issue.diagnosisLines
        if let cluster = nonBlank(issue.cluster) { lines.append("Cluster: \(cluster)") }
        if let subject = subjectLine(issue) { lines.append("Subject: \(subject)") }
        var when = "Severity: \(issue.severity.rawValue) · Source: \(issue.source.rawValue) · Started: \(RFC3339.format(issue.startsAt))"
        if let endsAt = issue.endsAt { when += " · Ended: \(RFC3339.format(endsAt))" }
        lines.append(when)
        lines.append("Fingerprint: \(issue.fingerprint)")
        lines += issue.plainTextContext
        return Truncation.truncate(lines.joined(separator: "\n"), to: DatadogLimits.text, in: .unicodeScalars, marker: textCutMarker)
    }

    /// "Pod shop/cart-1 (node n1, container c)".
    static func subjectLine(_ issue: Issue) -> String? {
        let s = issue.subject
        let path = [s.namespace, s.name].compactMap { nonBlank($0) }.joined(separator: "/")
        let head = [nonBlank(s.kind) ?? "", path].filter { !$0.isEmpty }.joined(separator: " ")
        guard !head.isEmpty else { return nil }
        var extra: [String] = []
        if let node = nonBlank(s.node) { extra.append("node \(node)") }
        if let container = nonBlank(s.container) { extra.append("container \(container)") }
        return extra.isEmpty ? head : "\(head) (\(extra.joined(separator: ", ")))"
    }

    static func nonBlank(_ text: String?) -> String? {
        guard let text, text.contains(where: { !$0.isWhitespace }) else { return nil }
        return text
    }
}
