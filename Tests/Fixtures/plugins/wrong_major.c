/* Built for a future ABI major: its layout may differ, so the host must refuse it. */
#include "fixture.h"

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("wrong-major"), .abi_major = CANO_ABI_MAJOR + 1};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
