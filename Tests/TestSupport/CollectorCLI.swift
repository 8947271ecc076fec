import CanoSDK
import Foundation

/// Runs a short-lived `cano-collector` command (`validate`, `plugins check`...) and returns
/// its exit status with everything it printed, stdout and stderr together: a leak or a
/// message is a failure wherever it is written.
public enum CollectorCLI {
    /// Runs the built binary with `arguments` and waits for it to exit, on a thread of its
    /// own (the command may talk to in-process doubles, which need Swift's cooperative pool
    /// free). `environment` is added to this process's; `standardError: false` drops stderr.
    public static func run(
        _ arguments: [String], environment: [String: String] = [:], standardError: Bool = true
    ) async throws -> (status: Int32, output: String) {
        let result: Result<(status: Int32, output: String), any Error> = await BlockingThread.run(name: "test-cli") {
            Result { try runBlocking(arguments, environment: environment, standardError: standardError) }
        }
        return try result.get()
    }

    private static func runBlocking(
        _ arguments: [String], environment: [String: String], standardError: Bool
    ) throws -> (status: Int32, output: String) {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: try BuildProducts.collector())
        process.arguments = arguments
        process.environment = BuildProducts.collectorEnvironment(environment)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = standardError ? pipe : FileHandle.nullDevice
        try Subprocess.start(process)
        let data = Subprocess.readToEnd(pipe.fileHandleForReading)
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
