/* Exports its descriptor under the wrong name: the host finds no cano_plugin_entry. */
#include "fixture.h"

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("missing-symbol")};
EXPORT const cano_plugin_descriptor *cano_plugin_entry_v0(void) { return &d; }
