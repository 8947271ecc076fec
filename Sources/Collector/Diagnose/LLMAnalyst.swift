#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CanoSDK
import Logging
import Synchronization

/// `diagnosis.llm`: an optional second opinion from a language model behind an
/// OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI's compatible route,
/// vLLM, Ollama, LiteLLM...). Off unless configured.
///
/// ```yaml
/// diagnosis:
///   llm:
///     url: https://api.openai.com/v1      # POST <url>/chat/completions
///     model: gpt-4o-mini
///     api_key_file: /var/run/secrets/llm/api-key
///     timeout: 3s                         # the answer arrives by then, or the Issue goes without it
///     max_tokens: 400                     # the answer's budget
///     max_prompt_bytes: 12000             # the question's budget
///     min_severity: HIGH                  # only Issues this severe are sent
///     input_price_per_million: 0.15       # optional: cano_llm_cost_total in your currency
///     output_price_per_million: 0.60
/// ```
public struct LLMConfig: Sendable, Equatable {
    /// The API base URL; the request goes to `<url>/chat/completions`.
    public var url: String
    /// The model name the endpoint expects.
    public var model: String
    /// Sent as `Authorization: Bearer`; nil for endpoints without auth (a local vLLM).
    public var apiKey: Secret?
    /// The whole exchange, from the request to the last byte of the answer.
    public var timeout: Duration = .seconds(3)
    /// `max_tokens` of the request: the answer's length budget.
    public var maxTokens = 400
    /// The prompt is cut to this many bytes (UTF-8) before it is sent.
    public var maxPromptBytes = 12_000
    /// A CA bundle for a private endpoint.
    public var caFile: String?
    /// Only Issues at least this severe are sent (each call costs money and time).
    public var minSeverity: Severity = .high
    /// Prices per million prompt and completion tokens, for `cano_llm_cost_total`.
    public var inputPricePerMillion: Double?
    public var outputPricePerMillion: Double?

    /// A configuration for `model` at `url`.
    public init(url: String, model: String, apiKey: Secret? = nil) {
        self.url = url
        self.model = model
        self.apiKey = apiKey
    }
}

/// Asks the model about one Issue and turns its answer into the `ai_analysis` enrichment.
///
/// What it sends is the Issue as text (title, subject, labels, the rule-based diagnosis,
/// the enrichments as plain text), passed through the ``Redactor`` and cut to the prompt
/// budget. The call runs on a thread of its own and is abandoned at the deadline: a hung
/// model never holds an Issue past `timeout`. Every outcome is a metric
/// (`cano_llm_requests_total{result}`), tokens and cost are counted, and a failure is a
/// warning that names the endpoint's host only.
///
/// Alertmanager sends a firing alert again with every change to its group and every
/// `repeat_interval`; each answer is kept for an hour per fingerprint and start, so the
/// same problem is asked about (and paid for) once.
final class LLMAnalyst: Sendable {
    /// The enrichment type of the model's answer.
    static let enrichmentType = "ai_analysis"

    let config: LLMConfig
    private let metrics: Metrics
    private let logger: Logger
    /// Bounds the threads abandoned calls to a hung endpoint may hold.
    private let limiter = CallLimiter(limit: 8)
    /// Answers by fingerprint and start, with when they were given.
    private let answers = Mutex<[String: (at: ContinuousClock.Instant, analysis: Enrichment)]>([:])
    static let answerLifetime: Duration = .seconds(3600)
    static let maxAnswers = 1000

    init(config: LLMConfig, metrics: Metrics, logger: Logger) {
        self.config = config
        self.metrics = metrics
        self.logger = logger
        metrics.describe("cano_llm_requests_total", type: "counter",
                         help: "LLM analyses, by result (ok, reused: an answer kept for the same fingerprint and start, timeout, http_error, unreachable, malformed, skipped).")
        metrics.describe("cano_llm_tokens_total", type: "counter", help: "Tokens the LLM endpoint reported, by kind (prompt, completion).")
        metrics.describe("cano_llm_cost_total", type: "counter",
                         help: "What the reported tokens cost at the configured per-million prices (diagnosis.llm.*_price_per_million).")
    }

    /// The model's analysis of `issue` (an hour-old one for the same fingerprint and
    /// start), or nil when it did not answer usefully in time.
    func analyse(_ issue: Issue) async -> Enrichment? {
        let key = "\(issue.fingerprint)@\(issue.startsAt.timeIntervalSince1970)"
        let now = ContinuousClock.now
        if let kept = answers.withLock({ $0[key] }), now - kept.at < Self.answerLifetime {
            metrics.increment("cano_llm_requests_total", ["result": "reused"])
            return kept.analysis
        }
        guard let analysis = await ask(issue) else { return nil }
        answers.withLock { a in
            if a.count >= Self.maxAnswers { a = a.filter { now - $0.value.at < Self.answerLifetime } }
            if a.count < Self.maxAnswers { a[key] = (now, analysis) }
        }
        return analysis
    }

    private func ask(_ issue: Issue) async -> Enrichment? {
        let deadline = ContinuousClock.now + config.timeout
        guard await limiter.acquire(until: deadline) else { return failed("skipped", "earlier calls to the LLM endpoint have not returned") }
        // A slot freed at the deadline is no use: the Issue is about to go without an answer,
        // and a call sent now would be paid for and thrown away.
        let remaining = deadline - ContinuousClock.now
        guard remaining >= .milliseconds(100) else {
            limiter.release()
            return failed("skipped", "earlier calls to the LLM endpoint held every slot until the deadline")
        }
        // The call itself ends at the deadline, so an abandoned call frees its slot then.
        let request = self.request(for: issue, timeout: remaining)
        let limiter = self.limiter
        let answer = await DeadlineRunner.run(until: deadline) { () -> Result<HTTPResponse, HTTPClientError> in
            defer { limiter.release() }
            return Result { () throws(HTTPClientError) in try HTTPClient().send(request) }
        }
        switch answer {
        case nil:
            return failed("timeout", "no answer within \(EnrichmentStage.format(config.timeout)); the Issue goes without it")
        case .failure(let error)?:
            let result = error.code == .timeout ? "timeout" : error.code == .responseTooLarge ? "malformed" : "unreachable"
            return failed(result, "\(error.code): \(error.message)")
        case .success(let response)? where !(200..<300).contains(response.status):
            return failed("http_error", "HTTP \(response.status)")
        case .success(let response)?:
            guard let (content, usage) = Self.parse(response.body) else { return failed("malformed", "the answer is not a chat completion with a message") }
            count(usage)
            metrics.increment("cano_llm_requests_total", ["result": "ok"])
            let text = Truncation.truncate(Redactor.redact(content), to: 3000, in: .unicodeScalars)
            return Enrichment(type: Self.enrichmentType, title: "AI analysis (\(config.model); may be wrong)", blocks: [.markdown(text)])
        }
    }

    /// The request: one system message saying what to do, one user message with the Issue.
    /// The whole exchange must end within `timeout`.
    func request(for issue: Issue, timeout: Duration) -> HTTPRequest {
        let body: JSONValue = .object([
            "model": .string(config.model),
            "max_tokens": .number(Double(config.maxTokens)),
            "temperature": .number(0),
            "messages": .array([
                .object(["role": .string("system"), "content": .string(Self.instructions)]),
                .object(["role": .string("user"), "content": .string(prompt(for: issue))]),
            ]),
        ])
        var headers = [HTTPHeader(name: "Content-Type", value: "application/json")]
        if let key = config.apiKey { headers.append(HTTPHeader(name: "Authorization", value: "Bearer \(key.value)")) }
        let base = config.url.hasSuffix("/") ? String(config.url.dropLast()) : config.url
        return HTTPRequest(method: "POST", url: base + "/chat/completions", headers: headers, body: (try? IssueCoding.encode(body)) ?? [],
                           timeout: timeout, connectTimeout: min(timeout, .seconds(2)), maxResponseBytes: 1 << 20,
                           tls: config.caFile.map { TLSOptions(caFile: $0) })
    }

    static let instructions = """
        You are an SRE assistant. Given a Kubernetes or Prometheus alert, its context and a rule-based \
        diagnosis, say in at most five short lines: the most likely root cause, whether the rule-based \
        diagnosis is right, and the next command to run. Do not invent facts that are not in the context.
        """

    /// The Issue as the model reads it, redacted and cut to the budget, most important
    /// first: what and where, the rule-based diagnosis (it is asked about), the labels,
    /// the description (at most a quarter of the budget), then the enrichments.
    func prompt(for issue: Issue) -> String {
        var lines = ["Title: \(issue.title)", "Severity: \(issue.severity.rawValue) · Source: \(issue.source.rawValue) · Status: \(issue.status.rawValue)"]
        let s = issue.subject
        let object = [s.kind, [s.namespace, s.name].compactMap { $0 }.joined(separator: "/")].compactMap { $0 }.joined(separator: " ")
        if !object.isEmpty { lines.append("Object: \(object)" + (s.container.map { ", container \($0)" } ?? "")) }
        if !issue.diagnosisLines.isEmpty { lines += ["", "Rule-based diagnosis:"] + issue.diagnosisLines.dropLast() }
        if !s.labels.isEmpty { lines += ["", "Labels:"] + s.labels.sorted { $0.key < $1.key }.map { "- \($0.key)=\($0.value)" } }
        if let d = issue.description, !d.isEmpty { lines += ["", "Description:", Truncation.truncate(d, to: config.maxPromptBytes / 4, in: .utf8Bytes)] }
        lines += issue.plainTextContext
        return Truncation.truncate(Redactor.redact(lines.joined(separator: "\n")), to: config.maxPromptBytes, in: .utf8Bytes)
    }

    /// `choices[0].message.content` and `usage` of a chat completion.
    static func parse(_ body: [UInt8]) -> (String, (prompt: Double, completion: Double)?)? {
        guard let json = try? IssueCoding.decode(JSONValue.self, from: body),
              let content = json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue,
              !content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        else { return nil }
        // Counters only go up, and by what one call can cost: other figures are ignored.
        let usage = json["usage"].flatMap { u -> (Double, Double)? in
            guard let p = u["prompt_tokens"]?.numberValue, let c = u["completion_tokens"]?.numberValue,
                  (0...1e7).contains(p), (0...1e7).contains(c), p == p.rounded(), c == c.rounded() else { return nil }
            return (p, c)
        }
        return (content.trimmingCharacters(in: .whitespacesAndNewlines), usage.map { (prompt: $0.0, completion: $0.1) })
    }

    private func count(_ usage: (prompt: Double, completion: Double)?) {
        guard let usage else { return }
        metrics.increment("cano_llm_tokens_total", ["kind": "prompt"], by: usage.prompt)
        metrics.increment("cano_llm_tokens_total", ["kind": "completion"], by: usage.completion)
        let cost = usage.prompt * (config.inputPricePerMillion ?? 0) / 1e6 + usage.completion * (config.outputPricePerMillion ?? 0) / 1e6
        if cost > 0 { metrics.increment("cano_llm_cost_total", by: cost) }
    }

    private func failed(_ result: String, _ why: String) -> Enrichment? {
        metrics.increment("cano_llm_requests_total", ["result": result])
        logger.warning("LLM analysis failed; delivering without it", metadata: [
            "endpoint": .string(RedactedURL.origin(of: config.url)), "result": .string(result), "reason": .string(Redactor.redact(why))])
        return nil
    }
}
