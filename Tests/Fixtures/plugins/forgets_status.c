/* deliver() never sets a status (leaves the host's zero). */
#include "fixture.h"

static void deliver_nothing(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    (void)instance;
    (void)issue;
    (void)context;
    (void)result;
}

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("forgets-status"), .deliver = deliver_nothing};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
