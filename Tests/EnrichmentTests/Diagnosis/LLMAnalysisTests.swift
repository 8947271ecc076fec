@testable import Collector
import CanoSDK
import Foundation
import Logging
import Testing
import TestSupport

/// The optional LLM analysis against a local double of an OpenAI-compatible endpoint: no
/// network and no model in CI.
@Suite struct LLMAnalysisTests {
    static let key = "sk-test-0000-LLMdoubleKEY"

    static func harness(_ double: ChatCompletionsDouble, timeout: Duration = .seconds(60), key: String = LLMAnalysisTests.key,
                        prices: Bool = false) -> DiagnosisStageTests.Harness {
        var config = DiagnosisStageTests.roomy
        var llm = LLMConfig(url: double.baseURL, model: "gpt-4o-mini", apiKey: Secret(key))
        llm.timeout = timeout
        if prices {
            llm.inputPricePerMillion = 0.15
            llm.outputPricePerMillion = 0.60
        }
        config.llm = llm
        return DiagnosisStageTests.Harness(kube: nil, config: config)
    }

    /// A crash-looping Issue whose description carries a secret, as a careless app logs it.
    static var issue: Issue {
        var issue = Issues.kubernetes("CrashLoopBackOff", name: "web-5d4f8", namespace: "shop", container: "web")
        issue.description = "Container web exited with code 127: exec: \"wge\": executable file not found in $PATH (DATABASE_URL=postgres://app:hunter2@db/app)"
        return issue
    }

    @Test func theAnswerFollowsTheDiagnosisAndItsCostIsCounted() async throws {
        let double = try await ChatCompletionsDouble.start(apiKey: Self.key)
        defer { stopLater { await double.stop() } }
        double.setBehaviour(.answer("Likely a typo in the command: `wge` should be `wget`. Run kubectl get pod web-5d4f8 -o yaml."))
        let h = Self.harness(double, prices: true)
        let out = try await h.run(Self.issue)

        // Without a pod to read, the rules have nothing: the analysis comes first.
        let analysis = try #require(out.enrichments.first)
        #expect(analysis.type == "ai_analysis")
        #expect(analysis.title == "AI analysis (gpt-4o-mini; may be wrong)")
        #expect(analysis.blocks == [.markdown("Likely a typo in the command: `wge` should be `wget`. Run kubectl get pod web-5d4f8 -o yaml.")])

        let request = try #require(double.requests.first)
        #expect(request.path == "/v1/chat/completions")
        #expect(request.body?["model"]?.stringValue == "gpt-4o-mini")
        #expect(request.body?["max_tokens"]?.numberValue == 400)
        let prompt = try #require(request.prompt)
        #expect(prompt.contains("Title: Pod web-5d4f8 CrashLoopBackOff"))
        #expect(prompt.contains("wge"))
        #expect(!prompt.contains("hunter2"), "the prompt was not redacted")
        #expect(h.metrics.counter("cano_llm_requests_total", ["result": "ok"]) == 1)
        #expect(h.metrics.counter("cano_llm_tokens_total", ["kind": "prompt"]) == 812)
        #expect(h.metrics.counter("cano_llm_tokens_total", ["kind": "completion"]) == 64)
        #expect(abs(h.metrics.counter("cano_llm_cost_total") - (812 * 0.15 + 64 * 0.60) / 1e6) < 1e-12)
        #expect(!h.metrics.render().contains(Self.key))
    }

    @Test func theRuleBasedDiagnosisIsPartOfThePromptAndStaysFirst() async throws {
        let double = try await ChatCompletionsDouble.start(apiKey: Self.key)
        defer { stopLater { await double.stop() } }
        let kube = FixtureKube()
        let pod = try KubeFixtures.object("pods/pod-crashloopbackoff-managedfields.json")
        kube.add(pod)
        var config = DiagnosisStageTests.roomy
        config.llm = LLMConfig(url: double.baseURL, model: "m", apiKey: Secret(Self.key))
        let h = DiagnosisStageTests.Harness(kube: kube, config: config)
        let out = try await h.run(Issues.kubernetes("CrashLoopBackOff", name: PodLookup.name(pod), namespace: PodLookup.namespace(pod)))
        #expect(out.enrichments.map(\.type) == ["diagnosis", "ai_analysis"])
        #expect(double.requests.first?.prompt?.contains("Rule-based diagnosis:\nLikely cause: the command `wge` does not exist") == true)
    }

    @Test func aHungModelDoesNotHoldTheIssue() async throws {
        let double = try await ChatCompletionsDouble.start(apiKey: Self.key)
        defer { stopLater { await double.stop() } }
        double.setBehaviour(.hang)
        // 2 s, not less: beside the whole suite the request took longer than 300 ms to
        // reach the double (seen in CI), and the test checks that it did.
        let h = Self.harness(double, timeout: .seconds(2))
        let out = try await h.run(Self.issue)
        // The Issue went on while the model still had not answered.
        #expect(!out.enrichments.contains { $0.type == "ai_analysis" })
        #expect(double.requests.count == 1)
        #expect(h.metrics.counter("cano_llm_requests_total", ["result": "timeout"]) == 1)
        #expect(h.logs.lines.contains { $0.contains("LLM analysis failed") && $0.contains("\"result\":\"timeout\"") })
    }

    @Test(arguments: [
        (ChatCompletionsDouble.Behaviour.malformed("<html>502 Bad Gateway</html>"), "malformed"),
        (.malformed(#"{"choices":[]}"#), "malformed"),
        (.malformed(#"{"choices":[{"message":{"role":"assistant","content":"  "}}]}"#), "malformed"),
        (.status(500), "http_error"),
        (.status(429), "http_error"),
    ])
    func aBadAnswerIsDroppedLoudly(behaviour: ChatCompletionsDouble.Behaviour, result: String) async throws {
        let double = try await ChatCompletionsDouble.start(apiKey: Self.key)
        defer { stopLater { await double.stop() } }
        double.setBehaviour(behaviour)
        let h = Self.harness(double)
        let out = try await h.run(Self.issue)
        #expect(out.enrichments.isEmpty)
        #expect(h.metrics.counter("cano_llm_requests_total", ["result": result]) == 1)
        let warning = try #require(h.logs.lines.first { $0.contains("LLM analysis failed") })
        #expect(warning.contains("\"endpoint\":\"http://127.0.0.1:"))
        #expect(!warning.contains("/v1/chat"))
    }

    @Test func aWrongKeyIsAnHTTPErrorAndNoKeyIsEverLogged() async throws {
        let double = try await ChatCompletionsDouble.start(apiKey: Self.key)
        defer { stopLater { await double.stop() } }
        let h = Self.harness(double, key: "sk-wrong-9999-SECRETvalue")
        _ = try await h.run(Self.issue)
        #expect(h.metrics.counter("cano_llm_requests_total", ["result": "http_error"]) == 1)
        #expect(h.logs.lines.contains { $0.contains("HTTP 401") })
        for text in h.logs.lines + [h.metrics.render()] {
            #expect(!text.contains("sk-wrong-9999-SECRETvalue"))
            #expect(!text.contains(Self.key))
        }
    }

    /// Alertmanager resends a firing alert with each group change: one question per problem.
    @Test func theSameProblemIsAskedAboutOnce() async throws {
        let double = try await ChatCompletionsDouble.start(apiKey: Self.key)
        defer { stopLater { await double.stop() } }
        let h = Self.harness(double)
        let first = try await h.run(Self.issue)
        var again = Self.issue
        again.id = UUID().uuidString
        let second = try await h.run(again)
        #expect(double.requests.count == 1)
        #expect(first.enrichments == second.enrichments)
        #expect(h.metrics.counter("cano_llm_requests_total", ["result": "reused"]) == 1)
    }

    @Test func lessSevereIssuesAreNotSent() async throws {
        let double = try await ChatCompletionsDouble.start(apiKey: Self.key)
        defer { stopLater { await double.stop() } }
        var issue = Self.issue
        issue.severity = .low
        _ = try await Self.harness(double).run(issue)
        #expect(double.requests.isEmpty)
    }

    @Test func theConfigNamesWhatIsMissing() throws {
        let dir = try TemporaryDirectory(prefix: "cano-llm-config")
        defer { dir.remove() }
        try "sk-from-file\n".write(toFile: dir.file("key"), atomically: true, encoding: .utf8)
        let base = """
            destinations: [{name: out, type: file, config: {path: "-"}}]
            default_destinations: [out]
            diagnosis:
              llm:
            """
        let ok = try ConfigLoader.parse(base + """

                url: http://127.0.0.1:1/v1
                model: gpt-4o-mini
                api_key_file: \(dir.file("key"))
                timeout: 2s
                min_severity: low
                input_price_per_million: 0.15
            """)
        #expect(ok.diagnosis.llm?.apiKey?.value == "sk-from-file")
        #expect(ok.diagnosis.llm?.minSeverity == .low)
        #expect(ok.diagnosis.llm?.timeout == .seconds(2))
        #expect(ok.diagnosis.llm?.inputPricePerMillion == 0.15)
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(base + "\n    url: http://127.0.0.1:1/v1\n") }
        do {
            _ = try ConfigLoader.parse(base + "\n    url: http://127.0.0.1:1/v1\n    model: m\n    timeout: 6s\n")
            Testing.Issue.record("a 5s + 1s + 6s wait was accepted")
        } catch {
            #expect("\(error)".contains("must stay under 10s"))
        }
    }
}
