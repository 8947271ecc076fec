/* create() refuses every config, as a plugin does for a missing required key. */
#include "fixture.h"

static void create_fails(cano_bytes config, const cano_host_services *host, void **out, cano_result *result) {
    (void)config;
    (void)host;
    (void)out;
    result->status = CANO_STATUS_PERMANENT;
    result->message = fixture_string("config: missing required key \"endpoint\"");
}

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("create-fails"), .create = create_fails};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
