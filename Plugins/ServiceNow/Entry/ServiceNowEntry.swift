import CanoSDK
import ServiceNowDestination

// The only symbol this library exports for the host. It lives in its own target so that
// a test binary can link the ServiceNow logic without also getting a `cano_plugin_entry`.

/// Returns the ServiceNow plugin's descriptor; see cano_plugin.h.
@_cdecl("cano_plugin_entry")
public func canoPluginEntry() -> UnsafeRawPointer {
    PluginExport.destination(ServiceNow.self)
}
