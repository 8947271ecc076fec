import CanoSDK

/// `pod_logs`: the log of the container that failed, as a file plus a markdown excerpt
/// of its last lines.
///
/// Parameters: `container` (default: the subject's, else the one that died last),
/// `previous` (`auto`, true, false; auto reads the previous container when there was
/// one, which is where an OOM kill or crash left its last words), `current` (default
/// true), `tail_lines` (200), `limit_bytes` (131072), `since` ("15m"), `grep` (a regex;
/// only matching lines are kept), `redact` (true), `excerpt_lines` (15).
///
/// The byte limit is asked of the API server (limitBytes) and enforced again here, so a
/// server or proxy that ignores it still cannot push 50 MB into an Issue.
struct PodLogsEnricher: KubeEnricher {
    let api: KubeAPI
    let name = "pod_logs"
    var displayName: String { "pod logs" }

    struct Options {
        var container: String?
        var previous: Bool?
        var current = true
        var tailLines = 200
        var limitBytes = 128 * 1024
        var since: Duration?
        var grep: String?
        var redact = true
        var excerptLines = 15

        init(_ p: EnricherParameters) throws(EnricherFailure) {
            container = try p.string("container")
            // `previous: true` (a YAML boolean) or `previous: auto`.
            if p.values["previous"]?.stringValue?.lowercased() == "auto" {
                previous = nil
            } else {
                do { previous = try p.bool("previous") } catch {
                    throw EnricherFailure(.invalidParameters, "parameter previous must be auto, true or false")
                }
            }
            current = try p.bool("current") ?? true
            tailLines = try p.int("tail_lines", in: 1...100_000) ?? tailLines
            limitBytes = try p.int("limit_bytes", in: 1024...(64 << 20)) ?? limitBytes
            since = try p.duration("since")
            grep = try p.string("grep")
            if let grep {
                do { _ = try Regex(grep) } catch { throw EnricherFailure(.invalidParameters, "parameter grep is not a valid regex: \(error)") }
            }
            redact = try p.bool("redact") ?? true
            excerptLines = try p.int("excerpt_lines", in: 0...200) ?? excerptLines
        }
    }

    func validate(_ parameters: EnricherParameters) throws(EnricherFailure) { _ = try Options(parameters) }

    func enrich(_ issue: Issue, parameters: EnricherParameters, deadline: ContinuousClock.Instant) throws(EnricherFailure) -> [Enrichment] {
        let options = try Options(parameters)
        guard let target = KubeTarget.of(issue), let pod = try PodLookup.pods(for: target, api: api).first else { return [] }
        let podName = PodLookup.name(pod)
        let namespace = PodLookup.namespace(pod) ?? target.namespace
        guard let namespace, let container = PodLookup.container(in: pod, requested: options.container ?? target.container) else { return [] }
        let status = PodLookup.statuses(pod).first { $0.status["name"]?.stringValue == container }?.status
        let hasPrevious = status?.at("lastState", "terminated") != nil
        let readPrevious = options.previous ?? hasPrevious
        // A waiting container (CrashLoopBackOff) has no current log yet, only a previous one.
        let currentHasLog = status == nil || status?.at("state", "waiting") == nil
        var which: [Bool] = []
        if readPrevious { which.append(true) }
        if options.current && (currentHasLog || !readPrevious) { which.append(false) }
        var out: [Enrichment] = []
        var failures: [EnricherFailure] = []
        for previous in which {
            if ContinuousClock.now >= deadline { throw EnricherFailure(.timedOut, "ran out of time reading logs") }
            do {
                let text = try read(namespace: namespace, pod: podName, container: container, previous: previous, options)
                out.append(Self.render(text, pod: podName, container: container, previous: previous, options: options))
            } catch {
                if error.code == .invalidParameters { throw error }
                failures.append(error)
            }
        }
        // One log that cannot be read must not hide the other one.
        if out.isEmpty, let first = failures.first { throw first }
        for failure in failures {
            out.append(Enrichment(type: "pod_logs", title: nil, blocks: [.markdown("_pod logs: \(failure.message)_")]))
        }
        return out
    }

    private func read(namespace: String, pod: String, container: String, previous: Bool, _ o: Options) throws(EnricherFailure) -> String {
        var query: [(String, String)] = [("container", container), ("limitBytes", String(o.limitBytes))]
        if previous { query.append(("previous", "true")) }
        if o.grep == nil { query.append(("tailLines", String(o.tailLines))) }
        if let since = o.since { query.append(("sinceSeconds", String(max(1, since.components.seconds)))) }
        let path = "/api/v1/namespaces/\(PercentEncoding.encode(namespace))/pods/\(PercentEncoding.encode(pod))/log" + KubeAPI.queryString(query)
        let what = "\(previous ? "previous " : "")log of \(namespace)/\(pod) container \(container)"
        let body = try api.get(path, what: what)
        // Cut before decoding or filtering anything: the server may have ignored limitBytes.
        let capped = body.count > o.limitBytes ? Array(body.suffix(o.limitBytes)) : body
        var text = LogText.tail(String(decoding: capped, as: UTF8.self), bytes: o.limitBytes)
        if let grep = o.grep, let regex = try? Regex(grep) { text = LogText.filter(text, regex) }
        text = LogText.tail(text, lines: o.tailLines)
        return o.redact ? Redactor.redact(text) : text
    }

    static func render(_ text: String, pod: String, container: String, previous: Bool, options: Options) -> Enrichment {
        let label = previous ? "previous container" : "current container"
        let title = "Logs of \(container) (\(label))"
        guard !text.isEmpty else {
            return Enrichment(type: "pod_logs", title: title, blocks: [.markdown("_no log lines\(options.grep != nil ? " matching the filter" : "")_")])
        }
        var blocks: [Block] = []
        if options.excerptLines > 0 {
            let excerpt = LogText.tail(text, lines: options.excerptLines)
            blocks.append(.markdown("Last lines of `\(container)` (\(label)):\n" + LogText.fenced(excerpt)))
        }
        let file = "\(pod)-\(container)\(previous ? "-previous" : "").log"
        blocks.append(.file(Block.File(name: file, mimeType: "text/plain", bytes: Array((text + "\n").utf8))))
        return Enrichment(type: "pod_logs", title: title, blocks: blocks)
    }
}
