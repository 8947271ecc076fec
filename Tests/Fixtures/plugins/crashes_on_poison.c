/* A poison-message plugin: deliver() dereferences NULL when the Issue's JSON contains the
 * word "poison", and delivers everything else. The crash-containment tests run it in
 * process next to a healthy destination. */
#include "fixture.h"

static void deliver_or_crash(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    static const char needle[] = "poison";
    size_t n = sizeof needle - 1;
    for (size_t i = 0; issue.ptr && i + n <= issue.len; i++) {
        if (memcmp(issue.ptr + i, needle, n) == 0) *(volatile int *)0 = 1;
    }
    fixture_deliver(instance, issue, context, result);
}

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("poisoned"), .deliver = deliver_or_crash};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
