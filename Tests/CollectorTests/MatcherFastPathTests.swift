@testable import Collector
import Testing

/// The matcher's fast path for plain alternatives (LiteralAlternatives) answers exactly as
/// the compiled regex does (which MatcherOracleTests checks against amtool): every pattern
/// against every value, both ways.
@Suite struct MatcherFastPathTests {
    static let patterns = [
        "OOMKilled|KubeContainerOOMKilled|.*OOMKill.*", "CrashLoopBackOff|KubePodCrashLooping", ".*[Qq]uota.*",
        "Watchdog|InfoInhibitor", "prod-.*", ".*-canary", ".*", "", "a|", "|b", ".*.*", "KubeJob Failed", "a.b", "(a|b)", "a)|(b",
        ".*Quota.*|.*quota.*",
    ]
    static let values = [
        "", "OOMKilled", "KubeContainerOOMKilled", "xOOMKillx", "oomkilled", "OOMKill", "OOMKil", "CrashLoopBackOff",
        "KubePodCrashLooping ", "Watchdog", "InfoInhibitorX", "prod-eu", "prod", "api-canary", "canary", "a", "b", "ab",
        "line\nOOMKill", "OOMKill\n", "pro\u{301}d-x", "prod-\u{301}", "KubeJob Failed", "a.b", "axb", "ResourceQuota",
        "\n", "prod-\n", "prod-eu\nx", "\nprod-eu", "x\n-canary", "api-canary\n", "\nOOMKilled", "Watchdog\n", "a\nb", "x\nquota",
        // What `.` matches that a newline is not: carriage returns, NEL, line separators, accents.
        "prod-\r", "\r-canary", "x\u{85}OOMKill", "\u{2028}quota\u{2029}", "prod-é", "café-canary",
    ]

    @Test(arguments: patterns)
    func answersAsTheRegexDoes(pattern: String) throws {
        let matcher = try Matcher("aggregation_key", .matchesRegex, pattern)
        let regex = try Regex("^(?:\(try RE2Dialect.translate(pattern)))$").matchingSemantics(.unicodeScalar)
        let fast = LiteralAlternatives(pattern)
        for value in Self.values {
            let expected = (try regex.firstMatch(in: value)) != nil
            #expect(matcher.matches(value) == expected, "\(pattern) on \(value.debugDescription)")
            if let fast { #expect(fast.matches(value) == expected, "fast path: \(pattern) on \(value.debugDescription)") }
        }
    }

    /// Every default workflow trigger takes the fast path, so a config without regex routes
    /// compiles no regex at all (the regex parser stays out of memory: docs/benchmarks.md).
    @Test func everyDefaultTriggerIsPlainAlternatives() {
        let triggers = (DefaultWorkflows.all + DefaultWorkflows.graphs([EnricherPluginConfig(name: "graphs", type: DefaultWorkflows.graphPluginType)]))
            .map(\.trigger)
        #expect(triggers.count > DefaultWorkflows.all.count)
        for trigger in triggers {
            for value in [trigger.aggregationKey, trigger.namespace].compactMap({ $0 }) {
                #expect(LiteralAlternatives(value) != nil, "\(value)")
            }
        }
    }

    @Test func onlyPlainAlternativesTakeTheFastPath() {
        #expect(LiteralAlternatives("OOMKilled|.*OOMKill.*") != nil)
        #expect(LiteralAlternatives(".*[Qq]uota.*") == nil)
        #expect(LiteralAlternatives("a.b") == nil && LiteralAlternatives("(a|b)") == nil && LiteralAlternatives("a+") == nil)
    }
}
