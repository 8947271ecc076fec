/* An enricher without enrich() (and with deliver(), which an enricher does not use). */
#include "fixture.h"

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("no-enrich"), .kind = CANO_KIND_ENRICHER};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
