@testable import Collector
import CanoSDK
import Foundation
import Logging
import Testing
import TestSupport

/// A stage over `kube` with the built-in enrichers, plus extra ones, recording into a sink.
struct StageHarness {
    let kube = FixtureKube()
    let sink = RecordingSink()
    let metrics = Metrics()
    let logs = LogCapture()
    let stage: EnrichmentStage

    init(config: EnrichmentConfig = EnrichmentConfig(), extra: [any Enricher] = [], kube: FixtureKube? = nil) throws {
        var registry = EnricherRegistry.builtins(kube: kube ?? self.kube)
        for e in extra { registry.register(e) }
        let logs = logs
        let logger = Logger(label: "cano.test") { JSONLogHandler(label: $0, level: .debug, output: .capture(logs)) }
        stage = try EnrichmentStage(config: config, enrichers: registry, next: sink, metrics: metrics, logger: logger)
    }

    /// Submits one Issue and returns what reached the next sink.
    func run(_ issue: Issue) async throws -> Issue {
        _ = try await stage.submit([issue])
        return try #require(sink.issues.last)
    }
}

/// Swift Testing also has an `Issue`; in these tests it is always the Issue model.
typealias Issue = CanoSDK.Issue

enum Issues {
    static func kubernetes(_ reason: String, kind: String = "Pod", name: String, namespace: String?, container: String? = nil,
                           source: IssueSource = .kubernetes) -> Issue {
        Issue(type: .event, source: source, severity: .high, status: .firing, title: "\(kind) \(name) \(reason)",
              aggregationKey: reason, fingerprint: "fp-\(name)-\(reason)",
              subject: Subject(kind: kind, name: name, namespace: namespace, container: container),
              startsAt: Date(timeIntervalSince1970: 1_767_225_600))
    }
}

extension EnrichmentConfig {
    /// Budgets far above anything these tests need: they assert what the enrichers found,
    /// and a loaded CI machine must not turn that into a timeout note. Budget behaviour
    /// itself is tested with hanging enrichers, not by racing the clock.
    static var roomy: EnrichmentConfig {
        var c = EnrichmentConfig()
        c.enricherTimeout = .seconds(60)
        c.issueBudget = .seconds(120)
        return c
    }
}
