/* A destination without deliver(). */
#include "fixture.h"

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("missing-deliver"), .deliver = NULL};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
