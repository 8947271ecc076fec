/* The entry point returns NULL. */
#include "fixture.h"

EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return NULL; }
