/* deliver() dereferences NULL: the worst a plugin can do. `plugins check` must report it,
 * not die with it. */
#include "fixture.h"

static void deliver_crash(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    (void)instance;
    (void)issue;
    (void)context;
    (void)result;
    *(volatile int *)0 = 1;
}

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("crashes"), .deliver = deliver_crash};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
