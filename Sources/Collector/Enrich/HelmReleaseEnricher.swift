#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import CZlib

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `helm_release`: chart, version, status and description of a Helm release, its revision
/// history, and the hooks that failed.
///
/// The Helm source watches only release Secrets' metadata; the payload (the whole
/// rendered manifest, often hundreds of KB) is read only here, on demand, for the one
/// release an Issue is about. The release name is the subject's name (or its `name`
/// label, as on the Secret), in the subject's namespace.
struct HelmReleaseEnricher: KubeEnricher {
    let api: KubeAPI
    let name = "helm_release"
    var displayName: String { "helm release" }

    /// Largest decompressed release accepted (a gzip bomb stops here).
    static let maxReleaseBytes = 32 << 20

    func validate(_ parameters: EnricherParameters) throws(EnricherFailure) { _ = try parameters.int("history", in: 1...50) }

    func enrich(_ issue: Issue, parameters: EnricherParameters, deadline: ContinuousClock.Instant) throws(EnricherFailure) -> [Enrichment] {
        let historyLimit = try parameters.int("history", in: 1...50) ?? 10
        guard let namespace = issue.subject.namespace,
              let release = issue.subject.labels["name"] ?? issue.subject.labels["release"] ?? Self.releaseName(issue.subject)
        else { return [] }
        let secrets = try api.items(kind: "Secret", namespace: namespace, query: [("labelSelector", "owner=helm,name=\(release)")],
                                    what: "Helm release \(namespace)/\(release)")
        guard !secrets.isEmpty else { throw EnricherFailure(.notFound, "Helm release \(namespace)/\(release) not found") }
        let revisions = secrets.sorted { Self.revision($0) > Self.revision($1) }.prefix(historyLimit)
        var decoded: [(secret: JSONValue, release: JSONValue?)] = []
        for secret in revisions { decoded.append((secret, try? Self.decodeRelease(secret))) }
        return [Self.render(release: release, decoded)]
    }

    /// "sh.helm.release.v1.NAME.vN" → NAME; otherwise the subject name itself.
    static func releaseName(_ subject: Subject) -> String? {
        guard let name = subject.name else { return nil }
        if name.hasPrefix("sh.helm.release.v1."), let dot = name.lastIndex(of: ".") {
            return String(name[name.index(name.startIndex, offsetBy: "sh.helm.release.v1.".count)..<dot])
        }
        return name
    }

    static func revision(_ secret: JSONValue) -> Int {
        Int(secret.at("metadata", "labels", "version")?.text ?? "") ?? 0
    }

    /// data.release = base64(base64(gzip(JSON))): the API's base64 around Helm's own.
    static func decodeRelease(_ secret: JSONValue) throws(EnricherFailure) -> JSONValue {
        guard let outer = secret.at("data", "release")?.text, let helmText = Data(base64Encoded: outer),
              let compressed = Data(base64Encoded: helmText) else {
            throw EnricherFailure(.unavailable, "the release Secret has no readable data.release")
        }
        var json = Array(compressed)
        if json.count >= 2, json[0] == 0x1f, json[1] == 0x8b { json = try gunzip(json) }
        do { return try IssueCoding.decode(JSONValue.self, from: json) } catch {
            throw EnricherFailure(.unavailable, "the release payload is not JSON")
        }
    }

    static func gunzip(_ input: [UInt8]) throws(EnricherFailure) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        let rc = input.withUnsafeBufferPointer { cano_gunzip($0.baseAddress, $0.count, maxReleaseBytes, &out, &length) }
        defer { free(out) }
        switch rc {
        case 0: return out.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
        case -2: throw EnricherFailure(.unavailable, "the release payload inflates past \(maxReleaseBytes) bytes")
        default: throw EnricherFailure(.unavailable, "the release payload is not valid gzip")
        }
    }

    static func render(release: String, _ revisions: [(secret: JSONValue, release: JSONValue?)]) -> Enrichment {
        var blocks: [Block] = []
        if let latest = revisions.first {
            let r = latest.release
            let chart = r?.at("chart", "metadata")
            var rows: [[String]] = [
                ["Release", release],
                ["Revision", latest.secret.at("metadata", "labels", "version")?.text ?? r?["version"]?.text ?? "?"],
                ["Status", r?.at("info", "status")?.text ?? latest.secret.at("metadata", "labels", "status")?.text ?? "?"],
            ]
            if let chart {
                rows.append(["Chart", "\(chart["name"]?.text ?? "?")-\(chart["version"]?.text ?? "?")"])
                if let app = chart["appVersion"]?.text { rows.append(["App version", app]) }
            }
            if let d = r?.at("info", "description")?.text { rows.append(["Description", d]) }
            if let t = r?.at("info", "last_deployed")?.text { rows.append(["Last deployed", t]) }
            blocks.append(.table(Block.Table(headers: ["Helm release", ""], rows: rows)))
            let failedHooks = (r?["hooks"]?.arrayValue ?? []).filter { $0.at("last_run", "phase")?.text == "Failed" }.map { h in
                let events = (h["events"]?.arrayValue ?? []).compactMap(\.text).joined(separator: ", ")
                return "hook `\(h["name"]?.text ?? "?")` (\(h["kind"]?.text ?? "?"), \(events)) failed"
                    + (h.at("last_run", "completed_at")?.text.map { " at \($0)" } ?? "")
            }
            if !failedHooks.isEmpty { blocks.append(.list(failedHooks)) }
        }
        let history = revisions.map { entry -> [String] in
            let labels = entry.secret.at("metadata", "labels")
            let chart = entry.release?.at("chart", "metadata")
            return [
                labels?["version"]?.text ?? "?",
                entry.release?.at("info", "status")?.text ?? labels?["status"]?.text ?? "?",
                chart.map { "\($0["name"]?.text ?? "?")-\($0["version"]?.text ?? "?")" } ?? "",
                entry.release?.at("info", "last_deployed")?.text ?? entry.secret.at("metadata", "creationTimestamp")?.text ?? "",
                String((entry.release?.at("info", "description")?.text ?? "").prefix(200)),
            ]
        }
        blocks.append(.table(Block.Table(headers: ["Revision", "Status", "Chart", "Updated", "Description"], rows: history)))
        return Enrichment(type: "helm_release", title: "Helm release \(release)", blocks: blocks)
    }
}
