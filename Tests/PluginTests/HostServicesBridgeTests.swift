import CanoSDK
import Collector
import PluginABI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The host services table called the way a C plugin calls it.
@Suite("Host services bridge")
struct HostServicesBridgeTests {
    private func bytes(_ text: String, _ body: (cano_bytes) -> Void) {
        var array = Array(text.utf8)
        array.withUnsafeMutableBufferPointer { body(cano_bytes(ptr: $0.baseAddress, len: $0.count)) }
    }

    @Test func keyValueRoundTripScopedToTheInstance() throws {
        let test = TestServices()
        let bridge = HostServicesBridge(instance: "slack-ops", plugin: "slack", services: test.services)
        let t = bridge.table.pointee
        #expect(t.struct_size == UInt32(MemoryLayout<cano_host_services>.size))
        #expect(t.abi_major == 1)

        var out = cano_buffer()
        bytes("thread") { key in #expect(t.kv_get(t.host_ctx, key, &out) == 1, "absent") }
        bytes("thread") { key in bytes("C1/1700000000.1") { value in #expect(t.kv_put(t.host_ctx, key, value) == 0) } }
        bytes("thread") { key in #expect(t.kv_get(t.host_ctx, key, &out) == 0) }
        #expect(String(decoding: UnsafeBufferPointer(start: out.ptr, count: out.len), as: UTF8.self) == "C1/1700000000.1")
        t.free_buffer(t.host_ctx, out.ptr)
        #expect(try test.store.value(namespace: "slack-ops", key: "thread") == Array("C1/1700000000.1".utf8))

        // An empty value is "found, empty", not "absent".
        bytes("empty") { key in bytes("") { value in #expect(t.kv_put(t.host_ctx, key, value) == 0) } }
        bytes("empty") { key in #expect(t.kv_get(t.host_ctx, key, &out) == 0) }
        #expect(out.len == 0)
        t.free_buffer(t.host_ctx, out.ptr)

        bytes("thread") { key in #expect(t.kv_delete(t.host_ctx, key) == 0) }
        bytes("thread") { key in #expect(t.kv_get(t.host_ctx, key, &out) == 1) }
        t.free_buffer(t.host_ctx, nil)  // NULL is a no-op
    }

    @Test func valuesOver64KiBAndEmptyKeysAreRefused() throws {
        let test = TestServices()
        let bridge = HostServicesBridge(instance: "d", plugin: "p", services: test.services)
        let t = bridge.table.pointee
        let limit = String(repeating: "x", count: 64 * 1024)
        bytes("k") { key in bytes(limit) { value in #expect(t.kv_put(t.host_ctx, key, value) == 0) } }
        bytes("k") { key in bytes(limit + "x") { value in #expect(t.kv_put(t.host_ctx, key, value) == -1) } }
        bytes("") { key in bytes("v") { value in #expect(t.kv_put(t.host_ctx, key, value) == -1) } }
        #expect(test.logs.lines.contains { $0.contains("value too large") })
    }

    @Test func countersAreValidatedAndLabelledWithTheDestination() {
        let test = TestServices()
        let bridge = HostServicesBridge(instance: "hook-a", plugin: "webhook", services: test.services)
        let t = bridge.table.pointee
        bytes("posts") { name in t.counter_add(t.host_ctx, name, 3) }
        bytes("posts") { name in t.counter_add(t.host_ctx, name, 2) }
        bytes("Bad-Name") { name in t.counter_add(t.host_ctx, name, 1) }
        bytes("Bad-Name") { name in t.counter_add(t.host_ctx, name, 1) }
        #expect(test.metrics.counter("cano_plugin_posts_total", ["destination": "hook-a"]) == 5)
        #expect(!test.metrics.render().contains("Bad"))
        #expect(test.logs.lines.filter { $0.contains("counter_add ignored") }.count == 1, "reported once")
    }

    @Test func logLinesCarryLevelFieldsAndIdentity() {
        let test = TestServices()
        let bridge = HostServicesBridge(instance: "hook-a", plugin: "webhook", services: test.services)
        let t = bridge.table.pointee
        bytes("rate limited") { message in
            bytes(#"{"retry_after_ms":1500,"ratio":0.5,"ok":true,"channel":"C1","tags":["a"],"destination":"spoofed"}"#) { fields in
                t.log(t.host_ctx, Int32(CANO_LOG_WARNING.rawValue), message, fields)
            }
        }
        let line = test.logs.lines.last ?? ""
        #expect(line.contains("\"level\":\"warning\""))
        #expect(line.contains("\"msg\":\"rate limited\""))
        // A plugin's numbers and bools keep their JSON type (issue 15 §5), as host fields do.
        #expect(line.contains("\"retry_after_ms\":1500"), "\(line)")
        #expect(line.contains("\"ratio\":0.5"))
        #expect(line.contains("\"ok\":true"))
        #expect(line.contains("\"channel\":\"C1\""))
        #expect(line.contains(#""tags":"[\"a\"]""#), "arrays are written as JSON text")
        #expect(line.contains("\"destination\":\"hook-a\""), "a plugin cannot relabel its lines")
        #expect(line.contains("\"plugin\":\"webhook\""))
    }

    /// The bridge drops a line below the host's level before decoding its fields (a cost
    /// per delivery: plugins log each one at debug), and keeps every line at or above it.
    @Test func linesBelowTheHostsLevelAreDroppedAndTheRestKept() {
        let test = TestServices()
        var services = test.services
        services.logger.logLevel = .info
        let bridge = HostServicesBridge(instance: "hook-a", plugin: "webhook", services: services)
        let t = bridge.table.pointee
        for (level, text) in [(CANO_LOG_DEBUG, "debug line"), (CANO_LOG_INFO, "info line"), (CANO_LOG_WARNING, "warning line"), (CANO_LOG_ERROR, "error line")] {
            bytes(text) { message in
                bytes(#"{"origin":"https://hooks.example"}"#) { fields in t.log(t.host_ctx, Int32(level.rawValue), message, fields) }
            }
        }
        let lines = test.logs.lines
        #expect(!lines.contains { $0.contains("debug line") })
        for text in ["info line", "warning line", "error line"] {
            #expect(lines.contains { $0.contains(text) && $0.contains(#""origin":"https://hooks.example""#) }, "\(lines)")
        }
    }

    @Test func kubeGetGoesThroughTheHostsReader() throws {
        let test = TestServices()
        var services = test.services
        services.kube = FakeKube()
        let bridge = HostServicesBridge(instance: "e", plugin: "logs", services: services)
        let t = bridge.table.pointee
        var status: Int32 = 0
        var body = cano_buffer()
        bytes("/api/v1/namespaces/payments/pods/worker-1/log?tailLines=2") { path in #expect(t.kube_get(t.host_ctx, path, &status, &body) == 0) }
        #expect(status == 200)
        #expect(String(decoding: UnsafeBufferPointer(start: body.ptr, count: body.len), as: UTF8.self) == "line 1\nline 2\n")
        t.free_buffer(t.host_ctx, body.ptr)

        bytes("/api/v1/secrets") { path in #expect(t.kube_get(t.host_ctx, path, &status, &body) == -1, "the reader refuses the path") }
        bytes("api/v1/namespaces") { path in #expect(t.kube_get(t.host_ctx, path, &status, &body) == -1, "not an absolute API path") }
        #expect(body.ptr == nil)
    }

    @Test func kubeGetWithoutClusterAccessFails() {
        let bridge = HostServicesBridge(instance: "e", plugin: "logs", services: TestServices().services)
        let t = bridge.table.pointee
        var status: Int32 = 0
        var body = cano_buffer()
        bytes("/api/v1/namespaces") { path in #expect(t.kube_get(t.host_ctx, path, &status, &body) == -1) }
        #expect(body.ptr == nil)
    }
}

/// A KubeReader that knows one pod log and refuses everything else.
private struct FakeKube: KubeReader {
    func get(path: String) -> (status: Int, body: [UInt8])? {
        path.hasPrefix("/api/v1/namespaces/payments/pods/worker-1/log") ? (200, Array("line 1\nline 2\n".utf8)) : nil
    }
}
