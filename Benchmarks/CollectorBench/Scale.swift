// How big each scenario runs: the full suite, the storm scaled down (`--quick`), or the CI
// smoke run (tiny sizes; it checks that every scenario runs, not the timings).
import Foundation

struct Scale: Sendable {
    var mode: String
    /// Alerts sent per batch size; each run also stops at `ingestTimeLimit`. The shared-store
    /// scenario runs the batches of 1 and 50 once per store configuration.
    var ingestAlerts: [(batch: Int, alerts: Int)]
    var ingestSenders = 8
    var ingestTimeLimit: Duration
    /// (alerts/s, seconds) per latency run. The shared-store scenario runs the 100/s one once
    /// per store configuration.
    var latencyRuns: [(rate: Int, seconds: Int)]
    var stormAlerts: Int
    var stormSeconds: Int
    var stormFingerprints: Int
    var sustainedRate = 100
    var sustainedSeconds: Int
    /// Pods in the fake API server for the memory scenario's Helm chart configuration.
    var memoryChartPods = 300
    var kubePods: Int
    var kubeEvents: Int
    var pluginCalls: Int
    /// Issues delivered through the Kafka destination per configuration (after a warm-up).
    var kafkaIssues = 5_000
    /// Starts of each process in the start-to-ready scenario.
    var startupRuns = 20

    static let full = Scale(
        mode: "full", ingestAlerts: [(1, 5_000), (50, 50_000), (500, 100_000)], ingestTimeLimit: .seconds(30),
        latencyRuns: [(10, 20), (100, 20), (1000, 10)], stormAlerts: 10_000, stormSeconds: 60, stormFingerprints: 200,
        sustainedSeconds: 60, kubePods: 10_000, kubeEvents: 50_000, pluginCalls: 2_000_000)

    /// The full suite with the storm at a tenth (1,000 alerts in 10 s over 20 fingerprints).
    static let quick: Scale = {
        var s = full
        s.mode = "quick"
        s.stormAlerts = 1_000
        s.stormSeconds = 10
        s.stormFingerprints = 20
        return s
    }()

    static let smoke = Scale(
        mode: "smoke", ingestAlerts: [(1, 40), (50, 5_000), (500, 5_000)], ingestSenders: 4, ingestTimeLimit: .seconds(10),
        latencyRuns: [(10, 1), (100, 1), (1000, 1)], stormAlerts: 60, stormSeconds: 2, stormFingerprints: 3,
        sustainedSeconds: 2, kubePods: 200, kubeEvents: 1_000, pluginCalls: 10_000, kafkaIssues: 20, startupRuns: 3)
}
