import Hummingbird
import Logging

/// Runs a Hummingbird router on an ephemeral loopback port, quietly: what the HTTP doubles
/// share to start.
enum LoopbackServer {
    /// The port it listens on and the task running it (cancel the task to stop it).
    static func start<Responder: HTTPResponderBuilder>(_ router: Responder, label: String) async throws -> (port: Int, task: Task<Void, any Error>)
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
        return (port, task)
    }
}
