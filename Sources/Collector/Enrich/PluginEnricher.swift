#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK

/// An enricher plugin (kind enricher, loaded through the C ABI) as an ``Enricher``.
///
/// The host passes the Issue JSON; the plugin answers a JSON array of enrichments in
/// `result.payload` (the Issue schema's `enrichments` items). It reads the cluster only
/// through the host's `kube_get` service, which is limited to read-only GETs (see
/// ``ReadOnlyKubeReader``), so a plugin never holds cluster credentials.
public struct PluginEnricher: Enricher {
    /// The created plugin instance (its name is the configured enricher name).
    public let instance: PluginInstance
    /// The configured name workflows use.
    public var name: String { instance.name }
    /// Notes name the configured enricher.
    public var displayName: String { instance.name }

    /// Wraps a created instance of an enricher plugin.
    public init(instance: PluginInstance) { self.instance = instance }

    /// Creates one instance per configured enricher plugin. Refuses names missing from
    /// the catalog (with the loader's reason when the file was refused) and plugins that
    /// are destinations.
    public static func make(
        _ configs: [EnricherPluginConfig], catalog: PluginCatalog, services: PluginServices
    ) throws(EnrichmentSetupError) -> [PluginEnricher] {
        var services = services
        services.kube = services.kube.map { ReadOnlyKubeReader($0) }
        var out: [PluginEnricher] = []
        for config in configs {
            guard let plugin = catalog.plugin(named: config.type) else {
                let why = catalog.refusal(forName: config.type).map { ": \($0)" } ?? "; no loaded plugin declares that name"
                throw EnrichmentSetupError(.pluginUnavailable, "enricher plugin \"\(config.name)\" needs plugin type \"\(config.type)\"\(why)")
            }
            guard plugin.kind == .enricher else {
                throw EnrichmentSetupError(.pluginUnavailable, "plugin \"\(config.type)\" (\(plugin.path)) is a \(plugin.kind.rawValue), not an enricher")
            }
            let configJSON: [UInt8]
            do { configJSON = try IssueCoding.encode(config.config) } catch {
                throw EnrichmentSetupError(.pluginUnavailable, "enricher plugin \"\(config.name)\": config does not encode as JSON")
            }
            do {
                out.append(PluginEnricher(instance: try PluginInstance(plugin: plugin, name: config.name, configJSON: configJSON, services: services)))
            } catch {
                throw EnrichmentSetupError(.pluginUnavailable, "enricher plugin \"\(config.name)\": \(error)")
            }
        }
        return out
    }

    /// Calls the plugin's enrich() (blocking; the stage runs it on its own thread) and
    /// decodes the enrichments it returned.
    public func enrich(_ issue: Issue, parameters: EnricherParameters, deadline: ContinuousClock.Instant) throws(EnricherFailure) -> [Enrichment] {
        let json: [UInt8]
        do { json = try IssueCoding.encode(issue) } catch { throw EnricherFailure(.unavailable, "the Issue does not encode as JSON") }
        let remaining = deadline - ContinuousClock.now
        let deadlineUnixMillis = Int64((Date().timeIntervalSince1970 + max(0, remaining.seconds)) * 1000)
        let context = DeliveryContext(attempt: 1, deadlineUnixMillis: deadlineUnixMillis, deadline: deadline,
                                      idempotencyKey: "enrich:\(issue.fingerprint)", reference: nil)
        let result = instance.call(.enrich, issueJSON: json, context: context)
        guard result.status == 1 else {
            let what = result.isValidStatus ? "failed" : "returned an invalid status \(result.status)"
            throw EnricherFailure(.unavailable, "\(what)\(result.message.isEmpty ? "" : ": \(result.message)")")
        }
        guard let payload = result.payload, !payload.isEmpty else { return [] }
        do {
            return try IssueCoding.decode([Enrichment].self, from: payload)
        } catch let error as DecodingError {
            throw EnricherFailure(.unavailable, "returned enrichments that do not match the Issue schema (\(error.readableDescription))")
        } catch {
            throw EnricherFailure(.unavailable, "returned enrichments that are not JSON")
        }
    }
}

/// The ``KubeReader`` enricher plugins get: GETs of read-only API paths only.
///
/// `kube_get` is a GET, but some GET paths act (pods/exec and attach upgrade to a
/// stream, portforward, the proxy subresources reach into workloads), some reveal
/// credentials (Secrets, service account tokens), and watches never end. Those are
/// refused, as are paths that try to climb out with dot segments.
public struct ReadOnlyKubeReader: KubeReader {
    private let base: any KubeReader
    /// Restricts `base`.
    public init(_ base: any KubeReader) { self.base = base }

    /// Forwards allowed paths; nil (the ABI's -1) for the rest.
    public func get(path: String) -> (status: Int, body: [UInt8])? {
        guard Self.allows(path) else { return nil }
        return base.get(path: path)
    }

    static let refusedResources: Set<String> = ["secrets", "exec", "attach", "portforward", "proxy", "token", "serviceaccounts"]

    /// True for read-only API paths a plugin may GET.
    public static func allows(_ path: String) -> Bool {
        guard path.hasPrefix("/api/") || path.hasPrefix("/apis/") || path == "/api" || path == "/apis" || path == "/version" else { return false }
        let parts = path.split(separator: "?", maxSplits: 1)
        let route = parts.first.map(String.init) ?? ""
        let lowered = route.lowercased()
        guard !lowered.contains("%2e"), !lowered.contains("%2f"), !route.contains("\\") else { return false }
        let segments = route.split(separator: "/").map(String.init)
        if segments.contains(where: { $0 == "." || $0 == ".." || $0 == "watch" || refusedResources.contains($0) }) { return false }
        if parts.count == 2 {
            for item in parts[1].split(separator: "&") {
                let key = item.split(separator: "=", maxSplits: 1).first.map { $0.lowercased() } ?? ""
                if key == "watch" { return false }
            }
        }
        return true
    }
}
