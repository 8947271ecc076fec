/* A minimal valid destination; the tests load it twice under different file names to
 * check duplicate names, and with -DFIXTURE_NAME to give it another name. */
#include "fixture.h"

#ifndef FIXTURE_NAME
#define FIXTURE_NAME "valid"
#endif

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS(FIXTURE_NAME)};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
