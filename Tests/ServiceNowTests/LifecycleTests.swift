import CanoSDK
import Foundation
import Testing
import TestSupport
@testable import ServiceNowDestination

/// The incident lifecycle against the ServiceNow double over loopback HTTP: create once,
/// note on repeats, resolve, and never a duplicate, across restarts too.
@Suite("ServiceNow lifecycle") struct ServiceNowLifecycleTests {
    @Test func firingLooksUpThenCreatesOneIncidentKeyedByTheFingerprint() async throws {
        let h = try await Harness.start()
        let issue = makeIssue()
        let result = await h.deliver(try h.notifier(), issue)
        await h.stop()

        #expect(result.isDelivered, "\(result)")
        let incident = try #require(h.servicenow.incidents.first)
        #expect(h.servicenow.incidents.count == 1)
        #expect(result.deliveredReference == incident.sysID, "the reference is the sys_id")
        #expect(result.messageText == "created \(incident.number) (sys_id \(incident.sysID))")
        #expect(h.servicenow.calls.map(\.method) == ["GET", "POST"], "looked up before creating")

        let lookup = try #require(h.servicenow.lookups.first)
        #expect(lookup.query["sysparm_query"] == "correlation_id=\(issue.fingerprint)^active=true^stateNOT IN6,7,8")
        #expect(lookup.query["sysparm_fields"] == "sys_id,number,state")
        #expect(lookup.status == 200)

        let create = try #require(h.servicenow.creates.first)
        #expect(create.status == 201)
        #expect(create.path == "/api/now/table/incident")
        let basic = "Basic " + Data("\(testUsername):\(testPassword)".utf8).base64EncodedString()
        #expect(create.headers["authorization"] == basic)
        #expect(create.headers["accept"] == "application/json")
        #expect(create.headers["content-type"] == "application/json")
        #expect(create.body?["correlation_id"] == .string(issue.fingerprint))
        #expect(create.body?["correlation_id"] != .string("idem-\(issue.fingerprint)-firing"), "not the idempotency key")
        #expect(create.body?["correlation_display"] == "cano-collector")
        #expect(create.body?["short_description"] == "[prod-eu] KubePodCrashLooping")
        #expect(create.body?["urgency"] == "1")
        #expect(create.body?["impact"] == "2")
        #expect(incident.priority == "2", "HIGH is priority 2 (High) with the default matrix")
        #expect(incident.state == "1")
        let description = try #require(create.body?["description"]?.stringValue)
        #expect(description.hasPrefix("Pod shop/cart-7d9f-x2 is crash looping\n"))
        #expect(description.contains("Object: Pod shop/cart-7d9f-x2"))
        #expect(description.contains("Cluster: prod-eu"))
        #expect(description.contains("- Runbook: https://runbooks.example/crashloop"))
        #expect(description.contains("- severity=critical"))
        #expect(description.contains("Fingerprint: \(issue.fingerprint)"))
        #expect(create.body?["assignment_group"] == nil, "unset config fields are not sent")
    }

    @Test func aRepeatAddsAWorkNoteInsteadOfADuplicate() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        let first = await h.deliver(notifier, makeIssue())
        let again = await h.deliver(notifier, makeIssue(description: "still crashing", startsAt: Date(timeIntervalSince1970: 1_800_000_500)))
        await h.stop()

        #expect(again.isDelivered, "\(again)")
        #expect(h.servicenow.incidents.count == 1)
        #expect(h.servicenow.creates.count == 1)
        let incident = try #require(h.servicenow.incidents.first)
        #expect(again.deliveredReference == first.deliveredReference)
        #expect(again.messageText == "work note added to \(incident.number) (sys_id \(incident.sysID)) (fired again)")
        let update = try #require(h.servicenow.updates.first)
        #expect(update.method == "PATCH")
        #expect(update.path == "/api/now/table/incident/\(incident.sysID)")
        #expect(update.body?.objectValue?.keys.sorted() == ["work_notes"], "a refire changes nothing but the journal")
        #expect(incident.workNotes.count == 1)
        #expect(incident.workNotes.first?.hasPrefix("Fired again: KubePodCrashLooping\nSeverity: HIGH\nStarted: 2027-01-15T") == true)
        #expect(incident.workNotes.first?.hasSuffix("\n\nstill crashing") == true)
    }

    /// A restart loses nothing the plugin needs: a new instance, with no reference from the
    /// host, finds the open incident by correlation_id.
    @Test func aRestartNeverCreatesADuplicate() async throws {
        let h = try await Harness.start()
        _ = await h.deliver(try h.notifier(), makeIssue())
        let afterRestart = await h.deliver(try h.notifier(), makeIssue(), reference: nil)
        await h.stop()
        #expect(afterRestart.isDelivered)
        #expect(h.servicenow.incidents.count == 1)
        #expect(h.servicenow.creates.count == 1)
        #expect(h.servicenow.incidents.first?.workNotes.count == 1)
    }

    @Test func resolveSetsStateSixWithCloseCodeAndNotes() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        let firing = await h.deliver(notifier, makeIssue())
        let resolved = await h.deliver(notifier, makeIssue(status: .resolved), reference: firing.deliveredReference)
        await h.stop()

        #expect(resolved.isDelivered, "\(resolved)")
        let incident = try #require(h.servicenow.incidents.first)
        #expect(resolved.deliveredReference == incident.sysID)
        #expect(resolved.messageText == "resolved \(incident.number) (sys_id \(incident.sysID))")
        #expect(incident.isResolved)
        #expect(incident.fields["close_code"] == "Resolved by caller")
        #expect(incident.fields["close_notes"] == "Resolved automatically by cano-collector: the alert \"KubePodCrashLooping\" stopped firing at 2027-01-15T08:00:00.000Z.")
        let update = try #require(h.servicenow.updates.last)
        #expect(update.method == "PATCH" && update.status == 200)
        #expect(update.path == "/api/now/table/incident/\(incident.sysID)")
        #expect(update.body?["state"] == "6")
        #expect(h.servicenow.creates.count == 1, "a resolve never creates")
        #expect(incident.workNotes == ["Alert resolved at 2027-01-15T08:00:00.000Z: KubePodCrashLooping"])
    }

    /// The close code is configurable: older instances use other choice values.
    @Test func theCloseCodeComesFromConfig() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier(["close_code": "Solved (Permanently)"])
        _ = await h.deliver(notifier, makeIssue())
        _ = await h.deliver(notifier, makeIssue(status: .resolved))
        await h.stop()
        #expect(h.servicenow.incidents.first?.fields["close_code"] == "Solved (Permanently)")
    }

    @Test func resolveAfterARestartFindsTheIncidentByCorrelationID() async throws {
        let h = try await Harness.start()
        _ = await h.deliver(try h.notifier(), makeIssue())
        let resolved = await h.deliver(try h.notifier(), makeIssue(status: .resolved), reference: nil)
        await h.stop()
        #expect(resolved.isDelivered)
        #expect(h.servicenow.incidents.map(\.state) == ["6"])
    }

    /// Nothing open (never fired, or resolved by hand): delivered, nothing written.
    @Test func resolvingWithNothingOpenWritesNothing() async throws {
        let h = try await Harness.start()
        let result = await h.deliver(try h.notifier(), makeIssue(status: .resolved, fingerprint: "never-fired"))
        await h.stop()
        #expect(result.isDelivered, "\(result)")
        #expect(result.messageText == "no open incident with correlation_id never-fired; nothing to resolve")
        #expect(h.servicenow.calls.map(\.method) == ["GET"])
        #expect(h.servicenow.incidents.isEmpty)
    }

    /// ServiceNow keeps a Resolved incident `active`; the lookup must exclude it by state,
    /// or a new firing would only note on the resolved incident.
    @Test func firingAgainAfterAResolveOpensANewIncident() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        let first = await h.deliver(notifier, makeIssue())
        _ = await h.deliver(notifier, makeIssue(status: .resolved), reference: first.deliveredReference)
        let second = await h.deliver(notifier, makeIssue(startsAt: Date(timeIntervalSince1970: 1_800_100_000)))
        await h.stop()
        #expect(h.servicenow.incidents.map(\.state) == ["6", "1"])
        #expect(h.servicenow.incidents.first?.isActive == true, "the double keeps Resolved active, as ServiceNow does")
        #expect(second.deliveredReference == h.servicenow.incidents.last?.sysID)
        #expect(second.deliveredReference != first.deliveredReference)
        #expect(h.servicenow.incidents.first?.workNotes.count == 1, "only the resolve's note on the old incident")
    }

    /// An incident a person resolved is left alone: the alert's resolve writes nothing, a new
    /// firing opens a new one.
    @Test func anIncidentResolvedByHandIsLeftAlone() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        let firing = await h.deliver(notifier, makeIssue())
        let sysID = try #require(firing.deliveredReference)
        h.servicenow.edit(sysID: sysID, ["state": "7", "close_code": "Solution provided", "close_notes": "fixed by hand"])
        let resolved = await h.deliver(notifier, makeIssue(status: .resolved), reference: sysID)
        await h.stop()
        #expect(resolved.isDelivered)
        #expect(h.servicenow.updates.isEmpty, "a closed incident is not reopened or rewritten")
        #expect(h.servicenow.incident(sysID: sysID)?.fields["close_code"] == "Solution provided")
    }

    /// Two open incidents with one correlation id (created by something else, or by two
    /// collectors racing): the resolve resolves both.
    @Test func resolveResolvesEveryOpenIncidentOfTheCorrelationID() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        _ = await h.deliver(notifier, makeIssue())
        // A second incident with the same key, created directly in the double.
        let direct = try await BlockingThread.run {
            try HTTPClient().send(HTTPRequest(
                method: "POST", url: h.servicenow.instanceURL + "/api/now/table/incident",
                headers: [HTTPHeader(name: "Authorization", value: "Basic " + Data("\(testUsername):\(testPassword)".utf8).base64EncodedString()),
                          HTTPHeader(name: "Accept", value: "application/json"), HTTPHeader(name: "Content-Type", value: "application/json")],
                body: Array(#"{"short_description":"dup","correlation_id":"3f1a9c0d2b7e4f65"}"#.utf8)))
        }
        #expect(direct.status == 201)
        let resolved = await h.deliver(notifier, makeIssue(status: .resolved))
        await h.stop()
        #expect(resolved.isDelivered)
        #expect(h.servicenow.incidents.map(\.state) == ["6", "6"])
    }

    /// API v1 answered an empty match with 404 "No Record found" (§7.1): still "none open".
    @Test func aV1EmptyListIsNoMatch() async throws {
        let h = try await Harness.start()
        h.servicenow.emulateV1EmptyList()
        let result = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        #expect(result.isDelivered, "\(result)")
        #expect(h.servicenow.lookups.first?.status == 404)
        #expect(h.servicenow.incidents.count == 1)
    }

    /// An incident deleted by an administrator is simply gone: the next firing creates anew.
    @Test func aDeletedIncidentIsCreatedAgain() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        let first = await h.deliver(notifier, makeIssue())
        h.servicenow.delete(sysID: try #require(first.deliveredReference))
        let second = await h.deliver(notifier, makeIssue())
        await h.stop()
        #expect(second.isDelivered)
        #expect(h.servicenow.incidents.count == 1)
        #expect(second.deliveredReference != first.deliveredReference)
    }

    /// The incident vanished between the lookup and the work note (404 "No Record found"
    /// on the PATCH): the firing opens a new incident instead of failing.
    @Test func aNoteOnAVanishedIncidentBecomesANewIncident() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        let first = await h.deliver(notifier, makeIssue())
        h.servicenow.inject(.delay(.zero))  // the lookup still finds it
        h.servicenow.inject(.error(status: 404, message: "No Record found", detail: "Record doesn't exist or ACL restricts the record retrieval"))
        let second = await h.deliver(notifier, makeIssue())
        await h.stop()
        #expect(second.isDelivered, "\(second)")
        #expect(h.servicenow.calls.map(\.method) == ["GET", "POST", "GET", "PATCH", "POST"])
        #expect(second.deliveredReference == h.servicenow.incidents.last?.sysID)
        #expect(second.deliveredReference != first.deliveredReference)
    }

    /// The same on a resolve: nothing left to resolve is not a failure.
    @Test func aResolveOfAVanishedIncidentIsDone() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        _ = await h.deliver(notifier, makeIssue())
        h.servicenow.inject(.delay(.zero))
        h.servicenow.inject(.error(status: 404, message: "No Record found", detail: ""))
        let resolved = await h.deliver(notifier, makeIssue(status: .resolved))
        await h.stop()
        #expect(resolved.isDelivered, "\(resolved)")
        #expect(resolved.messageText == "no open incident with correlation_id 3f1a9c0d2b7e4f65 left to resolve")
        #expect(h.servicenow.creates.count == 1)
    }

    /// A 2xx that is not the Table API's record (a hibernating instance's page, a proxy):
    /// delivered, as every 2xx, but said plainly in the message and a warning.
    @Test func aCreateAnsweredWithoutARecordIsReported() async throws {
        let h = try await Harness.start()
        h.servicenow.inject(.delay(.zero))
        h.servicenow.inject(.error(status: 200, message: "Instance Hibernating", detail: "wake it up"))
        let result = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        #expect(result == .delivered(reference: nil, message: "HTTP 200 from \(h.servicenow.instanceURL) without an incident record: check the instance URL"))
        #expect(h.logs.all.contains { $0.hasPrefix("warning servicenow create answered 2xx without a sys_id") }, "\(h.logs.all)")
    }

    /// A fingerprint that an encoded query could misread (`^` separates terms) becomes a
    /// stable hashed id, the same for the firing and the resolve.
    @Test func anUnsafeFingerprintBecomesAStableCorrelationID() async throws {
        let h = try await Harness.start()
        let notifier = try h.notifier()
        let odd = "team=a^active=false"
        _ = await h.deliver(notifier, makeIssue(fingerprint: odd))
        _ = await h.deliver(notifier, makeIssue(fingerprint: odd))
        _ = await h.deliver(notifier, makeIssue(status: .resolved, fingerprint: odd))
        await h.stop()
        let id = try #require(h.servicenow.incidents.first?.correlationID)
        #expect(id.hasPrefix("cano-") && id.count == 21)
        #expect(id == ServiceNowPayload.correlationID(for: makeIssue(fingerprint: odd)))
        #expect(h.servicenow.incidents.count == 1)
        #expect(h.servicenow.incidents.first?.isResolved == true)
        #expect(ServiceNowPayload.correlationID(for: makeIssue(fingerprint: String(repeating: "a", count: 101))).hasPrefix("cano-"),
                "longer than the field: hashed too")
    }
}

/// A web page with a 200 (a hibernating developer instance, a proxy's login page) instead
/// of the Table API: the lookup says nothing about what is open, and a create made nothing.
/// Both retry; before, the lookup read as "none open" (a twin, or a lost resolve) and the
/// create as delivered (a lost alert).
@Suite("ServiceNow page instead of the API")
struct ServiceNowWebPageTests {
    @Test func aPageInsteadOfTheLookupRetries() async throws {
        let h = try await Harness.start()
        h.servicenow.inject(.page(status: 200))
        let result = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        guard case .retry = result else { Issue.record("expected a retry, got \(result)"); return }
        #expect(h.servicenow.incidents.isEmpty)
    }

    @Test func aPageInsteadOfTheCreateRetries() async throws {
        let h = try await Harness.start()
        h.servicenow.inject(.delay(.zero))  // the lookup: nothing open
        h.servicenow.inject(.page(status: 200))
        let result = await h.deliver(try h.notifier(), makeIssue())
        await h.stop()
        guard case .retry(_, let message) = result else { Issue.record("expected a retry, got \(result)"); return }
        #expect(message.contains("not a Table API record"), "\(message)")
    }
}
