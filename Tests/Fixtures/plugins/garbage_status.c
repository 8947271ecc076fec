/* deliver() returns a status that is not a cano_status, plus a bogus retry hint. */
#include "fixture.h"

static void deliver_garbage(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    (void)instance;
    (void)issue;
    (void)context;
    result->status = 42;
    result->retry_after_ms = 5000;
    result->message = fixture_string("oops");
}

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("garbage-status"), .deliver = deliver_garbage};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
