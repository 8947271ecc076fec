/* A name users could not write in config (upper case, space). */
#include "fixture.h"

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("Bad Name")};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
