// The ABI is a header; this file only pins its layout at compile time, so an accidental
// reordering or type change fails the build instead of breaking every compiled plugin.
#include "cano_plugin.h"

_Static_assert(sizeof(void *) == 8, "cano-collector plugin ABI v1 is defined for 64-bit targets");
_Static_assert(offsetof(cano_plugin_descriptor, name) == 24, "descriptor layout changed");
_Static_assert(offsetof(cano_plugin_descriptor, create) == 48, "descriptor layout changed");
_Static_assert(offsetof(cano_plugin_descriptor, free_buffer) == 80, "descriptor layout changed");
// v1.0 ended after free_buffer (88 bytes); v1.1 appended path_keys.
_Static_assert(CANO_DESCRIPTOR_V1_MIN_SIZE == 88, "the v1.0 descriptor size is fixed forever");
_Static_assert(offsetof(cano_plugin_descriptor, path_keys) == 88, "v1.1 fields are appended");
// v1.1 ended after path_keys (96 bytes); v1.2 appended capabilities.
_Static_assert(CANO_DESCRIPTOR_V1_1_SIZE == 96, "the v1.1 descriptor size is fixed forever");
_Static_assert(offsetof(cano_plugin_descriptor, capabilities) == 96, "v1.2 fields are appended");
// v1.2 ended after capabilities (104 bytes); v1.3 appended render.
_Static_assert(offsetof(cano_plugin_descriptor, render) == 104, "v1.3 fields are appended");
_Static_assert(sizeof(cano_plugin_descriptor) == 112, "descriptor size changed: append only");
_Static_assert(CANO_CAPABILITY_GROUPS == 1, "capability bits are fixed forever");
_Static_assert(offsetof(cano_host_services, log) == 16, "host services layout changed");
// v1.0 ended after free_buffer (72 bytes); v1.1 appended create_flags.
_Static_assert(offsetof(cano_host_services, create_flags) == 72, "v1.1 fields are appended");
_Static_assert(sizeof(cano_host_services) == 80, "host services size changed: append only");
_Static_assert(sizeof(cano_call_context) == 48, "call context size changed: append only");
_Static_assert(sizeof(cano_result) == 64, "result size changed: append only");
