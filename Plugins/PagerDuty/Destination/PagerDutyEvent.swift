#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// One Events API v2 request, ready to send: where it goes and its JSON body.
public struct PagerDutyEvent: Sendable, Equatable {
    /// Alert events (trigger, resolve) or Change Events.
    public enum Kind: String, Sendable {
        case trigger, resolve, change
    }

    public var kind: Kind
    /// `/v2/enqueue`, or `/v2/change/enqueue` for a Change Event.
    public var path: String
    /// The alert's `dedup_key`; nil for Change Events, which have none.
    public var dedupKey: String?
    /// The compact JSON body, at most ``PagerDutyEvent/maxEventBytes``.
    public var body: [UInt8]
    /// What was cut from `custom_details` to fit; empty when nothing was.
    public var trimmed: [String]

    /// PagerDuty's event size limit, "512 KB"; Alertmanager reads it as 512,000 bytes
    /// (`maxEventSize`), the stricter of the two readings.
    public static let maxEventBytes = 512_000
    /// `payload.summary` limit, in Unicode scalars (Alertmanager: 1024 runes).
    public static let maxSummaryScalars = 1024
    /// `dedup_key` limit (destinations.md §3.1).
    public static let maxDedupKeyLength = 255
    /// The `custom_details` member that says what was trimmed.
    public static let trimmedNoteKey = "cano_trimmed"
}

/// Builds Events API v2 bodies from Issues. Pure: no I/O, no clock but the Issue's own.
///
/// | Issue | PagerDuty |
/// | --- | --- |
/// | `fingerprint` | `dedup_key` (the same for the firing and its resolve; the idempotency key is not) |
/// | `status` firing / resolved | `event_action` trigger / resolve |
/// | `severity` | `payload.severity` through `severity_map` (HIGH→critical, LOW→warning, INFO/DEBUG→info) |
/// | `title`, `description` | `payload.summary` "title: description", ≤ 1024 scalars |
/// | `cluster`, `subject.namespace`/`name` | `payload.source` "cluster/namespace/name" |
/// | `subject.container` or `kind` | `payload.component` |
/// | `subject.namespace` | `payload.group` |
/// | `aggregationKey` (alert name, reason) | `payload.class` |
/// | `startsAt` | `payload.timestamp` |
/// | labels, annotations, subject, enrichments (as text) | `payload.custom_details` |
/// | `links` and enrichment link blocks | `links[]`; https links to images also `images[]` |
/// | Helm release Issues (`source: helm`) | a Change Event to `/v2/change/enqueue` |
public enum PagerDutyEventBuilder {
    /// Image file endings that make a link an `images[]` entry too.
    static let imageExtensions = [".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"]

    /// The event for `issue`, sent with `routingKey`.
    /// - Throws: ``PluginError`` when even a trimmed event exceeds 512,000 bytes.
    public static func build(_ issue: Issue, routingKey: String, config: PagerDutyConfig) throws(PluginError) -> PagerDutyEvent {
        if config.helmChangeEvents && isHelmRelease(issue) {
            return try change(issue, routingKey: routingKey, leaving: config.routingKeyLabel)
        }
        let dedupKey = dedupKey(for: issue)
        guard issue.status == .firing else {
            // A resolve needs only these three (destinations.md §3.1); a payload would be
            // ignored at best and, with a now-invalid field, rejected at worst.
            let body: JSONValue = .object(["routing_key": .string(routingKey), "event_action": .string("resolve"), "dedup_key": .string(dedupKey)])
            return PagerDutyEvent(kind: .resolve, path: "/v2/enqueue", dedupKey: dedupKey, body: encode(body), trimmed: [])
        }
        var payload: [String: JSONValue] = [
            "summary": .string(summary(issue)),
            "source": .string(source(issue)),
            "severity": .string(config.severityMap[issue.severity] ?? PagerDutyConfig.defaultSeverityMap[issue.severity] ?? "info"),
            "timestamp": .string(RFC3339.format(issue.startsAt)),
            "class": .string(Truncation.truncate(issue.aggregationKey, to: 1024, in: .unicodeScalars)),
        ]
        if let component = nonBlank(issue.subject.container) ?? nonBlank(issue.subject.kind) { payload["component"] = .string(component) }
        if let group = nonBlank(issue.subject.namespace) { payload["group"] = .string(group) }
        var event: [String: JSONValue] = [
            "routing_key": .string(routingKey),
            "event_action": .string("trigger"),
            "dedup_key": .string(dedupKey),
            "client": .string(config.client),
        ]
        if let clientURL = config.clientURL { event["client_url"] = .string(clientURL) }
        let (links, images) = linksAndImages(issue)
        if !links.isEmpty { event["links"] = .array(links) }
        if !images.isEmpty { event["images"] = .array(images) }
        let (body, trimmed) = try fit(event: event, payload: payload, details: details(issue, leaving: config.routingKeyLabel), enrichments: enrichmentTexts(issue))
        return PagerDutyEvent(kind: .trigger, path: "/v2/enqueue", dedupKey: dedupKey, body: body, trimmed: trimmed)
    }

    /// A Change Event: Helm releases are changes to a service, which PagerDuty shows on
    /// the service's timeline next to its incidents, without paging anyone.
    static func change(_ issue: Issue, routingKey: String, leaving routingKeyLabel: String? = nil) throws(PluginError) -> PagerDutyEvent {
        var summary = summary(issue)
        if issue.status == .resolved { summary = Truncation.truncate("Resolved: " + summary, to: PagerDutyEvent.maxSummaryScalars, in: .unicodeScalars) }
        let payload: [String: JSONValue] = [
            "summary": .string(summary),
            "source": .string(source(issue)),
            "timestamp": .string(RFC3339.format(issue.status == .resolved ? (issue.endsAt ?? issue.createdAt) : issue.startsAt)),
        ]
        var event: [String: JSONValue] = ["routing_key": .string(routingKey)]
        let (links, _) = linksAndImages(issue)
        if !links.isEmpty { event["links"] = .array(links) }
        let (body, trimmed) = try fit(event: event, payload: payload, details: details(issue, leaving: routingKeyLabel), enrichments: enrichmentTexts(issue))
        return PagerDutyEvent(kind: .change, path: "/v2/change/enqueue", dedupKey: nil, body: body, trimmed: trimmed)
    }

    /// Issues about a Helm release: the Helm detector's (`source: helm`), or any Issue whose
    /// subject is a `HelmRelease`.
    public static func isHelmRelease(_ issue: Issue) -> Bool {
        issue.source == .helm || issue.subject.kind == "HelmRelease"
    }

    /// The fingerprint, which stays the same from firing to resolve and across restarts;
    /// one longer than PagerDuty's 255 becomes a stable 64-bit hash of it.
    public static func dedupKey(for issue: Issue) -> String {
        let fingerprint = issue.fingerprint
        if !fingerprint.isEmpty, fingerprint.count <= PagerDutyEvent.maxDedupKeyLength { return fingerprint }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a 64: stable across versions, no dependency
        for byte in fingerprint.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return "cano-fp-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// "title: description" on one line, at most 1024 Unicode scalars, cut at a Character.
    public static func summary(_ issue: Issue) -> String {
        var text = oneLine(issue.title)
        if let description = nonBlank(issue.description).map(oneLine), !description.isEmpty, description != text {
            text += ": " + description
        } else if let name = nonBlank(issue.subject.name) {
            let kind = nonBlank(issue.subject.kind).map { $0 + " " } ?? ""
            let namespace = nonBlank(issue.subject.namespace).map { $0 + "/" } ?? ""
            text += " (\(kind)\(namespace)\(name))"
        }
        if text.isEmpty { text = "Issue \(issue.fingerprint)" }
        return Truncation.truncate(text, to: PagerDutyEvent.maxSummaryScalars, in: .unicodeScalars)
    }

    /// "cluster/namespace/name", from what the Issue has; "cano-collector" when nothing.
    public static func source(_ issue: Issue) -> String {
        let parts = [issue.cluster, issue.subject.namespace, issue.subject.name ?? issue.subject.node].compactMap(nonBlank)
        let text = parts.isEmpty ? "cano-collector" : parts.joined(separator: "/")
        return Truncation.truncate(text, to: 1024, in: .unicodeScalars)
    }

    /// The Issue's facts for `custom_details`, without enrichments (they are trimmed first).
    /// `routingKeyLabel`'s label is left out: its value is a routing key, a secret that must
    /// not be shown to everyone who sees the incident.
    static func details(_ issue: Issue, leaving routingKeyLabel: String? = nil) -> [String: JSONValue] {
        var details: [String: JSONValue] = [
            "status": .string(issue.status.rawValue),
            "severity": .string(issue.severity.rawValue),
            "source": .string(issue.source.rawValue),
            "fingerprint": .string(issue.fingerprint),
            "starts_at": .string(RFC3339.format(issue.startsAt)),
        ]
        if let description = nonBlank(issue.description) { details["description"] = .string(description) }
        // Small and the first thing a responder needs: never trimmed.
        let cause = issue.diagnosisLines.filter { !$0.isEmpty }
        if !cause.isEmpty { details["likely_cause"] = .string(cause.joined(separator: "\n")) }
        if let cluster = nonBlank(issue.cluster) { details["cluster"] = .string(cluster) }
        if let endsAt = issue.endsAt { details["ends_at"] = .string(RFC3339.format(endsAt)) }
        var subject: [String: JSONValue] = [:]
        for (key, value) in [("kind", issue.subject.kind), ("name", issue.subject.name), ("namespace", issue.subject.namespace),
                             ("node", issue.subject.node), ("container", issue.subject.container)] {
            if let value = nonBlank(value) { subject[key] = .string(value) }
        }
        if !subject.isEmpty { details["subject"] = .object(subject) }
        var labels = issue.subject.labels
        if let routingKeyLabel { labels[routingKeyLabel] = nil }
        if !labels.isEmpty { details["labels"] = .object(labels.mapValues(JSONValue.string)) }
        if !issue.subject.annotations.isEmpty { details["annotations"] = .object(issue.subject.annotations.mapValues(JSONValue.string)) }
        return details
    }

    /// Each enrichment as one text, keyed by its title (or type), in Issue order. PagerDuty
    /// shows `custom_details` as key/value text, so blocks become plain lines.
    static func enrichmentTexts(_ issue: Issue) -> [(key: String, text: String)] {
        var out: [(key: String, text: String)] = []
        var used = Set<String>()
        for enrichment in issue.enrichments where enrichment.type != Enrichment.diagnosisType {
            let base = nonBlank(enrichment.title) ?? enrichment.type
            var key = base
            var n = 2
            while used.contains(key) { key = "\(base) (\(n))"; n += 1 }
            used.insert(key)
            out.append((key, enrichment.blocks.flatMap(\.plainTextLines).filter { !$0.isEmpty }.joined(separator: "\n")))
        }
        return out
    }

    /// `links[]` from the Issue's links and enrichment link blocks (http(s) only, each URL
    /// once), and `images[]` from those that are https images.
    static func linksAndImages(_ issue: Issue) -> (links: [JSONValue], images: [JSONValue]) {
        var all = issue.links
        for enrichment in issue.enrichments {
            for case .links(let links) in enrichment.blocks { all += links }
        }
        var seen = Set<String>()
        var links: [JSONValue] = []
        var images: [JSONValue] = []
        for link in all where (link.url.hasPrefix("https://") || link.url.hasPrefix("http://")) && seen.insert(link.url).inserted {
            var entry: [String: JSONValue] = ["href": .string(link.url)]
            if let title = nonBlank(link.title) { entry["text"] = .string(title) }
            links.append(.object(entry))
            let path = link.url.lowercased().prefix { $0 != "?" && $0 != "#" }
            if link.url.hasPrefix("https://"), imageExtensions.contains(where: { path.hasSuffix($0) }) {
                var image: [String: JSONValue] = ["src": .string(link.url), "href": .string(link.url)]
                if let title = nonBlank(link.title) { image["alt"] = .string(title) }
                images.append(.object(image))
            }
        }
        return (links, images)
    }

    /// The encoded event, trimming `custom_details` until it fits ``PagerDutyEvent/maxEventBytes``:
    /// the largest enrichments first, then annotations, labels and the description. What
    /// was cut is named in `custom_details.cano_trimmed`, so the responder knows to look
    /// in the collector for the rest.
    static func fit(
        event: [String: JSONValue], payload: [String: JSONValue], details: [String: JSONValue], enrichments: [(key: String, text: String)]
    ) throws(PluginError) -> ([UInt8], [String]) {
        var details = details
        var kept = enrichments
        var removed: [String] = []
        func body() -> [UInt8] {
            var d = details
            if !kept.isEmpty { d["enrichments"] = .object(Dictionary(kept.map { ($0.key, JSONValue.string($0.text)) }, uniquingKeysWith: { a, _ in a })) }
            if !removed.isEmpty {
                d[PagerDutyEvent.trimmedNoteKey] = .string(
                    "The event exceeded PagerDuty's 512 KB limit, so these custom_details were left out: "
                        + removed.joined(separator: ", ") + ". The whole Issue is in cano-collector.")
            }
            var p = payload
            p["custom_details"] = .object(d)
            var e = event
            e["payload"] = .object(p)
            return encode(.object(e))
        }
        var encoded = body()
        guard encoded.count > PagerDutyEvent.maxEventBytes else { return (encoded, []) }
        // Largest first: one big log excerpt usually accounts for the whole overflow.
        while encoded.count > PagerDutyEvent.maxEventBytes, !kept.isEmpty {
            guard let largest = kept.indices.max(by: { kept[$0].text.utf8.count < kept[$1].text.utf8.count }) else { break }
            removed.append("enrichment \"\(kept[largest].key)\"")
            kept.remove(at: largest)
            encoded = body()
        }
        for key in ["annotations", "labels", "description", "subject"] where encoded.count > PagerDutyEvent.maxEventBytes && details[key] != nil {
            details[key] = nil
            removed.append(key)
            encoded = body()
        }
        guard encoded.count <= PagerDutyEvent.maxEventBytes else {
            throw PluginError("the PagerDuty event is \(encoded.count) bytes even without custom_details, over the 512,000-byte limit (too many or too long links?)")
        }
        return (encoded, removed)
    }

    static func encode(_ value: JSONValue) -> [UInt8] {
        // JSONValue always encodes (no non-finite numbers reach here: they come from JSON).
        (try? IssueCoding.encode(value)) ?? Array("{}".utf8)
    }

    static func nonBlank(_ text: String?) -> String? {
        guard let text, text.contains(where: { !$0.isWhitespace }) else { return nil }
        return text
    }

    /// Line breaks and tabs as single spaces: a summary is one line in PagerDuty's lists.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: { $0.isNewline || $0 == "\t" }).map { String($0).trimming(" ") }.filter { !$0.isEmpty }.joined(separator: " ")
    }
}
