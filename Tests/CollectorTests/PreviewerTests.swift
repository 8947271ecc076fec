@testable import Collector
import Logging
import Testing

/// The preview's concurrency bound: readers cannot pile previews onto the collector.
@Suite struct PreviewerTests {
    @Test func atMostTwoPreviewsRunAtOnce() {
        let services = PluginServices(logger: Logger(label: "test"), store: InMemoryKeyValueStore(), metrics: Metrics())
        let previewer = Previewer(factory: DestinationFactory(catalog: PluginCatalog(), services: services), destinations: [])
        #expect(previewer.admit() && previewer.admit())
        #expect(!previewer.admit(), "a third waits for a slot: the console answers 429")
        previewer.leave()
        #expect(previewer.admit(), "a finished preview frees its slot")
    }
}
