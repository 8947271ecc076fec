/* An old or corrupt descriptor that ends before the v1 callbacks. */
#include "fixture.h"

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("too-small"), .struct_size = 16};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
