#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// Field limits of the incident table (destinations.md §7.2 and the base dictionary),
/// counted in Unicode scalars.
///
/// §7.2 gives `short_description` as 160 (instance-configurable). §7 gives no other
/// number; `description`, `close_notes` and the journal fields are 4000 in the base
/// dictionary (task), and `correlation_id` 100, so those are used: a longer value is cut
/// (or, for work notes, kept readable) by ServiceNow itself otherwise.
enum ServiceNowLimits {
    static let shortDescription = 160
    static let description = 4000
    static let workNotes = 4000
    static let closeNotes = 4000
    static let correlationID = 100
}

/// Builds the Table API bodies for an Issue. Every value is a string, as the Table API
/// returns them; urgency and impact are "1"..."3".
enum ServiceNowPayload {
    /// Resolved, the state that §7.2 gives as 6.
    static let resolvedState = "6"
    /// States an incident is no longer open in: Resolved, Closed, Canceled (§7.2). The
    /// lookup excludes them, so a new firing after a resolve opens a new incident instead
    /// of noting on a resolved one (ServiceNow keeps a Resolved incident `active`).
    static let finishedStates = ["6", "7", "8"]
    /// `correlation_display`: tells a ServiceNow user which tool owns `correlation_id`.
    static let correlationDisplay = "cano-collector"

    /// The incident's correlation id: the Issue's fingerprint, the same for the firing,
    /// its repeats and its resolve, and across restarts.
    ///
    /// A fingerprint that could not be matched safely in an encoded query (a `^`, `=` or
    /// another character outside `A-Z a-z 0-9 . _ : -`) or is longer than the field is
    /// replaced by "cano-" and a stable 64-bit FNV-1a hash of it: still the same for
    /// every delivery of that fingerprint.
    static func correlationID(for issue: Issue) -> String {
        let fingerprint = issue.fingerprint
        let safe = !fingerprint.isEmpty && fingerprint.utf8.count <= ServiceNowLimits.correlationID
            && fingerprint.utf8.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                    || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-")
            }
        if safe { return fingerprint }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in fingerprint.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return "cano-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// `short_description`: "[cluster] title", cut to 160 scalars.
    static func shortDescription(_ issue: Issue) -> String {
        let prefix = issue.cluster.map { $0.isEmpty ? "" : "[\($0)] " } ?? ""
        return Truncation.truncate(prefix + issue.title, to: ServiceNowLimits.shortDescription, in: .utf16CodeUnits)
    }

    /// The body of `POST /api/now/table/incident`.
    static func create(_ issue: Issue, config: ServiceNowConfig) -> JSONValue {
        var fields: [String: JSONValue] = [:]
        fields["short_description"] = .string(shortDescription(issue))
        fields["description"] = .string(Truncation.truncate(description(issue), to: ServiceNowLimits.description, in: .utf16CodeUnits))
        fields["urgency"] = .string(String(config.urgency[issue.severity] ?? 3))
        fields["impact"] = .string(String(config.impact[issue.severity] ?? 3))
        fields["correlation_id"] = .string(correlationID(for: issue))
        fields["correlation_display"] = .string(correlationDisplay)
        if let group = assignmentGroup(issue, config: config) { fields["assignment_group"] = .string(group) }
        if let caller = config.callerID { fields["caller_id"] = .string(caller) }
        if let category = config.category { fields["category"] = .string(category) }
        return .object(fields)
    }

    /// The incident's assignment group, first of: the value of the Issue label named by
    /// `assignment_group_label`, the group `assignment_group_by_namespace` gives the
    /// Issue's namespace, the static `assignment_group`; nil when none applies. A label
    /// value that is empty or has a line break names no group, so the next one applies.
    static func assignmentGroup(_ issue: Issue, config: ServiceNowConfig) -> String? {
        if let label = config.assignmentGroupLabel, let value = issue.subject.labels[label], !value.isEmpty,
           !value.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) {
            return value
        }
        if let namespace = issue.subject.namespace, let group = config.assignmentGroupByNamespace[namespace] {
            return group
        }
        return config.assignmentGroup
    }

    /// The default `close_notes`, naming the alert so the incident says what recovered.
    static func defaultCloseNotes(_ issue: Issue) -> String {
        let ended = issue.endsAt.map { " at \(timestamp($0))" } ?? ""
        return "Resolved automatically by cano-collector: the alert \"\(issue.title)\" stopped firing\(ended)."
    }

    /// The body of the `PATCH` that notes a repeat firing on an open incident.
    static func refire(_ issue: Issue) -> JSONValue {
        var lines = ["Fired again: \(issue.title)", "Severity: \(issue.severity.rawValue)", "Started: \(timestamp(issue.startsAt))"]
        if let description = issue.description, !description.isEmpty { lines += ["", description] }
        let note = Truncation.truncate(lines.joined(separator: "\n"), to: ServiceNowLimits.workNotes, in: .utf16CodeUnits)
        return .object(["work_notes": .string(note)])
    }

    /// The body of the `PATCH` that resolves the incident: state 6 with the close code and
    /// notes that data policies usually require (§7.2); `close_notes` from the config
    /// (`{alert}` replaced by the title) or ``defaultCloseNotes(_:)``.
    static func resolve(_ issue: Issue, config: ServiceNowConfig) -> JSONValue {
        let ended = issue.endsAt.map { " at \(timestamp($0))" } ?? ""
        let notes = config.closeNotes.map { $0.replacing("{alert}", with: issue.title) } ?? defaultCloseNotes(issue)
        var fields: [String: JSONValue] = [:]
        fields["state"] = .string(resolvedState)
        fields["close_code"] = .string(config.closeCode)
        fields["close_notes"] = .string(Truncation.truncate(notes, to: ServiceNowLimits.closeNotes, in: .utf16CodeUnits))
        fields["work_notes"] = .string(Truncation.truncate("Alert resolved\(ended): \(issue.title)", to: ServiceNowLimits.workNotes, in: .utf16CodeUnits))
        return .object(fields)
    }

    /// The plain-text `description`: what fired, on what, and the labels, annotations and
    /// links a responder needs first. The caller cuts it to the limit.
    static func description(_ issue: Issue) -> String {
        var lines: [String] = []
        if let text = issue.description, !text.isEmpty { lines += [text, ""] }
        lines += issue.diagnosisLines
        lines.append("Alert: \(issue.title)")
        lines.append("Severity: \(issue.severity.rawValue)")
        if let cluster = issue.cluster, !cluster.isEmpty { lines.append("Cluster: \(cluster)") }
        let subject = issue.subject
        let object = [subject.namespace, subject.name].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "/")
        if !object.isEmpty { lines.append("Object: \(subject.kind.map { "\($0) " } ?? "")\(object)") }
        if let container = subject.container, !container.isEmpty { lines.append("Container: \(container)") }
        if let node = subject.node, !node.isEmpty { lines.append("Node: \(node)") }
        lines.append("Started: \(timestamp(issue.startsAt))")
        lines.append("Fingerprint: \(issue.fingerprint)")
        if !issue.links.isEmpty {
            lines += ["", "Links:"]
            lines += issue.links.map { "- \($0.title): \($0.url)" }
        }
        if !subject.labels.isEmpty {
            lines += ["", "Labels:"]
            lines += subject.labels.sorted { $0.key < $1.key }.map { "- \($0.key)=\($0.value)" }
        }
        if !subject.annotations.isEmpty {
            lines += ["", "Annotations:"]
            lines += subject.annotations.sorted { $0.key < $1.key }.map { "- \($0.key): \($0.value)" }
        }
        return lines.joined(separator: "\n")
    }

    /// RFC 3339 in UTC, as the Issue carries it.
    static func timestamp(_ date: Date) -> String { RFC3339.format(date) }
}
