import Foundation
import KubeClient
import Logging

/// What a ``Reflector`` feeds: a detector. Called only from the reflector's own thread.
protocol ReflectorHandler<Object>: Sendable {
    associatedtype Object: KubeObject
    /// A (re)list begins. `initial` is the first sync since start: what it shows is the
    /// state of the world before us, never news.
    func beginSync(initial: Bool)
    /// One listed object.
    func listed(_ object: Object, initial: Bool)
    /// The list is complete: objects not listed since `beginSync` are gone.
    func endSync(initial: Bool)
    /// A watch event (never a bookmark).
    func event(_ event: WatchEvent<Object>)
}

/// The informer loop for one resource, on its own thread: list (paginated), then watch
/// from the list's resourceVersion with bookmarks; resume from the last resourceVersion
/// when the watch ends or breaks; relist on 410 Gone; back off on errors, honouring
/// Retry-After. No object cache: the handler keeps the few fields it needs.
final class Reflector<Handler: ReflectorHandler>: Sendable {
    typealias Object = Handler.Object
    let name: String
    let client: KubeClient
    let resource: KubeResource
    let namespace: String?
    let options: ListOptions
    let watchTimeoutSeconds: Int
    /// When false, the initial list only fetches a resourceVersion (one tiny page): the
    /// handler ignores initial objects anyway (Warning events).
    let initialItemsNeeded: Bool
    let handler: Handler
    let stop: StopSignal
    let logger: Logger
    /// Called once, after the initial list.
    let onSynced: @Sendable (String) -> Void
    /// Told when this source's view is current and when it broke (the watermark).
    let health: SourceHealth?

    init(
        name: String, client: KubeClient, resource: KubeResource, namespace: String?, options: ListOptions,
        watchTimeoutSeconds: Int, initialItemsNeeded: Bool = true, handler: Handler, stop: StopSignal, logger: Logger,
        health: SourceHealth? = nil, onSynced: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.health = health
        self.onSynced = onSynced
        self.name = name
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.options = options
        self.watchTimeoutSeconds = watchTimeoutSeconds
        self.initialItemsNeeded = initialItemsNeeded
        self.handler = handler
        self.stop = stop
        self.logger = logger
    }

    /// Runs until `stop` fires. Blocking: call it on a dedicated thread.
    func run() {
        var resourceVersion: String?
        var initial = true
        var failures = 0
        while !stop.isStopped {
            if resourceVersion == nil {
                do {
                    resourceVersion = try list(initial: initial)
                    health?.markCurrent()
                    if initial { onSynced(name) }
                    initial = false
                    failures = 0
                } catch {
                    if error.code == .stopped { return }
                    health?.markBroken()
                    failures += 1
                    if !backOff(error, failures: failures, what: "list") { return }
                    continue
                }
            }
            do {
                var opts = options
                opts.resourceVersion = resourceVersion
                opts.allowWatchBookmarks = true
                opts.timeoutSeconds = watchTimeoutSeconds
                var last = resourceVersion
                let handler = self.handler
                let health = self.health
                let end = try client.watch(Object.self, resource, namespace: namespace, options: opts, stop: stop) { event in
                    health?.markCurrent()
                    if let rv = event.resourceVersion, !rv.isEmpty { last = rv }
                    if case .bookmark = event { return }
                    handler.event(event)
                }
                resourceVersion = last
                failures = 0
                // A watch the server ended cleanly delivered everything up to its end.
                health?.markCurrent()
                if end == .stopped { return }
                logger.debug("watch closed by the server; resuming", metadata: ["source": "\(name)", "resourceVersion": "\(last ?? "")"])
            } catch {
                if error.code == .stopped || stop.isStopped { return }
                health?.markBroken()
                if error.code == .gone {
                    // Our resourceVersion was compacted away: only a relist is consistent.
                    logger.info("watch resourceVersion expired; relisting", metadata: ["source": "\(name)"])
                    resourceVersion = nil
                    continue
                }
                failures += 1
                if !backOff(error, failures: failures, what: "watch") { return }
            }
        }
    }

    private func list(initial: Bool) throws(KubeError) -> String {
        if initial, !initialItemsNeeded {
            var opts = options
            opts.limit = 1
            let response = try client.request(path: resource.path(namespace: namespace), query: [("limit", "1")] + Self.selectors(opts),
                                              accept: opts.metadataOnly ? KubeClient.acceptMetadataList : "application/json", stop: stop)
            let meta = try? JSONDecoder().decode(ListEnvelope.self, from: Data(response.body))
            handler.beginSync(initial: true)
            handler.endSync(initial: true)
            return meta?.metadata.resourceVersion ?? ""
        }
        handler.beginSync(initial: initial)
        let handler = self.handler
        let rv = try client.list(Object.self, resource, namespace: namespace, options: options, stop: stop) { page throws(KubeError) in
            for object in page { handler.listed(object, initial: initial) }
        }
        handler.endSync(initial: initial)
        logger.debug("listed", metadata: ["source": "\(name)", "resourceVersion": "\(rv)"])
        return rv
    }

    private static func selectors(_ o: ListOptions) -> [(String, String)] {
        var q: [(String, String)] = []
        if let l = o.labelSelector { q.append(("labelSelector", l)) }
        if let f = o.fieldSelector { q.append(("fieldSelector", f)) }
        return q
    }

    /// Waits before the next try; false when stopped meanwhile.
    private func backOff(_ error: KubeError, failures: Int, what: String) -> Bool {
        let base = min(30.0, 0.5 * pow(2.0, Double(min(failures - 1, 6))))
        var delay = Duration.milliseconds(Int64(base * 1000 * Double.random(in: 0.5...1.0)))
        if let ra = error.retryAfter { delay = min(ra, .seconds(120)) }
        let level: Logger.Level = error.code == .forbidden || failures > 3 ? .error : .warning
        logger.log(level: level, "Kubernetes \(what) failed; retrying", metadata: [
            "source": "\(name)", "error": "\(error)", "retryIn": "\(delay)",
        ])
        return stop.wait(delay)
    }
}

private struct ListEnvelope: Decodable {
    var metadata: ListMeta
}
