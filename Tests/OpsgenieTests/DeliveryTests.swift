import CanoSDK
import Testing
import TestSupport
@testable import OpsgenieDestination

/// The notifier against the Opsgenie double over loopback HTTP.
@Suite("Opsgenie delivery") struct OpsgenieDeliveryTests {
    @Test func firingCreatesAnAlertKeyedByTheFingerprint() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        let issue = makeIssue()
        let result = await h.deliver(notifier, issue)
        await h.stop()

        #expect(result.isDelivered, "\(result)")
        let create = try #require(h.opsgenie.creates.first)
        #expect(result.deliveredReference == create.requestId, "the 202's requestId is kept as the reference")
        #expect(h.opsgenie.calls.count == 1)
        #expect(create.status == 202)
        #expect(create.headers["authorization"] == "GenieKey " + testAPIKey)
        #expect(create.headers["content-type"] == "application/json")
        #expect(create.body?["alias"]?.stringValue == issue.fingerprint)
        #expect(create.body?["alias"]?.stringValue != "idem-\(issue.fingerprint)-firing", "the alias is not the idempotency key")
        #expect(create.body?["message"] == "KubePodCrashLooping")
        #expect(create.body?["priority"] == "P1")
        #expect(result.messageText == "HTTP 202 from \(h.opsgenie.apiURL): create accepted for alias \(issue.fingerprint), requestId \(create.requestId)")
        let alert = try #require(h.opsgenie.alert(alias: issue.fingerprint))
        #expect(alert.isOpen && alert.count == 1)
        #expect(h.opsgenie.requestStatus(create.requestId)?.status == "Created alert")
    }

    @Test func repeatsRaiseTheCountOfTheOpenAlert() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        for _ in 0..<3 { #expect(await h.deliver(notifier, makeIssue()).isDelivered) }
        await h.stop()
        #expect(h.opsgenie.alerts.count == 1)
        #expect(h.opsgenie.alerts.first?.count == 3)
    }

    @Test func resolveClosesTheAliasTheFiringCreated() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        let firing = await h.deliver(notifier, makeIssue())
        let resolved = await h.deliver(notifier, makeIssue(status: .resolved), reference: firing.deliveredReference)
        await h.stop()

        #expect(resolved.isDelivered, "\(resolved)")
        let close = try #require(h.opsgenie.closes.first)
        #expect(firing.deliveredReference == h.opsgenie.creates.first?.requestId)
        #expect(resolved.deliveredReference == close.requestId)
        #expect(close.path == "/v2/alerts/3f1a9c0d2b7e4f65/close", "closed by the fingerprint, not by the reference (a requestId)")
        #expect(close.query == ["identifierType": "alias"])
        #expect(close.headers["authorization"] == "GenieKey " + testAPIKey)
        #expect(close.body?["source"] == "cano-collector")
        #expect(h.opsgenie.alert(alias: "3f1a9c0d2b7e4f65")?.status == "closed")
        #expect(h.opsgenie.requestStatus(close.requestId)?.status == "Closed alert")
        #expect(h.opsgenie.creates.count == 1, "a resolve never creates")
    }

    /// After a restart, or when the firing was delivered by an older version, the host may
    /// have no reference: the fingerprint alone closes the alert.
    @Test func resolveWithoutAReferenceClosesByFingerprint() async throws {
        let h = try await Harness.start()
        _ = await h.deliver(try h.notifier(), makeIssue(fingerprint: "fp/with space"))
        let resolved = await h.deliver(try h.notifier(), makeIssue(status: .resolved, fingerprint: "fp/with space"), reference: nil)
        await h.stop()
        #expect(resolved.isDelivered)
        #expect(h.opsgenie.closes.first?.path == "/v2/alerts/fp/with space/close", "the alias is one percent-encoded path segment")
        #expect(h.opsgenie.alert(alias: "fp/with space")?.status == "closed")
    }

    /// The reference is a requestId (or, from plugin version 1.0.0, the alias, which was the
    /// fingerprint too): whatever it holds, the resolve closes the Issue's fingerprint.
    @Test func resolveClosesByTheFingerprintWhateverTheReference() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        _ = await h.deliver(notifier, makeIssue(fingerprint: "fp-1"))
        _ = await h.deliver(notifier, makeIssue(fingerprint: "other-alias"))
        let resolved = await h.deliver(notifier, makeIssue(status: .resolved, fingerprint: "fp-1"), reference: "other-alias")
        let byRequestId = await h.deliver(notifier, makeIssue(status: .resolved, fingerprint: "other-alias"),
                                          reference: "00000000-0000-4000-8000-000000000002")
        await h.stop()
        #expect(resolved.isDelivered && byRequestId.isDelivered)
        #expect(h.opsgenie.closes.map(\.path) == ["/v2/alerts/fp-1/close", "/v2/alerts/other-alias/close"])
        #expect(h.opsgenie.alerts.map(\.status) == ["closed", "closed"])
    }

    /// A 202 without a requestId (a proxy that drops the body) is still delivered, with no
    /// reference: the resolve does not need one.
    @Test func aBareAcceptHasNoReference() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        h.opsgenie.inject(.acceptedWithoutBody)
        let firing = await h.deliver(notifier, makeIssue())
        let resolved = await h.deliver(notifier, makeIssue(status: .resolved), reference: firing.deliveredReference)
        await h.stop()
        #expect(firing.isDelivered, "\(firing)")
        #expect(firing.deliveredReference == nil)
        #expect(firing.messageText == "HTTP 202 from \(h.opsgenie.apiURL): create accepted for alias 3f1a9c0d2b7e4f65")
        #expect(resolved.isDelivered)
        #expect(h.opsgenie.alert(alias: "3f1a9c0d2b7e4f65")?.status == "closed")
    }

    /// Dynamic team routing through the double: each alert pages the team its Issue names
    /// (annotation, else label, else its namespace's team, else the static team).
    @Test func respondersFollowTheIssue() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier([
            "team": "platform", "team_label": "team", "team_annotation": "opsgenie.com/team",
            "team_by_namespace": ["shop": "payments", "search": "discovery"],
        ])
        func issue(_ fingerprint: String, namespace: String, labels: [String: String] = [:], annotations: [String: String] = [:]) -> CanoSDK.Issue {
            var issue = makeIssue(fingerprint: fingerprint, labels: labels, annotations: annotations)
            issue.subject.namespace = namespace
            return issue
        }
        let results = [
            await h.deliver(notifier, issue("a", namespace: "shop", labels: ["team": "checkout"], annotations: ["opsgenie.com/team": "fraud"])),
            await h.deliver(notifier, issue("b", namespace: "shop", labels: ["team": "checkout"])),
            await h.deliver(notifier, issue("c", namespace: "search")),
            await h.deliver(notifier, issue("d", namespace: "kube-system")),
        ]
        await h.stop()
        #expect(results.allSatisfy { $0.isDelivered }, "\(results)")
        let teams = h.opsgenie.alerts.map { $0.created["responders"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [] }
        #expect(teams == [["fraud"], ["checkout"], ["discovery"], ["platform"]])
    }

    /// Opsgenie accepts a close for an alias with no open alert and records the failure in
    /// the request's status only: the resolve is delivered, not retried forever.
    @Test func closingAnUnknownAliasIsAcceptedAndRecordedAsMissing() async throws {
        let h = try await Harness.start()
        let result = await h.deliver(try h.notifier(), makeIssue(status: .resolved, fingerprint: "never-fired"))
        await h.stop()
        #expect(result.isDelivered, "\(result)")
        let close = try #require(h.opsgenie.closes.first)
        #expect(close.status == 202)
        let status = try #require(h.opsgenie.requestStatus(close.requestId))
        #expect(!status.success && status.status == "Alert does not exist")
        #expect(h.opsgenie.alerts.isEmpty)
    }

    @Test func aClosedAliasFiringAgainOpensANewAlert() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        _ = await h.deliver(notifier, makeIssue())
        _ = await h.deliver(notifier, makeIssue(status: .resolved))
        _ = await h.deliver(notifier, makeIssue())
        await h.stop()
        #expect(h.opsgenie.alerts.map(\.status) == ["closed", "open"])
        #expect(Set(h.opsgenie.alerts.map(\.alias)) == ["3f1a9c0d2b7e4f65"])
    }

    /// Every answer Opsgenie gives maps to the result the host needs.
    @Test(arguments: [
        (OpsgenieDoubleFault.rateLimited(retryAfter: 7), "retry", Duration.seconds(7) as Duration?, "HTTP 429"),
        (.rateLimited(retryAfter: nil), "retry", nil, "You are making too many requests"),
        (.serverError(500), "retry", nil, "HTTP 500"),
        (.serverError(502), "retry", nil, "HTTP 502"),
        (.serverError(503), "retry", nil, "HTTP 503"),
        (.error(status: 400, message: "Invalid request"), "permanent", nil, "HTTP 400 from http://127.0.0.1"),
        (.error(status: 401, message: "Could not authenticate"), "permanent", nil, "Could not authenticate; check api_key"),
        (.error(status: 403, message: "Not allowed"), "permanent", nil, "Not allowed; the key lacks the right"),
        (.error(status: 422, message: "Request body is not processable."), "permanent", nil, "HTTP 422"),
    ])
    func outcomes(fault: OpsgenieDoubleFault, expected: String, delay: Duration?, mentioning text: String) async throws {
        let h = try await Harness.start()
        h.opsgenie.inject(fault)
        let result = await h.deliver(try h.notifier(), makeIssue())
        // The fault was one answer: the next attempt goes through.
        let next = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        switch expected {
        case "retry":
            #expect(result.isRetry, "\(result)")
            #expect(result.retryDelay == delay)
        default:
            #expect(result.isPermanent, "\(result)")
        }
        #expect(result.messageText.contains(text), "\(result.messageText)")
        #expect(next.isDelivered)
        #expect(h.opsgenie.alerts.count == 1, "the faulted request created nothing")
    }

    @Test func aWrongKeyIsPermanentAndNamesTheFix() async throws {
        let h = try await Harness.start()
        let result = await h.deliver(try h.notifier(["api_key": "og-wrong-key-55555"]), makeIssue())
        await h.stop()
        #expect(result.isPermanent)
        #expect(result.messageText.hasPrefix("HTTP 401 from \(h.opsgenie.apiURL): Could not authenticate; check api_key"), "\(result.messageText)")
        #expect(!result.messageText.contains("og-wrong-key-55555"))
        #expect(h.opsgenie.calls.first?.error == "Could not authenticate")
    }

    @Test func transportFailuresRetry() async throws {
        let h = try await Harness.start()
        // Nothing listens on a stopped double's port: connection refused.
        let gone = try await OpsgenieDouble.start(apiKey: testAPIKey)
        let url = gone.apiURL
        await gone.stop()
        let refused = await h.deliver(try h.notifier(["api_url": .string(url)]), makeIssue())
        #expect(refused.isRetry, "\(refused)")

        // An answer later than the deadline: the call returns by the deadline with a retry.
        h.opsgenie.inject(.delay(.seconds(30)))
        let clock = ContinuousClock()
        let started = clock.now
        let late = await h.deliver(try h.notifier(), makeIssue(), deadline: 0.5)
        #expect(late.isRetry, "\(late)")
        #expect(clock.now - started < .seconds(15), "bounded by the deadline, not by the 30 s answer")

        let expired = await h.deliver(try h.notifier(), makeIssue(), deadline: -1)
        #expect(expired.isRetry && expired.messageText.contains("deadline passed"))
        await h.stop()
        #expect(h.opsgenie.calls.count == 1, "the expired delivery sent nothing")
    }

    /// A gateway that quotes the Authorization header back must not get the key into a
    /// result message or a log line.
    @Test func theKeyNeverLeaks() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        var results: [DeliveryResult] = []
        h.opsgenie.inject(.echoCredentials(status: 400))
        results.append(await h.deliver(notifier, makeIssue()))
        h.opsgenie.inject(.echoCredentials(status: 503))
        results.append(await h.deliver(notifier, makeIssue()))
        h.opsgenie.inject(.echoCredentials(status: 401))
        results.append(await h.deliver(notifier, makeIssue(status: .resolved)))
        results.append(await h.deliver(notifier, makeIssue()))
        await h.stop()

        // The double really echoed it: otherwise this test proves nothing.
        #expect(h.opsgenie.calls.filter { $0.error?.contains(testAPIKey) == true }.count == 3)
        #expect(results.map(\.isPermanent) == [true, false, true, false])
        #expect(results[0].messageText.contains("Key rejected: Authorization: <redacted>"), "\(results[0].messageText)")
        assertNoSecret(testAPIKey, in: results.map(\.messageText), named: "result message")
        assertNoSecret(testAPIKey, in: h.logs.all, named: "log line")
        #expect(h.logs.all.count == 4)
    }
}
