@testable import Collector
import CanoSDK
import Logging
import TestSupport
import Testing
#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation

/// Issue #19 items 6 and 7: what the intake echoes is bounded, and the HTTP edge cases
/// (413 counted, 405, invalid UTF-8, Content-Encoding) answer what a sender can act on.
@Suite("intake hardening")
struct IntakeHardeningTests {
    func intake(logs: LogCapture, metrics: Metrics = Metrics(), maxBodyBytes: Int? = nil) -> AlertmanagerIntake {
        var config = CollectorConfig()
        if let maxBodyBytes { config.server.maxBodyBytes = maxBodyBytes }
        let logger = Logger(label: "test") { JSONLogHandler(label: $0, level: .debug, output: .capture(logs)) }
        return AlertmanagerIntake(config: config, sink: RecordingSink(), metrics: metrics, logger: logger)
    }

    /// One 4 MB request once produced a 4 MB 400 body and megabytes of log lines.
    @Test func aHugeInvalidBodyGetsASmallAnswerAndFewLogs() async throws {
        let huge = String(repeating: "x", count: 80 * 1024)
        let alert = #"{"status":"\#(huge)","labels":{"alertname":"A"},"startsAt":"\#(huge)"}"#
        let body = Array((#"{"alerts":["# + Array(repeating: alert, count: 50).joined(separator: ",") + "]}").utf8)
        #expect(body.count > 4_000_000)
        let logs = LogCapture()
        let response = await intake(logs: logs).handle(body: body, authorization: nil)
        #expect(response.status == 400)
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(response.body.count < 8 * 1024, "400 body is \(response.body.count) bytes")
        #expect(text.contains("more bytes)"), "the echo says it was cut: \(text.prefix(300))")
        #expect(text.contains("and 40 more rejected alerts"), "\(text.suffix(200))")
        let logged = logs.lines.reduce(0) { $0 + $1.utf8.count }
        #expect(logged < 8 * 1024, "\(logs.lines.count) log lines, \(logged) bytes")
    }

    @Test func aHugeInvalidJSONGetsASmallAnswer() async throws {
        let body = Array((#"{"alerts":[{"status":"firing","labels":{"a":""# + String(repeating: "y", count: 4_000_000) + "\u{01}\"}}]}").utf8)
        let logs = LogCapture()
        let response = await intake(logs: logs).handle(body: body, authorization: nil)
        #expect(response.status == 400)
        #expect(response.body.count < 8 * 1024)
        #expect(logs.lines.reduce(0) { $0 + $1.utf8.count } < 8 * 1024)
    }

    @Test func invalidUTF8IsNamedWithItsByteOffset() async throws {
        var body = Array(#"{"alerts":[{"status":"firing","labels":{"alertname":"caf"#.utf8)
        let offset = body.count
        body += [0xE9]  // Latin-1 "é": a proxy that re-encoded the body
        body += Array(#""},"startsAt":"2026-01-01T00:00:00Z"}]}"#.utf8)
        let response = await intake(logs: LogCapture()).handle(body: body, authorization: nil)
        #expect(response.status == 400)
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(text.contains("UTF-8") && text.contains("byte offset \(offset)"), "\(text)")
    }

    @Test func gzipBodiesAreDecodedWithinTheLimit() async throws {
        let metrics = Metrics()
        let json = try Fixtures.data("alertmanager/am-0.25-captured/firing-oomkilled.json")
        let accepted = await intake(logs: LogCapture(), metrics: metrics).handle(body: try gzip(json), authorization: nil, contentEncoding: "gzip")
        #expect(accepted.status == 200, "\(String(decoding: accepted.body, as: UTF8.self))")

        // Small on the wire, over the limit once inflated: refused like a large raw body.
        let bomb = try gzip(Array(repeating: UInt8(ascii: " "), count: 2 * 1024 * 1024))
        #expect(bomb.count < 64 * 1024)
        let tooLarge = await intake(logs: LogCapture(), metrics: metrics, maxBodyBytes: 1024 * 1024).handle(body: bomb, authorization: nil, contentEncoding: "gzip")
        #expect(tooLarge.status == 413)

        let corrupt = await intake(logs: LogCapture()).handle(body: json, authorization: nil, contentEncoding: "gzip")
        #expect(corrupt.status == 400)
    }

    @Test(arguments: ["br", "deflate", "gzip, br", "zstd"])
    func otherEncodingsAre415NamingThem(_ encoding: String) async throws {
        let response = await intake(logs: LogCapture()).handle(body: Array("{}".utf8), authorization: nil, contentEncoding: encoding)
        #expect(response.status == 415)
        #expect(String(decoding: response.body, as: UTF8.self).contains(encoding))
    }

    /// Through the real binary: 413 is counted, GET answers 405 with Allow, gzip works.
    @Test func theHTTPEdgeCountsAndRefusesProperly() async throws {
        let collector = try await CollectorProcess(configYAML: """
            data_dir: {{data_dir}}
            server: {host: 127.0.0.1, port: {{port}}, max_body_bytes: 2048}
            destinations: [{name: out, type: file, config: {path: "{{dir}}/out.jsonl"}}]
            default_destinations: [out]
            """)
        defer { collector.stop() }
        let big = try collector.postAlerts(Array(repeating: UInt8(ascii: " "), count: 64 * 1024))
        #expect(big.status == 413)
        let get = try collector.get("/api/alerts")
        #expect(get.status == 405)
        #expect(get.headers.first { $0.name.lowercased() == "allow" }?.value == "POST")
        let encoded = try collector.postAlerts(Array("{}".utf8), headers: [HTTPHeader(name: "Content-Encoding", value: "br")])
        #expect(encoded.status == 415)
        let metrics = String(decoding: try collector.get("/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"cano_intake_requests_total{code="413"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"cano_intake_requests_total{code="405"} 1"#))
        #expect(metrics.contains(#"cano_intake_requests_total{code="415"} 1"#))
    }

    @Test func boundedEchoNeverSplitsACharacter() {
        #expect(BoundedEcho.cap("short", limit: 10) == "short")
        // "é" is 2 bytes: a 5-byte cap keeps "aaa" + "é" (5 bytes), never half of the next one.
        #expect(BoundedEcho.cap("aaaéé", limit: 6) == "aaaé… (2 more bytes)")
        #expect(BoundedEcho.cap("aaaéé", limit: 4) == "aaa… (4 more bytes)")
        // A combining accent stays with its letter.
        #expect(BoundedEcho.cap("ae\u{301}x", limit: 2) == "a… (4 more bytes)")
        #expect(BoundedEcho.cap("🙂🙂", limit: 5) == "🙂… (4 more bytes)")
    }

    /// Runs the system gzip: the collector only ever inflates.
    func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-c"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try Subprocess.start(process)
        let writer = Thread { input.fileHandleForWriting.write(Data(bytes)); try? input.fileHandleForWriting.close() }
        writer.start()
        let data = Subprocess.readToEnd(output.fileHandleForReading)
        process.waitUntilExit()
        return Array(data)
    }
}
