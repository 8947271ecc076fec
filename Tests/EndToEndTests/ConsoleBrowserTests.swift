import CanoSDK
import Foundation
import TestSupport
import Testing

/// The web console (`/ui/`) in a real headless Chromium: the real binary delivers one alert
/// to the Slack double (delivered) and to a webhook receiver that refuses everything (dead
/// letter), and `tests/browser/console_test.py` (Selenium) clicks through the Issues list,
/// an Issue, the dead-letter retry, a silence made and expired, and the preview, saving a
/// screenshot of each page in `.build/test-output/console/`.
///
/// Chromium, chromedriver and Selenium are Debian packages (`chromium chromium-driver
/// python3-selenium`), installed by scripts/install-deps.sh, as CI does: without them the
/// test fails rather than skips, so a machine that lacks them cannot pass the suite silently.
@Suite(.serialized) struct ConsoleBrowserTests {
    static let slackToken = "xoxb-e2e-0000-CONSOLEe2eTOKEN"
    static let adminToken = "console-e2e-admin-token-3f9c"
    static let browserTools = ["/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/python3"]
    /// Where Debian's python3-selenium puts the package that /usr/bin/python3 imports.
    static let selenium = "/usr/lib/python3/dist-packages/selenium"

    @Test(.timeLimit(.minutes(10))) func theConsoleInAHeadlessBrowser() async throws {
        for tool in Self.browserTools {
            try #require(FileManager.default.isExecutableFile(atPath: tool),
                         "\(tool) is missing: run scripts/install-deps.sh (it installs chromium, chromium-driver and python3-selenium for this test)")
        }
        try #require(FileManager.default.fileExists(atPath: Self.selenium),
                     "python3-selenium is missing (\(Self.selenium)): run scripts/install-deps.sh")
        // The body is a method of its own: big closures passed to withStops have crashed the
        // compiler (see GroupingEndToEndTests).
        try await withStops { (stops: StopList) async throws -> Void in
            try await clickThroughTheConsole(stops)
        }
    }

    private func clickThroughTheConsole(_ stops: StopList) async throws {
        let slack = try await SlackDouble.start(token: Self.slackToken)
        stops.add { slack.stop() }
        // 400 is a permanent failure for the Webhook plugin (docs/webhook.md): one attempt,
        // then a dead letter, which is what the console's retry button is for.
        let refusing = try await ScriptedHTTPServer.start()
        refusing.setDefault(.status(400))
        stops.add { await refusing.stop() }

        // No server.auth: the console's reads then need no credentials, which a browser
        // could not send to every subresource anyway (the console's auth is tested over
        // plain HTTP). The admin token signs the browser in for the write forms.
        let collector = try await CollectorProcess(configYAML: """
            cluster: e2e
            data_dir: {{data_dir}}
            server: {host: 127.0.0.1, port: {{port}}, admin_token: \(Self.adminToken)}
            plugins: {paths: ["\(try BuildProducts.plugin("CanoSlack"))", "\(try BuildProducts.plugin("CanoWebhook"))"]}
            ui: {enabled: true}
            destinations:
              - name: slack
                type: slack
                config: {token: "${E2E_SLACK_TOKEN}", channel: "#alerts", api_url: "\(slack.apiURL)"}
              - {name: hook, type: webhook, config: {url: "\(refusing.url)"}}
            routes:
              - {name: everything, destinations: [slack, hook]}
            """, environment: ["E2E_SLACK_TOKEN": Self.slackToken])
        stops.add {
            collector.stop()
            try? FileManager.default.removeItem(at: collector.directory)
        }

        // Under .build/ (ignored by git, kept after the run) so CI can archive the pictures.
        let screenshots = Fixtures.repositoryRoot + "/.build/test-output/console"
        try? FileManager.default.removeItem(atPath: screenshots)  // no stale pictures from an earlier run
        try FileManager.default.createDirectory(atPath: screenshots, withIntermediateDirectories: true)
        print("console screenshots: \(screenshots)")

        let base = "http://127.0.0.1:\(collector.port)"
        let (status, output) = try await Self.runBrowserTest([
            "--url", "\(base)/ui/",
            "--intake-url", "\(base)/api/alerts",
            "--admin-token", Self.adminToken,
            "--screenshots", screenshots,
            // The README's example alert (an OOM-killed container), as a user would first send.
            "--alert-file", Fixtures.repositoryRoot + "/examples/alert.json",
            "--expect-delivered", "slack",
            "--expect-dead", "hook",
        ])
        print(output)  // one line per step passed: what the browser saw, in the test's log
        #expect(status == 0, """
            tests/browser/console_test.py exited with \(status)\(status == 124 ? " (killed by its time limit)" : ""); \
            screenshots and failure.html in \(screenshots)
            --- its output:
            \(output)
            --- the collector's log (end):
            \(String(collector.log.suffix(6_000)))
            """)
        #expect(!slack.messages.isEmpty, "the alert reached the Slack double")
        #expect(!refusing.requests.isEmpty, "the refusing receiver was called")
    }

    /// Runs the Selenium script with Debian's Python, stdout and stderr together, on a
    /// thread of its own (it blocks for the whole browser run). `timeout(1)` bounds it and,
    /// on expiry, kills its whole process group: Python, chromedriver and Chromium.
    static func runBrowserTest(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let script = Fixtures.repositoryRoot + "/tests/browser/console_test.py"
        let result: Result<(status: Int32, output: String), any Error> = await BlockingThread.run(name: "test-browser") {
            Result {
                let process = ChildProcess()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
                process.arguments = ["--kill-after=10", "300", "/usr/bin/python3", script] + arguments
                process.currentDirectoryURL = URL(fileURLWithPath: Fixtures.repositoryRoot)
                let pipe = Pipe()
                process.standardInput = FileHandle.nullDevice
                process.standardOutput = pipe
                process.standardError = pipe
                try Subprocess.start(process)
                let data = Subprocess.readToEnd(pipe.fileHandleForReading)
                process.waitUntilExit()
                return (process.terminationStatus, String(decoding: data, as: UTF8.self))
            }
        }
        return try result.get()
    }
}
