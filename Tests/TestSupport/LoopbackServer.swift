import Hummingbird
import Logging

/// A Hummingbird router running on an ephemeral loopback port, quietly: what the HTTP
/// doubles share to start and stop.
struct LoopbackServer: Sendable {
    /// The port it listens on.
    let port: Int
    private let task: Task<Void, any Error>

    /// Stops the server and waits until it has.
    func stop() async {
        task.cancel()
        _ = await task.result
    }

    /// Starts `router` on 127.0.0.1.
    static func start<Responder: HTTPResponderBuilder>(_ router: Responder, label: String) async throws -> LoopbackServer
    where Responder.Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
        let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: label)
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in
                                  portContinuation.yield(channel.localAddress?.port ?? 0)
                                  portContinuation.finish()
                              }, logger: logger)
        let task = Task { try await app.run() }
        var port = 0
        for await p in portStream { port = p }
        guard port > 0 else {
            task.cancel()
            throw TestTimeout(what: "the \(label) to listen")
        }
        return LoopbackServer(port: port, task: task)
    }
}
