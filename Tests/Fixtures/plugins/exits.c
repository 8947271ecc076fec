/* deliver() ends the process with status 0, as a plugin calling exit() on an error would.
 * `plugins check` must report a FAIL and exit non-zero, not read the clean exit as a pass. */
#include <unistd.h>

#include "fixture.h"

static void deliver_exit(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    (void)instance;
    (void)issue;
    (void)context;
    (void)result;
    _exit(0);
}

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("exits"), .deliver = deliver_exit};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
