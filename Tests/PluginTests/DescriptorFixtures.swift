import Collector
import Foundation
import TestSupport

/// The helpers of the tests that read one descriptor field per ABI minor (capabilities,
/// render): a C plugin written in the test, next to its check, and a factory over it.
enum DescriptorFixtures {
    /// Compiles `source` as `name.so` in `dir`, with the shared fixture helpers
    /// (`Tests/Fixtures/plugins/fixture.h`) on the include path.
    static func compile(_ source: String, as name: String, in dir: TemporaryDirectory) async throws -> String {
        let file = dir.file(name + ".c")
        try source.write(toFile: file, atomically: true, encoding: .utf8)
        return try await CPluginCompiler.compile(file, into: dir.path, as: name + ".so",
                                                 flags: ["-I", (CPluginCompiler.fixture("fixture.h") as NSString).deletingLastPathComponent])
    }

    /// A factory whose catalog holds `plugin` alone.
    static func factory(_ plugin: LoadedPlugin) -> DestinationFactory {
        var catalog = PluginCatalog()
        catalog.add(plugin.path)
        return DestinationFactory(catalog: catalog, services: TestServices().services)
    }
}
