// The ABI is a header; this file only pins its layout at compile time, so an accidental
// reordering or type change fails the build instead of breaking every compiled plugin.
#include "cano_plugin.h"

_Static_assert(sizeof(void *) == 8, "cano-collector plugin ABI v1 is defined for 64-bit targets");
_Static_assert(offsetof(cano_plugin_descriptor, name) == 24, "descriptor layout changed");
_Static_assert(offsetof(cano_plugin_descriptor, create) == 48, "descriptor layout changed");
_Static_assert(offsetof(cano_plugin_descriptor, free_buffer) == 80, "descriptor layout changed");
_Static_assert(sizeof(cano_plugin_descriptor) == 88, "descriptor size changed: append only");
_Static_assert(offsetof(cano_host_services, log) == 16, "host services layout changed");
_Static_assert(sizeof(cano_host_services) == 72, "host services size changed: append only");
_Static_assert(sizeof(cano_call_context) == 48, "call context size changed: append only");
_Static_assert(sizeof(cano_result) == 64, "result size changed: append only");
