import CanoSDK
import PagerDutyDestination

// The only symbol this library exports for the host. It lives in its own target so that
// a test binary can link the PagerDuty logic without also getting a `cano_plugin_entry`.

/// Returns the PagerDuty plugin's descriptor; see cano_plugin.h.
@_cdecl("cano_plugin_entry")
public func canoPluginEntry() -> UnsafeRawPointer {
    PluginExport.destination(PagerDuty.self)
}
