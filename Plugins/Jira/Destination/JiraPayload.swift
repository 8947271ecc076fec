import CanoSDK

/// Jira Cloud field limits (destinations.md §5.2). Jira is a Java service: it counts
/// "characters" as UTF-16 code units, so an emoji counts 2.
enum JiraLimits {
    /// `summary`.
    static let summary = 255
    /// A rich-text field (`description`, a comment `body`): 32,767 characters of text.
    static let richText = 32_767
    /// What this plugin puts in a rich-text field, in text characters: the rest of the
    /// 32,767 is head room for the ADF structure around the text.
    static let richTextBudget = 30_000
    /// One label.
    static let label = 255
}

/// Builds the Jira request bodies from an Issue. Pure: no I/O, no clock.
///
/// Bodies use Jira REST API v3, so rich text is Atlassian Document Format (ADF): its text
/// nodes are literal, so alert text with `{`, `*`, `[` or `|` is shown as written, where
/// v2's wiki markup would turn it into macros, bold or links.
enum JiraPayload {
    /// The prefix of the label that marks the issue of one fingerprint.
    static let labelPrefix = "cano-fp-"
    /// The prefix used when the fingerprint cannot be a label as is (see ``dedupLabel(for:)``).
    static let hashedLabelPrefix = "cano-fph-"
    /// The marker that ends a visibly shortened description or comment.
    static let cutMarker = "\n\n… (cut by cano-collector: Jira allows 32,767 characters)"

    /// The label that finds this fingerprint's issue again: `cano-fp-<fingerprint>` when the
    /// fingerprint is made of `[A-Za-z0-9._-]` and short enough (Alertmanager's 16 hex
    /// digits always are), else `cano-fph-<FNV-1a 64 of the fingerprint, hex>`: a Jira
    /// label has no spaces and at most 255 characters, and the JQL that searches it is
    /// safest without quotes or backslashes in the value.
    static func dedupLabel(for fingerprint: String) -> String {
        let plain = fingerprint.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
        }
        if plain, !fingerprint.isEmpty, fingerprint.utf8.count <= 200 { return labelPrefix + fingerprint }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in fingerprint.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return hashedLabelPrefix + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The open issue of this fingerprint in the project: the label, a status not in the
    /// Done category, newest first (destinations.md §5.3, Alertmanager's pattern).
    static func openIssueJQL(project: String, label: String) -> String {
        "project = \"\(project)\" AND labels = \"\(label)\" AND statusCategory != Done ORDER BY created DESC"
    }

    /// Every issue of this fingerprint in the project, done ones too, newest first: what a
    /// firing searches when `reopen_transition` may bring a done issue back.
    static func anyIssueJQL(project: String, label: String) -> String {
        "project = \"\(project)\" AND labels = \"\(label)\" ORDER BY created DESC"
    }

    /// How many issues a search that includes done ones reads. An open issue is normally the
    /// newest (none is created while one is open), but one reopened by hand may sit behind
    /// a few done ones; ten covers that without paging.
    static let anyIssueSearchLimit = 10

    /// The `POST /rest/api/3/search/jql` body. For the open issue only, two results are
    /// enough to tell "one" from "none"; with `includeDone`, see ``anyIssueSearchLimit``.
    /// The status is asked for so open and done results can be told apart.
    static func search(project: String, label: String, includeDone: Bool = false) -> JSONValue {
        .object([
            "jql": .string(includeDone ? anyIssueJQL(project: project, label: label) : openIssueJQL(project: project, label: label)),
            "maxResults": .number(Double(includeDone ? anyIssueSearchLimit : 2)),
            "fields": .array([.string("status")]),
        ])
    }

    /// The `POST /rest/api/3/issue` body.
    static func create(_ issue: Issue, config: JiraConfig) -> JSONValue {
        var fields: [String: JSONValue] = [:]
        fields["project"] = .object(["key": .string(config.project)])
        fields["issuetype"] = .object(["name": .string(config.issueType)])
        fields["summary"] = .string(summary(issue))
        fields["description"] = document(description(issue))
        var labels = config.labels
        let dedup = dedupLabel(for: issue.fingerprint)
        if !labels.contains(dedup) { labels.append(dedup) }
        fields["labels"] = .array(labels.map(JSONValue.string))
        if let priority = config.priorities[issue.severity] {
            fields["priority"] = .object(["name": .string(priority)])
        }
        if !config.components.isEmpty {
            fields["components"] = .array(config.components.map { .object(["name": .string($0)]) })
        }
        return .object(["fields": .object(fields)])
    }

    /// The `POST /rest/api/3/issue/{key}/comment` body.
    static func comment(_ text: String) -> JSONValue {
        .object(["body": document(text)])
    }

    /// The comment added when an Issue fires again while its Jira issue is open.
    static func firingComment(_ issue: Issue) -> String {
        var lines = ["Still firing: \(headline(issue))"]
        lines.append("Severity: \(issue.severity.rawValue) · Started: \(RFC3339.format(issue.startsAt))")
        if let text = issue.description, !text.isEmpty { lines += ["", text] }
        lines += ["", "(cano-collector, fingerprint \(issue.fingerprint))"]
        return limitedRichText(lines.joined(separator: "\n"))
    }

    /// The comment added to a done issue before `reopen_transition` reopens it.
    static func firingAgainComment(_ issue: Issue) -> String {
        var lines = ["Firing again: \(headline(issue))"]
        lines.append("Severity: \(issue.severity.rawValue) · Started: \(RFC3339.format(issue.startsAt))")
        if let text = issue.description, !text.isEmpty { lines += ["", text] }
        lines += ["", "(cano-collector, fingerprint \(issue.fingerprint); reopening this issue)"]
        return limitedRichText(lines.joined(separator: "\n"))
    }

    /// The comment added on resolve, before the transition.
    static func resolvedComment(_ issue: Issue) -> String {
        let ended = issue.endsAt.map { " at " + RFC3339.format($0) } ?? ""
        let lines = ["Resolved\(ended): \(headline(issue))", "", "(cano-collector, fingerprint \(issue.fingerprint))"]
        return limitedRichText(lines.joined(separator: "\n"))
    }

    /// The title, or something that says what fired.
    static func headline(_ issue: Issue) -> String {
        if !issue.title.isEmpty { return issue.title }
        return issue.aggregationKey.isEmpty ? "cano-collector alert" : issue.aggregationKey
    }

    /// The headline on one line, within Jira's 255 characters (UTF-16 code units).
    static func summary(_ issue: Issue) -> String {
        // A summary is one line: Jira rejects line breaks in it.
        var oneLine = ""
        for scalar in headline(issue).unicodeScalars {
            oneLine.unicodeScalars.append(scalar.properties.generalCategory == .control ? " " : scalar)
        }
        return Truncation.truncate(oneLine, to: JiraLimits.summary, in: .utf16CodeUnits)
    }

    /// The Issue as text: what happened, where, links and the enrichers' context.
    static func description(_ issue: Issue) -> String {
        var lines: [String] = []
        if let text = issue.description, !text.isEmpty {
            lines.append(text)
            lines.append("")
        }
        lines += issue.diagnosisLines
        if let cluster = issue.cluster, !cluster.isEmpty { lines.append("Cluster: \(cluster)") }
        let s = issue.subject
        let path = [s.namespace, s.name].compactMap { $0?.isEmpty == false ? $0 : nil }.joined(separator: "/")
        let subject = [s.kind ?? "", path].filter { !$0.isEmpty }.joined(separator: " ")
        if !subject.isEmpty {
            var extra: [String] = []
            if let node = s.node, !node.isEmpty { extra.append("node \(node)") }
            if let container = s.container, !container.isEmpty { extra.append("container \(container)") }
            lines.append("Subject: \(subject)" + (extra.isEmpty ? "" : " (\(extra.joined(separator: ", ")))"))
        }
        lines.append("Severity: \(issue.severity.rawValue) · Source: \(issue.source.rawValue) · Started: \(RFC3339.format(issue.startsAt))")
        lines.append("Fingerprint: \(issue.fingerprint)")
        if !s.labels.isEmpty {
            lines.append("")
            lines.append("Labels:")
            lines += s.labels.sorted { $0.key < $1.key }.map { "- \($0.key)=\($0.value)" }
        }
        lines += issue.plainTextContext
        lines.append("")
        // Says why the label matters: removing it makes the next firing open a new issue.
        lines.append("Created by cano-collector: repeats and the resolve are added as comments. It finds this issue again by its label \(dedupLabel(for: issue.fingerprint)).")
        return limitedRichText(lines.joined(separator: "\n"))
    }

    /// `text` cut visibly to ``JiraLimits/richTextBudget`` characters (UTF-16).
    static func limitedRichText(_ text: String) -> String {
        Truncation.truncate(text, to: JiraLimits.richTextBudget, in: .utf16CodeUnits, marker: cutMarker)
    }

    /// Text as an ADF document: one paragraph per block of lines separated by a blank line,
    /// line breaks inside a paragraph as `hardBreak` nodes. ADF rejects empty text nodes, so
    /// empty lines make none.
    static func document(_ text: String) -> JSONValue {
        var paragraphs: [JSONValue] = []
        var current: [JSONValue] = []
        func flush() {
            // Drop a trailing hard break: it would render as an empty line.
            while case .object(let last)? = current.last, last["type"] == .string("hardBreak") { current.removeLast() }
            if !current.isEmpty { paragraphs.append(.object(["type": .string("paragraph"), "content": .array(current)])) }
            current = []
        }
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if line.allSatisfy(\.isWhitespace) {
                flush()
                continue
            }
            if !current.isEmpty { current.append(.object(["type": .string("hardBreak")])) }
            current.append(.object(["type": .string("text"), "text": .string(String(line))]))
        }
        flush()
        if paragraphs.isEmpty { paragraphs.append(.object(["type": .string("paragraph"), "content": .array([])])) }
        return .object(["type": .string("doc"), "version": .number(1), "content": .array(paragraphs)])
    }
}
