import CanoSDK
import SlackDestination

/// The one symbol the host looks up after dlopen(): the Slack destination's descriptor.
/// Kept apart from `SlackDestination` so test binaries, which link that library statically,
/// never contain a second `cano_plugin_entry`.
@_cdecl("cano_plugin_entry")
public func canoPluginEntry() -> UnsafeRawPointer {
    PluginExport.destination(SlackDestinationPlugin.self)
}
