import CanoSDK
import Foundation
import Logging
import PluginABI
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The child side of `isolation: process`: `cano-collector plugin-host --plugin PATH
/// --name DEST` loads one plugin with the ordinary loader, creates one instance, and
/// serves the parent's frames on stdin/stdout until `destroy` or the end of stdin.
///
/// Host services reach the parent as frames: the key-value store and kube GET are calls
/// the parent answers (so state lives in the parent's database and survives restarts of
/// this process), log lines and counters are one-way frames.
public enum PluginHostServer {
    /// Runs the server. Returns an exit status only when the plugin cannot be loaded;
    /// otherwise the process ends after `destroy` or when the collector goes away.
    public static func run(pluginPath: String, name: String) -> Int32 {
        // The frame stream is the only thing allowed on the parent's socket: keep private
        // copies of fds 0 and 1, then point stdout at stderr and stdin at /dev/null, so a
        // plugin's stray printf cannot corrupt the protocol.
        signal(SIGPIPE, SIG_IGN)
        let input = fcntl(0, F_DUPFD_CLOEXEC, 3)
        let output = fcntl(1, F_DUPFD_CLOEXEC, 3)
        guard input >= 0, output >= 0 else { return 70 }
        dup2(2, 1)
        let null = open("/dev/null", O_RDONLY)
        if null >= 0 { dup2(null, 0); close(null) }

        let channel = ChildChannel(input: input, output: output)
        HTTPClient.initializeProcess()
        let plugin: LoadedPlugin
        do {
            plugin = try PluginLoader.load(path: pluginPath)
        } catch {
            channel.write(PluginFrame(.fatal, [PluginFrame.field("\(error.path): \(error.reason)")]))
            return 3
        }
        guard plugin.kind == .destination else {
            channel.write(PluginFrame(.fatal, [PluginFrame.field("plugin \(plugin.name) (\(plugin.path)) is an enricher, not a destination")]))
            return 3
        }
        channel.write(PluginFrame(.hello, [PluginFrame.field(plugin.name), PluginFrame.field(plugin.version)]))
        let server = Server(plugin: plugin, name: name, channel: channel)
        server.serve()
    }

    /// The child's end of the socket: serialised writes, and the host calls waiting for
    /// their replies.
    final class ChildChannel: Sendable {
        let input: Int32
        let output: Int32
        private let writeLock = Mutex<Void>(())
        private let pending = Mutex<(next: UInt32, waiting: [UInt32: (DispatchSemaphore, Box)])>((1, [:]))

        /// Where a host call's reply lands.
        final class Box: @unchecked Sendable {
            // @unchecked: written by the reader before it signals, read by the waiter after.
            var frame: PluginFrame?
        }

        init(input: Int32, output: Int32) {
            self.input = input
            self.output = output
        }

        /// Writes a frame; if the parent is gone there is nobody to serve: exit.
        func write(_ frame: PluginFrame) {
            let ok = writeLock.withLock { _ in PluginFrameIO.write(frame, to: output) }
            if !ok { _exit(0) }
        }

        /// Sends a host call and blocks until the parent answers it.
        func hostCall(_ operation: String, _ a: [UInt8], _ b: [UInt8] = []) -> PluginFrame {
            let semaphore = DispatchSemaphore(value: 0)
            let box = Box()
            let id = pending.withLock { p in
                let id = p.next
                p.next &+= 1
                p.waiting[id] = (semaphore, box)
                return id
            }
            write(PluginFrame(.hostCall, id: id, [PluginFrame.field(operation), a, b]))
            semaphore.wait()
            return box.frame ?? PluginFrame(.hostReply, [PluginFrame.field(-1)])
        }

        /// Routes a reply to its waiting host call.
        func reply(_ frame: PluginFrame) {
            pending.withLock { p in
                guard let (semaphore, box) = p.waiting.removeValue(forKey: frame.id) else { return }
                box.frame = frame
                semaphore.signal()
            }
        }
    }

    /// The instance and the frame loop.
    final class Server: @unchecked Sendable {
        // @unchecked: `instance` is written once by the create handler before any deliver
        // is dispatched (the parent sends deliver only after create answered), then read.
        let plugin: LoadedPlugin
        let name: String
        let channel: ChildChannel
        let metrics = Metrics()
        private let instance = Mutex<PluginInstance?>(nil)
        private let sentCounters = Mutex<[String: Double]>([:])

        init(plugin: LoadedPlugin, name: String, channel: ChildChannel) {
            self.plugin = plugin
            self.name = name
            self.channel = channel
        }

        /// Reads frames until destroy or the end of stdin, then ends the process. Plugin
        /// calls run on their own threads (named `plugin-deliver` etc. in /proc), so this
        /// loop stays free to route host-call replies to them.
        func serve() -> Never {
            while true {
                let frame: PluginFrame
                do {
                    frame = try PluginFrameIO.read(from: channel.input)
                } catch {
                    // The collector is gone (or broke the stream): nothing left to serve. _exit,
                    // not exit: a plugin thread stuck in a call may hold locks that atexit
                    // handlers and library destructors would wait for forever.
                    _exit(0)
                }
                switch frame.kind {
                case .hostReply:
                    channel.reply(frame)
                case .create:
                    BlockingThread.start(name: "plugin-create") { self.create(frame) }
                case .deliver:
                    BlockingThread.start(name: "plugin-deliver") { self.deliver(frame) }
                case .destroy:
                    BlockingThread.start(name: "plugin-destroy") {
                        let current = self.instance.withLock { $0 }
                        current?.destroy()
                        self.flushCounters()
                        self.channel.write(PluginFrame(.result, id: frame.id, [PluginFrame.field(Int64(CANO_STATUS_OK.rawValue))]))
                        _exit(0)
                    }
                default:
                    continue  // a frame only the parent receives: ignore
                }
            }
        }

        private var services: PluginServices {
            let channel = channel
            let logger = Logger(label: "cano.plugin") { _ in FrameLogHandler(channel: channel) }
            return PluginServices(logger: logger, store: ProxyStore(channel: channel), metrics: metrics, kube: ProxyKube(channel: channel))
        }

        private func create(_ frame: PluginFrame) {
            let answer: PluginFrame
            do {
                let flags = PluginCreateFlags(rawValue: frame.fields.count > 1 ? UInt64(bitPattern: frame.int(1)) : 0)
                let created = try PluginInstance(plugin: plugin, name: name, configJSON: frame.bytes(0), services: services, flags: flags)
                instance.withLock { $0 = created }
                answer = Self.result(id: frame.id, status: Int32(CANO_STATUS_OK.rawValue), message: "created")
            } catch {
                answer = Self.result(id: frame.id, status: error.retryable ? Int32(CANO_STATUS_RETRY.rawValue) : Int32(CANO_STATUS_PERMANENT.rawValue),
                                     message: error.reason)
            }
            flushCounters()
            channel.write(answer)
        }

        private func deliver(_ frame: PluginFrame) {
            guard let current = instance.withLock({ $0 }) else {
                channel.write(Self.result(id: frame.id, status: Int32(CANO_STATUS_RETRY.rawValue), message: "plugin instance not created"))
                return
            }
            let deadlineMillis = frame.int(2)
            let nowMillis = Int64(Date().timeIntervalSince1970 * 1000)
            let context = DeliveryContext(
                attempt: Int(frame.int(1)), deadlineUnixMillis: deadlineMillis,
                deadline: .now + .milliseconds(max(0, deadlineMillis - nowMillis)),
                idempotencyKey: frame.string(3), reference: frame.int(5) != 0 ? frame.bytes(4) : nil)
            let r = current.call(.deliver, issueJSON: frame.bytes(0), context: context)
            flushCounters()
            var fields = [PluginFrame.field(Int64(r.status)), PluginFrame.field(r.retryAfterMillis ?? -1), PluginFrame.field(r.message)]
            fields += [r.reference ?? [], PluginFrame.field(r.reference == nil ? 0 : 1)]
            channel.write(PluginFrame(.result, id: frame.id, fields))
        }

        static func result(id: UInt32, status: Int32, message: String) -> PluginFrame {
            PluginFrame(.result, id: id, [PluginFrame.field(Int64(status)), PluginFrame.field(-1), PluginFrame.field(message), [], PluginFrame.field(0)])
        }

        /// Sends the growth of every `cano_plugin_*_total` counter since the last flush, so
        /// the parent's /metrics shows them. The bridge writes counters into this process's
        /// `Metrics`; reading them back from its text rendering keeps the bridge unchanged.
        func flushCounters() {
            let prefix = "cano_plugin_"
            let current = metrics.render().split(separator: "\n").compactMap { line -> (String, Double)? in
                guard line.hasPrefix(prefix), let brace = line.firstIndex(of: "{"), let space = line.lastIndex(of: " "),
                      let value = Double(line[line.index(after: space)...]) else { return nil }
                return (String(line[..<brace]), value)
            }
            let deltas: [(String, Double)] = sentCounters.withLock { sent in
                var out: [(String, Double)] = []
                for (counter, value) in current where value > sent[counter, default: 0] {
                    out.append((counter, value - sent[counter, default: 0]))
                    sent[counter] = value
                }
                return out
            }
            for (counter, delta) in deltas {
                let short = String(counter.dropFirst(prefix.count).dropLast("_total".count))
                channel.write(PluginFrame(.counter, [PluginFrame.field(short), PluginFrame.field(Int64(delta))]))
            }
        }
    }

    /// Sends each log line to the parent as a frame; the parent logs it with its own
    /// handler, so the child writes nothing of its own to stdout.
    struct FrameLogHandler: LogHandler {
        let channel: ChildChannel
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            // Typed, as the JSON log writes them: a plugin's `"attempt":1` stays a number
            // in the parent's log (the parent scrubs secrets when it writes the line).
            var fields: [String: JSONValue] = [:]
            for (k, v) in metadata { fields[k] = JSONLogHandler.json(v) }
            for (k, v) in event.metadata ?? [:] { fields[k] = JSONLogHandler.json(v) }
            let json = (try? IssueCoding.encode(fields)) ?? Array("{}".utf8)
            channel.write(PluginFrame(.log, [PluginFrame.field(event.level.rawValue), PluginFrame.field("\(event.message)"), json]))
        }
    }

    /// The key-value store, in the parent's database.
    struct ProxyStore: KeyValueStore {
        let channel: ChildChannel

        func value(namespace: String, key: String) throws -> [UInt8]? {
            let reply = channel.hostCall("kv_get", PluginFrame.field(key))
            switch reply.int(0) {
            case 0: return reply.bytes(1)
            case 1: return nil
            default: throw PluginProcessError("the collector could not read the key-value store")
            }
        }

        func setValue(_ value: [UInt8], namespace: String, key: String) throws {
            guard channel.hostCall("kv_put", PluginFrame.field(key), value).int(0) == 0 else {
                throw PluginProcessError("the collector could not write the key-value store")
            }
        }

        func removeValue(namespace: String, key: String) throws {
            guard channel.hostCall("kv_delete", PluginFrame.field(key)).int(0) == 0 else {
                throw PluginProcessError("the collector could not delete from the key-value store")
            }
        }
    }

    /// kube GET, made by the parent with its credentials (the child never holds them).
    struct ProxyKube: KubeReader {
        let channel: ChildChannel

        func get(path: String) -> (status: Int, body: [UInt8])? {
            let reply = channel.hostCall("kube_get", PluginFrame.field(path))
            guard reply.int(0) == 0 else { return nil }
            return (Int(reply.int(2)), reply.bytes(1))
        }
    }
}
