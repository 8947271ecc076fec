import CanoSDK
import Testing
@testable import DatadogDestination

/// What an Issue becomes: pure functions, no network.
@Suite struct DatadogPayloadTests {
    func config(_ extra: [String: JSONValue] = [:]) throws -> DatadogConfig {
        var json: [String: JSONValue] = ["api_key": .string(testAPIKey)]
        for (k, v) in extra { json[k] = v }
        return try DatadogConfig(.object(json))
    }

    @Test func tagRules() {
        #expect(DatadogTags.normalise("Team:Payments Core") == "team:payments_core")
        #expect(DatadogTags.normalise("namespace:kube-system") == "namespace:kube-system")
        #expect(DatadogTags.normalise("9lives:x") == "lives:x", "a tag starts with a letter")
        #expect(DatadogTags.normalise("a!!b@c") == "a_b_c")
        #expect(DatadogTags.normalise("url:https://x.example/a?b=c") == "url:https://x.example/a_b_c")
        #expect(DatadogTags.normalise("123") == nil)
        #expect(DatadogTags.normalise("équipe:Zürich") == "équipe:zürich", "Unicode letters are allowed")
        let long = DatadogTags.normalise("k:" + String(repeating: "v", count: 300))
        #expect(long?.unicodeScalars.count == 200)
    }

    /// Static tags, namespace and cluster, then tag_labels, all in Datadog's form.
    @Test func tagsFromLabels() throws {
        let tags = DatadogPayload.tags(Sample.issue(), config: try config(["tags": ["env:prod"], "tag_labels": ["alertname", "team", "missing", "severity"]]))
        #expect(tags == ["env:prod", "namespace:shop", "cluster:prod-eu", "alertname:kubepodcrashlooping", "team:payments_core", "severity:critical"])
    }

    @Test func alertTypeFromSeverityAndStatus() {
        #expect(DatadogPayload.alertType(Sample.issue(severity: .high)) == "error")
        #expect(DatadogPayload.alertType(Sample.issue(severity: .low)) == "warning")
        #expect(DatadogPayload.alertType(Sample.issue(severity: .info)) == "info")
        #expect(DatadogPayload.alertType(Sample.issue(severity: .debug)) == "info")
        #expect(DatadogPayload.alertType(Sample.issue(.resolved, severity: .high)) == "success")
        #expect(DatadogPayload.status(Sample.issue(severity: .high)) == "error")
        #expect(DatadogPayload.status(Sample.issue(severity: .low)) == "warn")
        #expect(DatadogPayload.status(Sample.issue(severity: .info)) == "warn")
        #expect(DatadogPayload.status(Sample.issue(.resolved)) == "ok")
    }

    @Test func v2Body() throws {
        let body = DatadogPayload.body(Sample.issue(), config: try config())
        let attributes = try #require(body["data"]?["attributes"])
        #expect(body["data"]?["type"]?.stringValue == "event")
        #expect(attributes["title"]?.stringValue == "KubePodCrashLooping")
        #expect(attributes["category"]?.stringValue == "alert")
        #expect(attributes["aggregation_key"]?.stringValue == "3f2a9c0d11e4b7a8")
        #expect(attributes["attributes"]?["status"]?.stringValue == "error")
        #expect(attributes["attributes"]?["priority"]?.stringValue == "1")
        #expect(attributes["attributes"]?["custom"]?["fingerprint"]?.stringValue == "3f2a9c0d11e4b7a8")
        let message = try #require(attributes["message"]?.stringValue)
        #expect(message.hasPrefix("Pod shop/cart-7d9f-x2 is crash looping\n"))
        #expect(message.contains("Subject: Pod shop/cart-7d9f-x2 (container cart)"))
        #expect(message.contains("- Runbook: https://runbooks.example/crashloop"))
        #expect(message.contains("== Pod logs ==\npanic: nil map"))
    }

    @Test func v1BodyAndResolve() throws {
        let v1 = try config(["api_version": "v1"])
        let firing = DatadogPayload.body(Sample.issue(), config: v1)
        let resolved = DatadogPayload.body(Sample.issue(.resolved), config: v1)
        #expect(firing["alert_type"]?.stringValue == "error")
        #expect(firing["priority"]?.stringValue == "normal")
        #expect(resolved["alert_type"]?.stringValue == "success")
        #expect(resolved["title"]?.stringValue == "Resolved: KubePodCrashLooping")
        #expect(firing["aggregation_key"] == resolved["aggregation_key"], "the resolve lines up with the firing")
        #expect(firing["aggregation_key"]?.stringValue == "3f2a9c0d11e4b7a8")
        #expect(firing["data"] == nil)
    }

    /// Text over 4,000 characters is cut visibly, whole characters, marker included.
    @Test func longTextIsTrimmedVisibly() throws {
        var issue = Sample.issue()
        issue.description = String(repeating: "é👩‍👩‍👧 ", count: 2_000)
        let text = DatadogPayload.text(issue)
        #expect(text.unicodeScalars.count <= DatadogLimits.text)
        #expect(text.unicodeScalars.count > DatadogLimits.text - 10)
        #expect(text.hasSuffix(DatadogPayload.textCutMarker))
        #expect(DatadogPayload.text(Sample.issue()).contains("cut by cano-collector") == false)
    }

    @Test func longTitleAndKeyAreCut() {
        var issue = Sample.issue()
        issue.title = String(repeating: "t", count: 600)
        issue.fingerprint = String(repeating: "f", count: 150)
        #expect(DatadogPayload.title(issue, limit: 100).unicodeScalars.count == 100)
        #expect(DatadogPayload.title(issue, limit: 100).hasSuffix("…"))
        #expect(DatadogPayload.title(issue, limit: 500).unicodeScalars.count == 500)
        #expect(DatadogPayload.aggregationKey(issue) == String(repeating: "f", count: 100))
    }
}
