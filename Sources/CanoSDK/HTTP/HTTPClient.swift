import CCurl
import Synchronization

/// A small blocking HTTP client on libcurl, shared by the host and plugins.
///
/// Calls block the calling thread until the response is complete, so call it only from
/// threads you own (the host's delivery threads do), never from Swift's cooperative pool.
/// One client keeps one libcurl handle and its connections alive; calls on one client are
/// serialised, so use one client per thread for parallel requests.
///
/// Errors never contain the request URL's path or query, nor any header value, because
/// those carry credentials (webhook keys, tokens).
public final class HTTPClient: @unchecked Sendable {
    private let handle: Mutex<UnsafeMutableRawPointer?>

    /// Creates a client. In a host process call ``initializeProcess()`` first.
    public init() {
        handle = Mutex(curl_easy_init())
    }

    deinit {
        handle.withLock { if let h = $0 { curl_easy_cleanup(h) } }
    }

    /// Process-wide libcurl setup. Hosts call it once at start-up, before any thread
    /// exists; plugins never call it (the host has).
    public static func initializeProcess() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }

    /// Sends a request and returns the whole response.
    public func send(_ request: HTTPRequest) throws(HTTPClientError) -> HTTPResponse {
        let sink = TransferSink(maxBodyBytes: request.maxResponseBytes, onData: nil, shouldContinue: nil)
        return try perform(request, sink: sink)
    }

    /// Sends a request and hands the body to `onData` as it arrives (for watch streams).
    /// `onData` returns false to stop; `shouldContinue` is polled about once a second while
    /// the stream is idle and stops it when false. Stopping is not an error: the returned
    /// response has the status and headers and an empty body.
    public func stream(
        _ request: HTTPRequest,
        shouldContinue: @escaping () -> Bool = { true },
        onData: @escaping ([UInt8]) -> Bool
    ) throws(HTTPClientError) -> HTTPResponse {
        let sink = TransferSink(maxBodyBytes: Int.max, onData: onData, shouldContinue: shouldContinue)
        return try perform(request, sink: sink)
    }

    private func perform(_ request: HTTPRequest, sink: TransferSink) throws(HTTPClientError) -> HTTPResponse {
        let result: Result<HTTPResponse, HTTPClientError> = handle.withLock { handle in
            guard let h = handle else { return .failure(HTTPClientError(.other, "libcurl could not create a handle")) }
            curl_easy_reset(h)
            return Result { () throws(HTTPClientError) in try Self.run(h, request, sink) }
        }
        return try result.get()
    }

    private static func run(_ h: UnsafeMutableRawPointer, _ request: HTTPRequest, _ sink: TransferSink) throws(HTTPClientError) -> HTTPResponse {
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let context = Unmanaged.passRetained(sink)
        defer { context.release() }

        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorBytes in
            ccurl_setopt_string(h, CURLOPT_URL, request.url)
            ccurl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
            ccurl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorBytes.baseAddress)
            ccurl_setopt_long(h, CURLOPT_TIMEOUT_MS, request.timeout.milliseconds)
            ccurl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, min(request.connectTimeout.milliseconds, request.timeout.milliseconds))
            ccurl_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0)
            ccurl_setopt_string(h, CURLOPT_PROTOCOLS_STR, "http,https")
            if let body = request.body {
                ccurl_setopt_long(h, CURLOPT_POSTFIELDSIZE, body.count)
                _ = body.withUnsafeBytes { ccurl_setopt_pointer(h, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)) }
                if request.method != "POST" { ccurl_setopt_string(h, CURLOPT_CUSTOMREQUEST, request.method) }
            } else if request.method == "GET" {
                ccurl_setopt_long(h, CURLOPT_HTTPGET, 1)
            } else if request.method == "HEAD" {
                ccurl_setopt_long(h, CURLOPT_NOBODY, 1)
            } else {
                ccurl_setopt_string(h, CURLOPT_CUSTOMREQUEST, request.method)
            }
            // libcurl adds "Expect: 100-continue" to larger POSTs; servers we talk to answer
            // directly, and the extra round trip costs latency.
            headerList = curl_slist_append(headerList, "Expect:")
            for header in request.headers {
                headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
            }
            ccurl_setopt_pointer(h, CURLOPT_HTTPHEADER, headerList)
            applyTLS(h, request.tls)
            ccurl_setopt_write(h, { data, size, count, userdata in
                let sink = Unmanaged<TransferSink>.fromOpaque(userdata!).takeUnretainedValue()
                let n = size * count
                return sink.receive(UnsafeRawBufferPointer(start: data, count: n)) ? n : 0
            }, context.toOpaque())
            ccurl_setopt_header(h, { data, size, count, userdata in
                let sink = Unmanaged<TransferSink>.fromOpaque(userdata!).takeUnretainedValue()
                let n = size * count
                sink.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: n))
                return n
            }, context.toOpaque())
            if sink.shouldContinue != nil {
                ccurl_setopt_progress(h, { userdata, _, _, _, _ in
                    let sink = Unmanaged<TransferSink>.fromOpaque(userdata!).takeUnretainedValue()
                    return sink.shouldContinue?() == false ? 1 : 0
                }, context.toOpaque())
            }
            return curl_easy_perform(h)
        }

        var status = 0
        ccurl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        let response = HTTPResponse(status: status, headers: sink.headers, body: sink.body)
        switch code {
        case CURLE_OK:
            return response
        case CURLE_WRITE_ERROR where sink.stoppedByCaller, CURLE_ABORTED_BY_CALLBACK:
            return HTTPResponse(status: status, headers: sink.headers, body: [])
        case CURLE_WRITE_ERROR where sink.overflowed:
            throw HTTPClientError(.responseTooLarge, "response body exceeds \(request.maxResponseBytes) bytes", host: request.host)
        default:
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let text = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw HTTPClientError(HTTPClientError.Code(curl: code), text, host: request.host)
        }
    }

    private static func applyTLS(_ h: UnsafeMutableRawPointer, _ tls: TLSOptions?) {
        guard let tls else { return }
        if let caFile = tls.caFile { ccurl_setopt_string(h, CURLOPT_CAINFO, caFile) }
        if let pem = tls.caPEM { _ = pem.withUnsafeBytes { ccurl_setopt_blob(h, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count) } }
        if let cert = tls.clientCertificatePEM {
            ccurl_setopt_string(h, CURLOPT_SSLCERTTYPE, "PEM")
            _ = cert.withUnsafeBytes { ccurl_setopt_blob(h, CURLOPT_SSLCERT_BLOB, $0.baseAddress, $0.count) }
        }
        if let key = tls.clientKeyPEM {
            ccurl_setopt_string(h, CURLOPT_SSLKEYTYPE, "PEM")
            _ = key.withUnsafeBytes { ccurl_setopt_blob(h, CURLOPT_SSLKEY_BLOB, $0.baseAddress, $0.count) }
        }
        if tls.insecureSkipVerify {
            ccurl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 0)
            ccurl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 0)
        }
    }
}

/// Collects one transfer's headers and body; lives for one `perform`.
private final class TransferSink: @unchecked Sendable {
    let maxBodyBytes: Int
    let onData: (([UInt8]) -> Bool)?
    let shouldContinue: (() -> Bool)?
    var headers: [HTTPHeader] = []
    var body: [UInt8] = []
    var overflowed = false
    var stoppedByCaller = false

    init(maxBodyBytes: Int, onData: (([UInt8]) -> Bool)?, shouldContinue: (() -> Bool)?) {
        self.maxBodyBytes = maxBodyBytes
        self.onData = onData
        self.shouldContinue = shouldContinue
    }

    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if let onData {
            let keepGoing = onData(Array(bytes))
            if !keepGoing { stoppedByCaller = true }
            return keepGoing
        }
        guard body.count + bytes.count <= maxBodyBytes else {
            overflowed = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        let line = String(decoding: bytes, as: UTF8.self).trimming("\r\n")
        if line.hasPrefix("HTTP/") {
            headers.removeAll()  // a new response (after 100 Continue or a redirect)
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = String(line[..<colon])
        let value = String(line[line.index(after: colon)...]).trimming(" \t")
        headers.append(HTTPHeader(name: name, value: value))
    }
}

extension String {
    /// Without leading and trailing Unicode scalars from `set` (`" \t\r\n"`).
    /// Scalar-wise on purpose: as Characters, "\r\n" is one grapheme that a set holding
    /// "\r" and "\n" would not match.
    public func trimming(_ set: String) -> String {
        let scalars = Set(set.unicodeScalars)
        var s = Substring(self).unicodeScalars[...]
        while let f = s.first, scalars.contains(f) { s.removeFirst() }
        while let l = s.last, scalars.contains(l) { s.removeLast() }
        return String(String.UnicodeScalarView(s))
    }
}

extension Duration {
    /// Whole milliseconds, at least 1 (libcurl reads 0 as "no timeout").
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}
