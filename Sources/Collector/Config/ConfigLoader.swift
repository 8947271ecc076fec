#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import PrometheusAPI
import Yams

/// Reads the YAML configuration file into a ``CollectorConfig``.
///
/// Every problem is collected with its line, column and key path; unknown keys are errors
/// (a typo must not silently disable an alert route). See README.md for the format.
public enum ConfigLoader {
    /// Loads and validates `path`.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> CollectorConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, problems: [.init(location: "", path: "", message: "cannot read the file: \(error.localizedDescription)")])
        }
        return try parse(text, file: path, environment: environment)
    }

    /// Parses YAML text; `file` only names it in errors and resolves relative `*_file` paths.
    public static func parse(
        _ text: String, file: String = "<config>", environment: [String: String] = [:]
    ) throws(ConfigError) -> CollectorConfig {
        let root: Node?
        do {
            root = try YAMLReader.compose(text)
        } catch let error as YamlError {
            throw ConfigError(file: file, problems: [yamlProblem(error)])
        } catch {
            throw ConfigError(file: file, problems: [.init(location: "", path: "", message: "not valid YAML: \(error)")])
        }
        // Absolute, so a path key handed to a plugin (Slack's ca_file) does not depend on
        // the working directory staying what it was at start.
        let directory = file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : "."
        let baseDirectory = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
        let reader = YAMLReader(environment: environment, baseDirectory: baseDirectory) { path in
            try String(contentsOfFile: path, encoding: .utf8)
        }
        var config = CollectorConfig()
        if let root {
            interpret(YAMLReader.Located(node: root, path: ""), into: &config, reader)
        } else {
            reader.problem(path: "", "the file is empty")
        }
        validate(config, reader)
        // Registered before any problem is reported, so the errors themselves are scrubbed.
        SecretScrubber.shared.register(reader.secretValues + SecretScrubber.secrets(in: config))
        guard reader.problems.isEmpty else { throw ConfigError(file: file, problems: reader.problems) }
        return config
    }

    // MARK: - Sections

    private static func interpret(_ root: YAMLReader.Located, into config: inout CollectorConfig, _ r: YAMLReader) {
        var uiAt: YAMLReader.Located?
        for (key, value) in r.mapping(root, allowed: ["cluster", "data_dir", "server", "plugins", "alertmanager", "destinations", "routes", "default_destinations", "default_notify", "time_intervals", "kubernetes", "enrichment", "diagnosis", "prometheus", "storage", "ui"]) {
            switch key {
            case "cluster": config.cluster = r.string(value)
            case "data_dir": if let v = r.string(value) { config.dataDirectory = v }
            case "server": config.server = server(value, r)
            case "plugins":
                for (k, v) in r.mapping(value, allowed: ["directories", "paths"]) {
                    if k == "directories" { config.plugins.directories = r.strings(v) } else { config.plugins.paths = r.strings(v) }
                }
            case "alertmanager": config.alertmanager = alertmanager(value, r)
            case "destinations": config.destinations = r.sequence(value).compactMap { destination($0, r) }
            case "routes": config.routes = r.sequence(value).compactMap { route($0, r) }
            case "default_destinations": config.defaultDestinations = r.strings(value)
            case "default_notify": config.defaultNotify = notifyPolicy(value, r, keys: nil)
            case "time_intervals": config.timeIntervals = TimeIntervalParser.parse(value, r)
            case "enrichment": config.enrichment = EnrichmentConfigParser.parse(value, r)
            case "diagnosis": config.diagnosis = diagnosis(value, r)
            case "prometheus": config.prometheus = prometheus(value, r)
            case "kubernetes": config.kubernetes = kubernetes(value, r)
            case "storage": config.storage = storage(value, r)
            case "ui":
                config.ui = console(value, r)
                uiAt = value
            default: break
            }
        }
        config.kubernetes.clusterName = config.cluster
        // Whoever may read the console must not thereby hold the admin credential.
        if let admin = config.server.adminToken, let readAuth = config.ui.auth, readAuth.credential == admin.value, let uiAt {
            r.problem(uiAt, "ui.auth must differ from server.admin_token: whoever reads the console could also retry and silence")
        }
    }

    private static func diagnosis(_ at: YAMLReader.Located, _ r: YAMLReader) -> DiagnosisConfig {
        var d = DiagnosisConfig()
        for (key, value) in r.mapping(at, allowed: ["enabled", "timeout", "llm"]) {
            switch key {
            case "enabled": if let v = r.bool(value) { d.enabled = v }
            case "timeout": if let v = r.positiveDuration(value, name: "diagnosis.timeout") { d.timeout = v }
            case "llm": d.llm = llm(value, r)
            default: break
            }
        }
        return d
    }

    /// `prometheus: {url, bearer_token(_file), username, password(_file), ca_file, lookback}`.
    private static func prometheus(_ at: YAMLReader.Located, _ r: YAMLReader) -> PrometheusConfig? {
        var c = PrometheusConfig(url: "")
        for (key, value) in r.mapping(at, allowed: ["url", "bearer_token", "username", "password", "ca_file", "lookback"]) {
            switch key {
            case "url": if let v = r.httpURL(value, name: "prometheus.url", example: "http://prometheus-operated.monitoring:9090") { c.url = v }
            case "bearer_token": c.bearerToken = r.string(value).map(YAMLReader.secret)
            case "username": c.username = r.string(value)
            case "password": c.password = r.string(value).map(YAMLReader.secret)
            case "ca_file": c.caFile = r.string(value)
            case "lookback":
                guard let v = r.duration(value) else { break }
                if v >= .seconds(60) && v <= .seconds(7 * 86_400) { c.lookback = v } else { r.problem(value, "prometheus.lookback must be from 1m to 7d") }
            default: break
            }
        }
        if c.bearerToken != nil && (c.username != nil || c.password != nil) {
            r.problem(at, "prometheus takes bearer_token or username and password, not both")
        } else if (c.username == nil) != (c.password == nil) {
            r.problem(at, "prometheus needs username and password together")
        }
        guard !c.url.isEmpty else {
            if r.locations[at.path + ".url"] == nil { r.problem(at, "prometheus needs url (e.g. url: http://prometheus-operated.monitoring:9090)") }
            return nil
        }
        return c
    }

    private static func llm(_ at: YAMLReader.Located, _ r: YAMLReader) -> LLMConfig? {
        var url: String?
        var model: String?
        var c = LLMConfig(url: "", model: "")
        let keys: Set<String> = ["url", "model", "api_key", "timeout", "max_tokens", "max_prompt_bytes", "min_severity", "ca_file",
                                 "input_price_per_million", "output_price_per_million"]
        for (key, value) in r.mapping(at, allowed: keys) {
            switch key {
            case "url": url = r.httpURL(value, name: "llm.url", example: "https://api.openai.com/v1")
            case "model": model = r.string(value)
            case "api_key":
                if let v = r.string(value).map(YAMLReader.secret), !v.isEmpty { c.apiKey = Secret(v) } else { r.problem(value, "llm.api_key is empty") }
            case "timeout": if let v = r.positiveDuration(value, name: "llm.timeout") { c.timeout = v }
            case "max_tokens": if let v = r.int(value, range: 16...100_000) { c.maxTokens = v }
            case "max_prompt_bytes": if let v = r.int(value, range: 1024...(1 << 20)) { c.maxPromptBytes = v }
            case "min_severity": if let v = r.severity(value) { c.minSeverity = v }
            case "ca_file": c.caFile = r.string(value)
            case "input_price_per_million": c.inputPricePerMillion = r.double(value)
            case "output_price_per_million": c.outputPricePerMillion = r.double(value)
            default: break
            }
        }
        guard let url, let model, !model.isEmpty else {
            // A url that was given but refused has its own problem already.
            let missing = [(url == nil && r.locations[at.path + ".url"] == nil) ? "url" : nil, (model ?? "").isEmpty ? "model" : nil].compactMap { $0 }
            if !missing.isEmpty {
                r.problem(at, "llm needs \(missing.joined(separator: " and ")) (e.g. url: https://api.openai.com/v1, model: gpt-4o-mini)")
            }
            return nil
        }
        c.url = url
        c.model = model
        return c
    }

    private static func server(_ at: YAMLReader.Located, _ r: YAMLReader) -> ServerConfig {
        var server = ServerConfig()
        for (key, value) in r.mapping(at, allowed: ["host", "port", "max_body_bytes", "shutdown_grace", "auth", "admin_token", "external_url"]) {
            switch key {
            case "host": if let v = r.string(value) { server.host = v }
            case "port": if let v = r.int(value, range: 0...65535) { server.port = v }
            case "max_body_bytes": if let v = r.int(value, range: 1024...(1 << 30)) { server.maxBodyBytes = v }
            case "shutdown_grace": if let v = r.duration(value) { server.shutdownGrace = v }
            case "auth": server.auth = auth(value, r)
            case "admin_token":
                if let token = r.string(value), !token.isEmpty { server.adminToken = Secret(token) } else { r.problem(value, "admin_token is empty") }
            case "external_url":
                // Links built from it go to chat messages: only an absolute http(s) URL.
                if let text = r.string(value), let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil,
                   url.query == nil, url.fragment == nil {
                    server.externalURL = text.hasSuffix("/") ? String(text.dropLast()) : text
                } else {
                    r.problem(value, "external_url must be an absolute http(s) URL without query, such as https://cano.example.com")
                }
            default: break
            }
        }
        // The admin credential must be more than the intake's: whoever holds the intake token
        // (Alertmanager's config) must not also be able to write silences.
        if let admin = server.adminToken {
            if admin.value == server.auth.credential {
                r.problem(at, "server.admin_token must differ from the intake's credential (server.auth): whoever sends alerts could also write silences")
            }
        }
        return server
    }

    /// `ui: {enabled, auth, history}`.
    private static func console(_ at: YAMLReader.Located, _ r: YAMLReader) -> ConsoleConfig {
        var ui = ConsoleConfig()
        for (key, value) in r.mapping(at, allowed: ["enabled", "auth", "history"]) {
            switch key {
            case "enabled": if let v = r.bool(value) { ui.enabled = v }
            case "auth": ui.auth = auth(value, r)
            case "history": if let v = r.int(value, range: 10...100_000) { ui.history = v }
            default: break
            }
        }
        return ui
    }

    private static func storage(_ at: YAMLReader.Located, _ r: YAMLReader) -> StorageConfig {
        var storage = StorageConfig()
        for (key, value) in r.mapping(at, allowed: ["postgres", "sqlite"]) where key == "postgres" {
            var url: String?
            var postgres = PostgresStorageConfig(url: Secret(""))
            for (k, v) in r.mapping(value, allowed: ["url", "ca_file", "pool_size", "claim_lease"]) {
                switch k {
                case "url": url = r.string(v).map(YAMLReader.secret)
                case "ca_file": postgres.caFile = r.string(v)
                case "pool_size": if let n = r.int(v, range: 1...100) { postgres.poolSize = n }
                case "claim_lease":
                    if let d = r.duration(v) {
                        if d < .seconds(3) { r.problem(v, "claim_lease must be at least 3s (a replica renews its claims every third of it)") } else { postgres.claimLease = d }
                    }
                default: break
                }
            }
            guard let url, !url.isEmpty else {
                r.problem(value, "storage.postgres needs url (or url_file), e.g. postgres://cano@db:5432/cano?sslmode=require")
                continue
            }
            do {
                _ = try PostgresURL(parsing: url)
            } catch {
                r.problem(value, "storage.postgres.url: \(error)")
                continue
            }
            postgres.url = Secret(url)
            storage.postgres = postgres
        }
        return storage
    }

    private static func auth(_ at: YAMLReader.Located, _ r: YAMLReader) -> IntakeAuth {
        var result = IntakeAuth.none
        for (key, value) in r.mapping(at, allowed: ["bearer_token", "basic_auth"]) {
            if result != .none {
                r.problem(value, "give either bearer_token or basic_auth, not both")
                continue
            }
            if key == "bearer_token" {
                if let token = r.string(value), !token.isEmpty { result = .bearer(Secret(token)) } else { r.problem(value, "bearer_token is empty") }
            } else {
                var username: String?
                var password: String?
                for (k, v) in r.mapping(value, allowed: ["username", "password"]) {
                    if k == "username" { username = r.string(v) } else { password = r.string(v) }
                }
                if let username, let password, !username.isEmpty, !password.isEmpty {
                    result = .basic(username: username, password: Secret(password))
                } else {
                    r.problem(value, "basic_auth needs a non-empty username and password (or password_file)")
                }
            }
        }
        return result
    }

    private static func alertmanager(_ at: YAMLReader.Located, _ r: YAMLReader) -> AlertmanagerConfig {
        var am = AlertmanagerConfig()
        for (key, value) in r.mapping(at, allowed: ["severity_mapping", "default_severity"]) {
            if key == "default_severity" {
                if let s = r.severity(value) { am.defaultSeverity = s }
            } else {
                for (label, target) in r.mapping(value, allowed: nil) {
                    if let s = r.severity(target) { am.severityMapping[label.lowercased()] = s }
                }
            }
        }
        return am
    }

    private static func destination(_ at: YAMLReader.Located, _ r: YAMLReader) -> DestinationConfig? {
        var name: String?
        var type: String?
        var config = JSONValue.object([:])
        var policy = DeliveryPolicy()
        var isolation: PluginIsolation?
        var isolationAt: YAMLReader.Located?
        var storm: StormPolicy?
        var location = at.location
        for (key, value) in r.mapping(at, allowed: ["name", "type", "config", "delivery", "isolation", "storm"]) {
            switch key {
            case "name": name = r.string(value)
            case "type":
                type = r.string(value)
                location = value.location
            case "config": config = r.pluginConfig(value, deferFiles: true)
            case "delivery": policy = delivery(value, r)
            case "storm": storm = stormPolicy(value, r)
            case "isolation":
                guard let text = r.string(value) else { break }
                if let parsed = PluginIsolation(rawValue: text) {
                    isolation = parsed
                    isolationAt = value
                } else {
                    r.problem(value, "isolation must be one of \(PluginIsolation.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(text.prefix(64))\"")
                }
            default: break
            }
        }
        guard let name, !name.isEmpty else {
            r.problem(at, "a destination needs a name")
            return nil
        }
        guard let type, !type.isEmpty else {
            r.problem(at, "destination \"\(name)\" needs a type (a plugin name such as webhook or slack, or file)")
            return nil
        }
        if type == FileDestination.typeName, isolation == .process, let isolationAt {
            // Refused rather than ignored: the operator expects containment `file` cannot give.
            r.problem(isolationAt, "destination \"\(name)\": the built-in file destination runs in the collector; isolation: process is for plugins")
        }
        var result = DestinationConfig(name: name, type: type, config: config, delivery: policy, isolation: isolation, location: location)
        result.storm = storm
        return result
    }

    private static func stormPolicy(_ at: YAMLReader.Located, _ r: YAMLReader) -> StormPolicy {
        var p = StormPolicy(threshold: 20)
        var enabled = true
        for (key, value) in r.mapping(at, allowed: ["threshold", "window", "update_interval", "enabled"]) {
            switch key {
            case "enabled": if let v = r.bool(value) { enabled = v }
            case "threshold": if let v = r.int(value, range: 1...1_000_000) { p.threshold = v }
            // Zero would turn the guard off without saying so: refused, as group_interval: 0s is.
            case "window":
                if let v = r.positiveDuration(value, name: "storm.window", hint: " (storm: {enabled: false} turns the guard off)") { p.window = v }
            case "update_interval": if let v = r.positiveDuration(value, name: "storm.update_interval") { p.updateInterval = v }
            default: break
            }
        }
        if !enabled { p.threshold = nil }
        return p
    }

    /// A route's noise-control keys (`keys`: the route's mapping, already read), or the
    /// whole `default_notify` mapping.
    private static func notifyPolicy(_ at: YAMLReader.Located, _ r: YAMLReader, keys: [(key: String, value: YAMLReader.Located)]?) -> NotifyPolicy {
        var p = NotifyPolicy()
        let pairs = keys ?? r.mapping(at, allowed: Self.notifyKeys)
        for (key, value) in pairs {
            switch key {
            case "group_by":
                let labels = r.strings(value)
                p.grouping = labels == ["..."] ? .all : .by(labels)
                if labels.contains("...") && labels.count > 1 { r.problem(value, "group_by: '...' groups by everything and cannot be combined with other labels") }
                // As Alertmanager: no empty names, none twice.
                if labels.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) { r.problem(value, "group_by: a label name is empty") }
                if let twice = Dictionary(grouping: labels, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
                    r.problem(value, "group_by: \"\(twice)\" is listed twice")
                }
            case "group_wait": if let v = r.duration(value) { p.groupWait = v }
            case "group_interval": if let v = r.positiveDuration(value, name: "group_interval") { p.groupInterval = v }
            case "repeat_interval": if let v = r.positiveDuration(value, name: "repeat_interval") { p.repeatInterval = v }
            case "min_duration": if let v = r.duration(value) { p.minDuration = v }
            case "mute_time_intervals": p.muteTimeIntervals = r.strings(value)
            case "active_time_intervals": p.activeTimeIntervals = r.strings(value)
            default: break
            }
        }
        return p
    }

    private static let notifyKeys: Set<String> = ["group_by", "group_wait", "group_interval", "repeat_interval", "min_duration",
                                                  "mute_time_intervals", "active_time_intervals"]

    private static func delivery(_ at: YAMLReader.Located, _ r: YAMLReader) -> DeliveryPolicy {
        var p = DeliveryPolicy()
        let keys: Set<String> = ["max_attempts", "max_age", "initial_backoff", "max_backoff", "queue_limit", "workers", "timeout",
                                 "quarantine_after_crashes", "ordered"]
        for (key, value) in r.mapping(at, allowed: keys) {
            switch key {
            case "max_attempts": if let v = r.int(value, range: 1...1_000_000) { p.maxAttempts = v }
            case "max_age": if let v = r.duration(value) { p.maxAge = v }
            case "initial_backoff": if let v = r.duration(value) { p.initialBackoff = v }
            case "max_backoff": if let v = r.duration(value) { p.maxBackoff = v }
            case "queue_limit": if let v = r.int(value, range: 1...10_000_000) { p.queueLimit = v }
            case "workers": if let v = r.int(value, range: 1...64) { p.workers = v }
            case "timeout": if let v = r.duration(value) { p.timeout = v }
            case "quarantine_after_crashes": if let v = r.int(value, range: 1...100) { p.quarantineAfterCrashes = v }
            case "ordered": if let v = r.bool(value) { p.ordered = v }
            default: break
            }
        }
        if p.initialBackoff > p.maxBackoff { r.problem(at, "initial_backoff is larger than max_backoff") }
        return p
    }

    private static func route(_ at: YAMLReader.Located, _ r: YAMLReader) -> RouteConfig? {
        var route = RouteConfig(matchers: [], destinations: [])
        var matchers: [Matcher] = []
        // Alertmanager's three spellings of a route's conditions; all must hold.
        let pairs = r.mapping(at, allowed: Self.notifyKeys.union(["name", "matchers", "match", "match_re", "destinations", "continue"]))
        route.notify = notifyPolicy(at, r, keys: pairs.filter { Self.notifyKeys.contains($0.key) })
        for (key, value) in pairs {
            switch key {
            case "name": route.name = r.string(value)
            case "matchers": matchers += r.matchers(value)
            case "match": matchers += r.matchMap(value, op: .equal)
            case "match_re": matchers += r.matchMap(value, op: .matchesRegex)
            case "destinations": route.destinations = r.strings(value)
            case "continue": if let v = r.bool(value) { route.continue = v }
            default: break
            }
        }
        route.matchers = matchers
        if route.destinations.isEmpty { r.problem(at, "a route needs at least one destination") }
        return route
    }

    private static func kubernetes(_ at: YAMLReader.Located, _ r: YAMLReader) -> KubernetesConfig {
        var k = KubernetesConfig()
        let keys: Set<String> = ["enabled", "kubeconfig", "context", "pods", "events", "jobs", "helm", "leader_election",
                                 "watch_timeout", "page_size", "renotify_interval", "resolve_after"]
        for (key, value) in r.mapping(at, allowed: keys) {
            switch key {
            case "enabled": if let v = r.bool(value) { k.enabled = v }
            case "kubeconfig": k.kubeconfig = r.string(value)
            case "context": k.context = r.string(value)
            case "pods": k.pods = source(value, r, extra: [], into: k.pods) { _, _ in }
            case "jobs": k.jobs = source(value, r, extra: [], into: k.jobs) { _, _ in }
            case "events":
                var events = k.events
                let base = source(value, r, extra: ["reasons"], into: SourceConfig(enabled: events.enabled, namespaces: events.namespaces)) { key, v in
                    if key == "reasons" { events.reasons = r.strings(v) }
                }
                events.enabled = base.enabled
                events.namespaces = base.namespaces
                k.events = events
            case "helm":
                var helm = k.helm
                let base = source(value, r, extra: ["pending_timeout"], into: SourceConfig(enabled: helm.enabled, namespaces: helm.namespaces)) { key, v in
                    if key == "pending_timeout", let d = r.duration(v) { helm.pendingTimeoutSeconds = Int(d.components.seconds) }
                }
                helm.enabled = base.enabled
                helm.namespaces = base.namespaces
                k.helm = helm
            case "leader_election": k.leaderElection = leaderElection(value, r)
            case "watch_timeout": if let d = r.duration(value) { k.watchTimeoutSeconds = max(1, Int(d.components.seconds)) }
            case "page_size": if let v = r.int(value, range: 1...10_000) { k.pageSize = v }
            case "renotify_interval": if let d = r.duration(value) { k.renotifyIntervalSeconds = Int(d.components.seconds) }
            case "resolve_after": if let d = r.duration(value) { k.resolveAfterSeconds = Int(d.components.seconds) }
            default: break
            }
        }
        return k
    }

    /// A source section: `enabled`, `namespaces: {include, exclude}`, plus `extra` keys
    /// handed to `other`.
    private static func source(
        _ at: YAMLReader.Located, _ r: YAMLReader, extra: Set<String>, into base: SourceConfig,
        _ other: (String, YAMLReader.Located) -> Void
    ) -> SourceConfig {
        var s = base
        for (key, value) in r.mapping(at, allowed: Set(["enabled", "namespaces"]).union(extra)) {
            switch key {
            case "enabled": if let v = r.bool(value) { s.enabled = v }
            case "namespaces":
                for (k, v) in r.mapping(value, allowed: ["include", "exclude"]) {
                    if k == "include" { s.namespaces.include = r.strings(v) } else { s.namespaces.exclude = r.strings(v) }
                }
            default: other(key, value)
            }
        }
        return s
    }

    private static func leaderElection(_ at: YAMLReader.Located, _ r: YAMLReader) -> LeaderElectionConfig {
        var l = LeaderElectionConfig()
        let keys: Set<String> = ["enabled", "namespace", "lease_name", "identity", "lease_duration", "renew_deadline", "retry_period"]
        func seconds(_ v: YAMLReader.Located) -> Double? { r.duration(v).map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 } }
        for (key, value) in r.mapping(at, allowed: keys) {
            switch key {
            case "enabled": if let v = r.bool(value) { l.enabled = v }
            case "namespace": l.namespace = r.string(value)
            case "lease_name": if let v = r.string(value) { l.leaseName = v }
            case "identity": l.identity = r.string(value)
            case "lease_duration": if let v = seconds(value) { l.leaseDurationSeconds = v }
            case "renew_deadline": if let v = seconds(value) { l.renewDeadlineSeconds = v }
            case "retry_period": if let v = seconds(value) { l.retryPeriodSeconds = v }
            default: break
            }
        }
        if !(l.retryPeriodSeconds > 0 && l.renewDeadlineSeconds > l.retryPeriodSeconds && l.leaseDurationSeconds > l.renewDeadlineSeconds) {
            r.problem(at, "need lease_duration > renew_deadline > retry_period > 0")
        }
        return l
    }

    // MARK: - Cross-checks

    private static func validate(_ config: CollectorConfig, _ r: YAMLReader) {
        var names: Set<String> = []
        for (i, d) in config.destinations.enumerated() where !names.insert(d.name).inserted {
            r.problem(path: "destinations[\(i)].name", "destination name \"\(d.name)\" is used twice")
        }
        if config.destinations.isEmpty {
            r.problem(path: "destinations", "no destinations are configured; add one (type: file with path: \"-\" prints Issues to stdout)")
        }
        for (i, route) in config.routes.enumerated() {
            for (j, d) in route.destinations.enumerated() where !names.contains(d) {
                r.problem(path: "routes[\(i)].destinations", locatedAt: "routes[\(i)].destinations[\(j)]", "unknown destination \"\(d)\"")
            }
        }
        for (j, d) in config.defaultDestinations.enumerated() where !names.contains(d) {
            r.problem(path: "default_destinations", locatedAt: "default_destinations[\(j)]", "unknown destination \"\(d)\"")
        }
        let policies = config.routes.enumerated().map { ("routes[\($0.offset)]", $0.element.notify) } + [("default_notify", config.defaultNotify)]
        for (path, policy) in policies {
            for (kind, names) in [("mute_time_intervals", policy.muteTimeIntervals), ("active_time_intervals", policy.activeTimeIntervals)] {
                for name in names where config.timeIntervals[name] == nil {
                    let known = config.timeIntervals.keys.sorted()
                    r.problem(path: "\(path).\(kind)", "unknown time interval \"\(name)\"" + (known.isEmpty ? "; define it under time_intervals" : "; defined: \(known.joined(separator: ", "))"))
                }
            }
        }
        // The sender waits for enrichment and diagnosis before its 200 (the outbox commit).
        var waits: [(key: String, wait: Duration)] = []
        if config.enrichment.enabled { waits.append(("enrichment.issue_budget", config.enrichment.issueBudget)) }
        if config.diagnosis.enabled {
            waits.append(("diagnosis.timeout", config.diagnosis.timeout))
            if let llm = config.diagnosis.llm { waits.append(("diagnosis.llm.timeout", llm.timeout)) }
        }
        let total = waits.reduce(Duration.zero) { $0 + $1.wait }
        if total >= .seconds(10), config.enrichment.issueBudget < .seconds(10) {
            // Placed at the last of them written in the file: the one most likely just added.
            let written = waits.last { r.locations[$0.key] != nil }?.key ?? "diagnosis"
            let sum = waits.map { "\($0.key) \(EnrichmentStage.format($0.wait))" }.joined(separator: " + ")
            r.problem(path: written, "\(sum) = \(EnrichmentStage.format(total)), which must stay under 10s: the sender waits for all of them, and Alertmanager gives up on a webhook after 10s and resends it")
        }
        if config.routes.isEmpty && config.defaultDestinations.isEmpty && !config.destinations.isEmpty {
            r.problem(path: "default_destinations", "no routes and no default_destinations: no Issue would be delivered")
        }
    }

    /// The problem and its line:column only. Yams' own descriptions quote the document
    /// (a duplicate key prints the whole enclosing mapping under "Context:", inline tokens
    /// included; scanner errors print the offending line), so they are never used.
    static func yamlProblem(_ error: YamlError) -> ConfigError.Problem {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return .init(location: "\(mark.line):\(mark.column)", path: "", message: "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "\"\(BoundedEcho.cap($0, limit: 64))\"" }.joined(separator: ", ")
            return .init(location: "\(context.mark.line):\(context.mark.column)", path: "",
                         message: "not valid YAML: the mapping here repeats the key(s) \(keys)")
        case .reader(let problem, let offset, _, _):
            return .init(location: "", path: "", message: "not valid YAML: \(problem)" + (offset.map { " at byte offset \($0)" } ?? ""))
        case .no, .memory, .writer, .emitter, .representer, .dataCouldNotBeDecoded:
            return .init(location: "", path: "", message: "not valid YAML: \(error)")
        }
    }
}
