import CanoSDK
import Testing
@testable import DatadogDestination

/// Sites, API version choice, the key and the other settings.
@Suite struct DatadogConfigTests {
    /// Each site from destinations.md §6.1 posts to its own v2 intake host by default.
    @Test(arguments: [
        ("US1", "https://event-management-intake.datadoghq.com/api/v2/events"),
        ("US3", "https://event-management-intake.us3.datadoghq.com/api/v2/events"),
        ("US5", "https://event-management-intake.us5.datadoghq.com/api/v2/events"),
        ("EU", "https://event-management-intake.datadoghq.eu/api/v2/events"),
        ("eu1", "https://event-management-intake.datadoghq.eu/api/v2/events"),
        ("AP1", "https://event-management-intake.ap1.datadoghq.com/api/v2/events"),
        ("US1-FED", "https://event-management-intake.ddog-gov.com/api/v2/events"),
        ("datadoghq.eu", "https://event-management-intake.datadoghq.eu/api/v2/events"),
    ])
    func siteChoosesTheV2IntakeHost(site: String, url: String) throws {
        let config = try DatadogConfig(["api_key": .string(testAPIKey), "site": .string(site)])
        #expect(config.version == .v2)
        #expect(config.eventsURL == url)
    }

    /// `api_version: v1` posts to the site's API host instead.
    @Test(arguments: [
        ("US1", "https://api.datadoghq.com/api/v1/events"),
        ("US3", "https://api.us3.datadoghq.com/api/v1/events"),
        ("US5", "https://api.us5.datadoghq.com/api/v1/events"),
        ("EU", "https://api.datadoghq.eu/api/v1/events"),
        ("AP1", "https://api.ap1.datadoghq.com/api/v1/events"),
        ("US1-FED", "https://api.ddog-gov.com/api/v1/events"),
    ])
    func v1UsesTheAPIHost(site: String, url: String) throws {
        let config = try DatadogConfig(["api_key": .string(testAPIKey), "site": .string(site), "api_version": "v1"])
        #expect(config.version == .v1)
        #expect(config.eventsURL == url)
    }

    @Test func defaultsToUS1AndV2() throws {
        let config = try DatadogConfig(["api_key": .string(testAPIKey)])
        #expect(config.site.name == "US1")
        #expect(config.eventsURL == "https://event-management-intake.datadoghq.com/api/v2/events")
        #expect(config.timeout == .seconds(10))
    }

    /// UK1 has only the v2 intake (§6.1): v1 is refused at start, not at the first alert.
    @Test func aSiteWithoutV1RefusesIt() throws {
        let message = try #require(configError(["api_key": .string(testAPIKey), "site": "UK1", "api_version": "v1"]))
        #expect(message.contains("UK1 has no v1 API host"))
        #expect(try DatadogConfig(["api_key": .string(testAPIKey), "site": "UK1"]).version == .v2)
    }

    @Test func apiURLReplacesTheHostKeepingTheVersionPath() throws {
        let v2 = try DatadogConfig(["api_key": .string(testAPIKey), "api_url": "http://127.0.0.1:9/prefix/"])
        #expect(v2.eventsURL == "http://127.0.0.1:9/prefix/api/v2/events")
        #expect(v2.origin == "http://127.0.0.1:9")
        let v1 = try DatadogConfig(["api_key": .string(testAPIKey), "api_url": "http://127.0.0.1:9", "api_version": "v1"])
        #expect(v1.eventsURL == "http://127.0.0.1:9/api/v1/events")
    }

    @Test func refusals() {
        #expect(configError(["site": "US1"])?.contains("missing required key \"api_key\"") == true)
        #expect(configError(["api_key": ""])?.contains("\"api_key\" is empty") == true)
        #expect(configError(["api_key": .string(testAPIKey), "site": "mars"])?.contains("key \"site\"") == true)
        #expect(configError(["api_key": .string(testAPIKey), "api_version": "v3"])?.contains("auto, v1 or v2") == true)
        #expect(configError(["api_key": .string(testAPIKey), "api_url": "ftp://x"])?.contains("key \"api_url\"") == true)
        #expect(configError(["api_key": .string(testAPIKey), "apikey": "x"])?.contains("unknown config key \"apikey\"") == true)
        #expect(configError(["api_key": .string(testAPIKey), "tags": ["123"]])?.contains("key \"tags\"") == true)
        #expect(configError(["api_key": .string(testAPIKey), "timeout": "forever"])?.contains("key \"timeout\"") == true)
    }

    /// A key with a line break would inject a header; the error never shows the key.
    @Test func aBadKeyIsRefusedWithoutEchoingIt() throws {
        let message = try #require(configError(["api_key": .string(testAPIKey + "\nX-Evil: 1")]))
        #expect(message.contains("api_key"))
        #expect(!message.contains(testAPIKey))
        // A key file's trailing newline is not part of the key.
        #expect(try DatadogConfig(["api_key": .string(testAPIKey + "\n")]).apiKey == testAPIKey)
    }

    @Test func staticTagsAreNormalised() throws {
        let config = try DatadogConfig(["api_key": .string(testAPIKey), "tags": ["Team:Platform", "env:prod"], "tag_labels": ["alertname"]])
        #expect(config.tags == ["team:platform", "env:prod"])
        #expect(config.tagLabels == ["alertname"])
    }
}
