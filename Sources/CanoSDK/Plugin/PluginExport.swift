#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PluginABI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a Swift ``DestinationPlugin`` or ``EnricherPlugin`` into the C descriptor the host
/// loads. Each plugin library links its own copy of CanoSDK, so this state is per plugin.
///
/// ```swift
/// @_cdecl("cano_plugin_entry")
/// public func canoPluginEntry() -> UnsafeRawPointer { PluginExport.destination(MyDestination.self) }
/// ```
public enum PluginExport {
    /// The toolchain this SDK copy was compiled with; the host refuses Swift plugins whose
    /// toolchain differs from its own, because Swift has no stable ABI on Linux.
    public static let toolchain: String = {
        #if compiler(>=7.0)
        "swift-7"
        #elseif compiler(>=6.4)
        "swift-6.4"
        #elseif compiler(>=6.3)
        "swift-6.3"
        #elseif compiler(>=6.2)
        "swift-6.2"
        #else
        "swift-6.1"
        #endif
    }()

    /// The descriptor for a destination plugin type. Call it from `cano_plugin_entry`.
    public static func destination<P: DestinationPlugin>(_ type: P.Type) -> UnsafeRawPointer {
        descriptor(name: P.name, version: P.version, kind: CANO_KIND_DESTINATION, pathKeys: P.pathKeys,
                   capabilities: P.capabilities, renders: P.self is any PreviewableDestination.Type) { config, host throws(PluginError) in
            let plugin = try P(config: config, host: host)
            let render = (plugin as? any PreviewableDestination).map { previewable in
                { (issue: Issue) -> Result<RenderedRequest, PluginError> in Result { () throws(PluginError) in try previewable.render(issue) } }
            }
            // A forwarding destination gets the host's bytes undecoded (ForwardingDestination).
            let deliver: InstanceBox.Deliver = if let forwarding = plugin as? any ForwardingDestination {
                .raw { forwarding.deliver($0) }
            } else {
                .decoded { plugin.deliver($0) }
            }
            return InstanceBox(deliver: deliver, enrich: nil, render: render)
        }
    }

    /// The descriptor for an enricher plugin type. Call it from `cano_plugin_entry`.
    public static func enricher<P: EnricherPlugin>(_ type: P.Type) -> UnsafeRawPointer {
        descriptor(name: P.name, version: P.version, kind: CANO_KIND_ENRICHER) { config, host throws(PluginError) in
            let plugin = try P(config: config, host: host)
            return InstanceBox(deliver: nil, enrich: { plugin.enrich($0) }, render: nil)
        }
    }

    // MARK: - Implementation

    typealias Factory = (PluginConfig, HostServices) throws(PluginError) -> InstanceBox

    /// Set once, by the entry point; read by `create`. A plugin library exports one type.
    nonisolated(unsafe) static var factory: Factory?
    nonisolated(unsafe) static var exported: UnsafeMutablePointer<cano_plugin_descriptor>?

    private static func descriptor(name: String, version: String, kind: cano_plugin_kind, pathKeys: [String] = [],
                                   capabilities: PluginCapabilities = [], renders: Bool = false, factory: @escaping Factory) -> UnsafeRawPointer {
        if let exported { return UnsafeRawPointer(exported) }
        self.factory = factory
        let d = UnsafeMutablePointer<cano_plugin_descriptor>.allocate(capacity: 1)
        d.initialize(to: cano_plugin_descriptor())
        d.pointee.struct_size = UInt32(MemoryLayout<cano_plugin_descriptor>.size)
        d.pointee.abi_major = UInt16(CANO_ABI_MAJOR)
        d.pointee.abi_minor = UInt16(CANO_ABI_MINOR)
        d.pointee.kind = kind.rawValue
        // Never freed: the descriptor lives as long as the process (plugins are never unloaded).
        d.pointee.name = UnsafePointer(strdup(name))
        d.pointee.version = UnsafePointer(strdup(version))
        d.pointee.toolchain = UnsafePointer(strdup(toolchain))
        if !pathKeys.isEmpty {
            let list = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: pathKeys.count + 1)
            for (i, key) in pathKeys.enumerated() { list[i] = UnsafePointer(strdup(key)) }
            list[pathKeys.count] = nil
            d.pointee.path_keys = UnsafePointer(list)
        }
        d.pointee.capabilities = capabilities.rawValue
        d.pointee.create = { config, host, instanceOut, result in
            PluginExport.create(config: config, host: host, instanceOut: instanceOut, result: result)
        }
        if kind == CANO_KIND_DESTINATION {
            d.pointee.deliver = { instance, issue, context, result in
                PluginExport.call(instance, issue, context, result) { box, request in
                    switch box.deliver {
                    case .raw(let deliver): deliver(request).cResult
                    case .decoded(let deliver): PluginExport.withDecoded(request) { deliver($0).cResult }
                    case nil: .permanent("not a destination")
                    }
                }
            }
            if renders {
                d.pointee.render = { instance, issue, result in PluginExport.render(instance, issue, result) }
            }
        } else {
            d.pointee.enrich = { instance, issue, context, result in
                PluginExport.call(instance, issue, context, result) { box, request in
                    guard let enrich = box.enrich else { return .permanent("not an enricher") }
                    return PluginExport.withDecoded(request) { request in
                        switch enrich(request) {
                        case .success(let enrichments):
                            guard let json = try? IssueCoding.encode(enrichments) else { return .permanent("enrichments do not encode as JSON") }
                            return CResult(status: CANO_STATUS_OK, message: "enriched", payload: json)
                        case .failure(let error):
                            return CResult(status: error.retryable ? CANO_STATUS_RETRY : CANO_STATUS_PERMANENT, message: error.message)
                        }
                    }
                }
            }
        }
        d.pointee.destroy = { instance in
            guard let instance else { return }
            Unmanaged<InstanceBox>.fromOpaque(instance).release()
        }
        d.pointee.free_buffer = { pointer in free(pointer) }
        exported = d
        return UnsafeRawPointer(d)
    }

    private static func create(
        config: cano_bytes, host: UnsafePointer<cano_host_services>?,
        instanceOut: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, result: UnsafeMutablePointer<cano_result>?
    ) {
        guard let result else { return }
        guard let host, let instanceOut, let factory else {
            CResult.permanent("create called without host services or output pointer").write(to: result)
            return
        }
        let json: JSONValue
        if config.len == 0 {
            json = .object([:])
        } else {
            do {
                json = try IssueCoding.decode(JSONValue.self, from: UnsafeBufferPointer(start: config.ptr, count: config.len))
            } catch {
                CResult.permanent("config is not valid JSON").write(to: result)
                return
            }
        }
        do {
            let box = try factory(PluginConfig(json: json), HostServices(host))
            instanceOut.pointee = Unmanaged.passRetained(box).toOpaque()
            CResult(status: CANO_STATUS_OK, message: "created").write(to: result)
        } catch {
            CResult(status: error.retryable ? CANO_STATUS_RETRY : CANO_STATUS_PERMANENT, message: error.message).write(to: result)
        }
    }

    /// The v1.3 render(): the request the instance's deliver would send, sent nowhere.
    private static func render(_ instance: UnsafeMutableRawPointer?, _ issue: cano_bytes, _ result: UnsafeMutablePointer<cano_result>?) {
        guard let result else { return }
        guard let instance, let render = Unmanaged<InstanceBox>.fromOpaque(instance).takeUnretainedValue().render else {
            CResult.permanent("render called without an instance that renders").write(to: result)
            return
        }
        let decoded: Issue
        do {
            decoded = try IssueCoding.decode(Issue.self, from: UnsafeBufferPointer(start: issue.ptr, count: issue.len))
        } catch {
            CResult.permanent("issue JSON does not decode: \((error as? DecodingError)?.readableDescription ?? "\(error)")").write(to: result)
            return
        }
        switch render(decoded) {
        case .success(let rendered): CResult(status: CANO_STATUS_OK, message: rendered.summary, payload: rendered.body).write(to: result)
        case .failure(let error): CResult.permanent(error.message).write(to: result)
        }
    }

    /// Reads one call's bytes and context into a ``RawDeliveryRequest`` and writes `body`'s
    /// answer to `result`.
    private static func call(
        _ instance: UnsafeMutableRawPointer?, _ issue: cano_bytes, _ context: UnsafePointer<cano_call_context>?,
        _ result: UnsafeMutablePointer<cano_result>?, _ body: (InstanceBox, RawDeliveryRequest) -> CResult
    ) {
        guard let result else { return }
        guard let instance, let context else {
            CResult.permanent("called without an instance or context").write(to: result)
            return
        }
        let box = Unmanaged<InstanceBox>.fromOpaque(instance).takeUnretainedValue()
        let c = context.pointee
        let reference = c.reference.len > 0 ? String(decoding: UnsafeBufferPointer(start: c.reference.ptr, count: c.reference.len), as: UTF8.self) : nil
        let request = RawDeliveryRequest(
            issueJSON: Array(UnsafeBufferPointer(start: issue.ptr, count: issue.len)),
            attempt: Int(c.attempt),
            deadline: Date(timeIntervalSince1970: Double(c.deadline_unix_ms) / 1000),
            idempotencyKey: String(decoding: UnsafeBufferPointer(start: c.idempotency_key.ptr, count: c.idempotency_key.len), as: UTF8.self),
            reference: reference)
        body(box, request).write(to: result)
    }

    /// `body`'s answer for the request with its Issue decoded, or a permanent failure that
    /// says why the Issue JSON does not decode.
    private static func withDecoded(_ raw: RawDeliveryRequest, _ body: (DeliveryRequest) -> CResult) -> CResult {
        do {
            return body(DeliveryRequest(issue: try IssueCoding.decode(Issue.self, from: raw.issueJSON), raw: raw))
        } catch let error as DecodingError {
            return .permanent("issue JSON does not decode: \(error.readableDescription)")
        } catch {
            return .permanent("issue JSON does not decode")
        }
    }
}

/// A live plugin instance behind the opaque `void *instance`.
final class InstanceBox {
    /// A destination's deliver, by what it takes.
    enum Deliver {
        /// A ``ForwardingDestination``: the host's bytes, undecoded.
        case raw((RawDeliveryRequest) -> DeliveryResult)
        /// Any other destination: the Issue decoded first.
        case decoded((DeliveryRequest) -> DeliveryResult)
    }
    let deliver: Deliver?
    let enrich: ((DeliveryRequest) -> Result<[Enrichment], PluginError>)?
    let render: ((Issue) -> Result<RenderedRequest, PluginError>)?
    init(deliver: Deliver?, enrich: ((DeliveryRequest) -> Result<[Enrichment], PluginError>)?,
         render: ((Issue) -> Result<RenderedRequest, PluginError>)?) {
        self.deliver = deliver
        self.enrich = enrich
        self.render = render
    }
}

/// A result on its way into a `cano_result`, with buffers allocated by `malloc` (freed by
/// the descriptor's `free_buffer`).
struct CResult {
    var status: cano_status
    var retryAfterMs: Int64 = Int64(CANO_RETRY_AFTER_NONE)
    var message: String
    var reference: String? = nil
    var payload: [UInt8]? = nil

    static func permanent(_ message: String) -> CResult { CResult(status: CANO_STATUS_PERMANENT, message: message) }

    func write(to result: UnsafeMutablePointer<cano_result>) {
        result.pointee.status = Int32(status.rawValue)
        result.pointee.retry_after_ms = retryAfterMs
        result.pointee.message = Self.buffer(Array(message.utf8))
        if let reference { result.pointee.reference = Self.buffer(Array(reference.utf8)) }
        if let payload { result.pointee.payload = Self.buffer(payload) }
    }

    private static func buffer(_ bytes: [UInt8]) -> cano_buffer {
        guard !bytes.isEmpty, let memory = malloc(bytes.count) else { return cano_buffer() }
        bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return cano_buffer(ptr: memory.assumingMemoryBound(to: UInt8.self), len: bytes.count)
    }
}

extension DeliveryResult {
    var cResult: CResult {
        switch self {
        case .delivered(let reference, let message):
            return CResult(status: CANO_STATUS_OK, message: message, reference: reference)
        case .retry(let after, let message):
            let ms = after.map { Int64($0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000) }
            return CResult(status: CANO_STATUS_RETRY, retryAfterMs: ms ?? Int64(CANO_RETRY_AFTER_NONE), message: message)
        case .permanent(let message):
            return .permanent(message)
        }
    }
}
