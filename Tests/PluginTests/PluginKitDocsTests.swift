import CanoSDK
import Collector
import Foundation
import Testing
import TestSupport

/// The plugin kit's documents say what the host does (issue 15, §5).
@Suite("plugin kit docs")
struct PluginKitDocsTests {
    private func read(_ relative: String) throws -> String {
        try String(contentsOfFile: Fixtures.repositoryRoot + "/" + relative, encoding: .utf8)
    }

    /// The idempotency key changes with status, so using it as PagerDuty's dedup_key leaves
    /// the incident open forever; the docs must key incidents on the fingerprint.
    @Test func incidentKeysAreFingerprintsNotIdempotencyKeys() throws {
        let a = PluginSamples.context(key: "dest:fp-1:firing:0"), b = PluginSamples.context(key: "dest:fp-1:resolved:0")
        #expect(a.idempotencyKey != b.idempotencyKey)
        for file in ["docs/plugins.md", "docs/plugin-abi.md"] {
            let text = try read(file)
            #expect(!text.contains("such as PagerDuty's `dedup_key`"), "\(file) still advises idempotency_key as dedup_key")
            #expect(text.contains("`dedup_key`"))
            #expect(text.contains("fingerprint"))
        }
        let plugins = try read("docs/plugins.md")
        #expect(plugins.contains("`dedup_key` = `fingerprint`"))
        #expect(plugins.contains("`ctx->reference`") && plugins.contains("kv_put"))
        let header = try read("Sources/PluginABI/include/cano_plugin.h")
        #expect(header.contains("NOT an incident key"))
    }

    /// endsAt is left out while firing: the emitted JSON, the schema and the docs agree.
    @Test func endsAtIsAbsentWhileFiring() throws {
        let firing = try IssueCoding.encode(PluginSamples.issue(.firing))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(firing)) as? [String: Any])
        #expect(object.keys.contains("endsAt") == false)
        #expect(try read("docs/issue.schema.json").contains("Absent while firing"))
        let docs = try read("docs/plugins.md")
        #expect(!docs.contains("`endsAt` is null while firing"))
        #expect(docs.contains("`endsAt` is **absent** while firing"))
    }

    /// The header documents the host's preset of the result: zeroed, struct_size, and
    /// retry_after_ms = CANO_RETRY_AFTER_NONE.
    @Test func headerSaysWhatTheHostPresets() throws {
        let header = try read("Sources/PluginABI/include/cano_plugin.h")
        #expect(!header.contains("the host zeroes it and sets struct_size before each call. */"))
        #expect(header.contains("retry_after_ms = CANO_RETRY_AFTER_NONE (-1)"))
        let docs = try read("docs/plugins.md")
        #expect(docs.contains("`retry_after_ms` to `CANO_RETRY_AFTER_NONE`"))
    }
}

/// Local samples (PluginTestHelpers' `Samples` is fine too; kept separate so this file
/// stands alone).
private enum PluginSamples {
    static func issue(_ status: IssueStatus) -> CanoSDK.Issue { Samples.issue(status) }
    static func context(key: String) -> DeliveryContext { Samples.context(key: key) }
}
