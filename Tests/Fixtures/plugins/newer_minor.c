/* Claims a newer ABI minor than the host: it may rely on services the host lacks. */
#include "fixture.h"

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("newer-minor"), .abi_minor = CANO_ABI_MINOR + 1};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
