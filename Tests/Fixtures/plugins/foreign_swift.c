/* Pretends to be a Swift plugin built by another Swift toolchain. */
#include "fixture.h"

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("foreign-swift"), .toolchain = "swift-5.9"};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
