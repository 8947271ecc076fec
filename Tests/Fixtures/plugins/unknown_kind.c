/* A kind this host does not know. */
#include "fixture.h"

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("unknown-kind"), .kind = 7};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
