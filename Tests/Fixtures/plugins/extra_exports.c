/* A destination that exports a helper besides cano_plugin_entry: `plugins check` warns. */
#include "fixture.h"

EXPORT int jsonl_helper_parse(const char *text) { return text ? (int)strlen(text) : 0; }

static const cano_plugin_descriptor descriptor = {
    FIXTURE_DESCRIPTOR_FIELDS("extra-exports"),
};

EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &descriptor; }
