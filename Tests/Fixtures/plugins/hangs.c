/* deliver() ignores its deadline and never returns. `plugins check` must stop it and say so. */
#include <unistd.h>

#include "fixture.h"

static void deliver_forever(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    (void)instance;
    (void)issue;
    (void)context;
    (void)result;
    for (;;) pause();
}

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("hangs"), .deliver = deliver_forever};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
