import CanoSDK
import Collector
import Foundation
import Testing
import TestSupport

/// ABI v1.2 `capabilities`: which plugins the host may hand grouped Issues. A plugin built
/// before grouping existed must keep getting single Issues, whatever bytes follow its
/// descriptor; one that declares `CANO_CAPABILITY_GROUPS` says so wherever it runs.
///
/// Serialized: the isolated case spawns a child, and every blocking step runs on a thread
/// of its own, never on Swift's cooperative pool.
@Suite("Plugin capabilities (ABI v1.2)", .serialized)
struct CapabilitiesTests {
    /// A v1.1 descriptor: struct_size ends after path_keys (96 bytes), abi_minor 1, and the
    /// eight bytes where v1.2 put `capabilities` hold all ones. It must load with none.
    @Test func aV11DescriptorLoadsWithoutCapabilities() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-caps")
        defer { dir.remove() }
        let so = try await DescriptorFixtures.compile("""
            #include "fixture.h"
            static struct { cano_plugin_descriptor d; } block = {
                .d = {FIXTURE_DESCRIPTOR_FIELDS("v1-1"), .struct_size = CANO_DESCRIPTOR_V1_1_SIZE, .abi_minor = 1,
                      .capabilities = ~(uint64_t)0},
            };
            EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &block.d; }
            """, as: "v11", in: dir)
        let loaded = try PluginLoader.load(path: so)
        #expect(loaded.abiMinor == 1)
        #expect(loaded.capabilities == [])
        #expect(!DescriptorFixtures.factory(loaded).acceptsGroups(DestinationConfig(name: "old", type: loaded.name)))
    }

    /// A descriptor of minor 1 whose struct_size is the full v1.2 size (its own data after
    /// the v1.1 fields): the field is still not read, because the minor predates it.
    @Test func anOlderMinorWithALargerStructIsNotReadAsCapabilities() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-caps")
        defer { dir.remove() }
        let so = try await DescriptorFixtures.compile("""
            #include "fixture.h"
            static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("big-v1-1"), .abi_minor = 1, .capabilities = 1};
            EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
            """, as: "bigv11", in: dir)
        #expect(try PluginLoader.load(path: so).capabilities == [])
    }

    /// A C plugin declaring groups (and a bit this host does not know): the host keeps both,
    /// acts on groups, and shows the unknown bit.
    @Test func aCPluginDeclaringGroups() async throws {
        let dir = try TemporaryDirectory(prefix: "cano-caps")
        defer { dir.remove() }
        let so = try await DescriptorFixtures.compile("""
            #include "fixture.h"
            static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("grouping"),
                .capabilities = CANO_CAPABILITY_GROUPS | ((uint64_t)1 << 5)};
            EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
            """, as: "grouping", in: dir)
        let loaded = try PluginLoader.load(path: so)
        #expect(loaded.abiMinor == PluginLoader.abiMinor)
        #expect(loaded.capabilities.contains(.groups))
        #expect(loaded.capabilities.description == "groups, bit 5")
    }

    /// The Swift SDK exports `static var capabilities`; the host reads it from the
    /// descriptor, so the answer is the same whether the destination runs in process or in
    /// a child, and before either is created.
    @Test func aSwiftPluginDeclaringGroupsAcceptsGroupsInProcessAndIsolated() throws {
        let plugin = try PluginLoader.load(path: try BuildProducts.plugin("CanoWebhook"))
        #expect(plugin.capabilities == [.groups])
        var isolated = DestinationConfig(name: "hook-isolated", type: "webhook")
        isolated.isolation = .process
        #expect(DescriptorFixtures.factory(plugin).acceptsGroups(DestinationConfig(name: "hook", type: "webhook")))
        #expect(DescriptorFixtures.factory(plugin).acceptsGroups(isolated))
    }

    /// A plugin that declares nothing (the fixture, as every plugin before v1.2) gets
    /// single Issues, and so do the built-in file destination (one Issue per line) and a type
    /// no plugin provides (its deliveries wait in the outbox, one per member).
    @Test func defaults() async throws {
        let fixtures = try FixturePlugins()
        defer { fixtures.directory.remove() }
        let plugin = try PluginLoader.load(path: try await fixtures.build("valid"))
        #expect(plugin.capabilities == [])
        let factory = DescriptorFixtures.factory(plugin)
        #expect(!factory.acceptsGroups(DestinationConfig(name: "plain", type: plugin.name)))
        #expect(!factory.acceptsGroups(DestinationConfig(name: "out", type: FileDestination.typeName)))
        #expect(!factory.acceptsGroups(DestinationConfig(name: "pager", type: "pagerdoody")), "a type no plugin provides")
    }

}
