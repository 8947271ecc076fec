/* A reentrant destination (CANO_FLAG_REENTRANT) whose deliver() waits, up to the call's
 * deadline, until a second call is inside deliver() at the same time. It succeeds only if
 * the host really lets calls on one instance run in parallel. */
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"

static atomic_int in_flight;
static atomic_int peak;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deliver_together(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    (void)instance;
    (void)issue;
    int now = atomic_fetch_add(&in_flight, 1) + 1;
    if (now > atomic_load(&peak)) atomic_store(&peak, now);
    while (atomic_load(&peak) < 2 && now_ms() < context->deadline_unix_ms) usleep(1000);
    atomic_fetch_sub(&in_flight, 1);
    int together = atomic_load(&peak) >= 2;
    result->status = together ? CANO_STATUS_OK : CANO_STATUS_RETRY;
    result->message = fixture_string(together ? "ran concurrently" : "never saw a concurrent call");
}

static const cano_plugin_descriptor d = {
    FIXTURE_DESCRIPTOR_FIELDS("reentrant-barrier"), .flags = CANO_FLAG_REENTRANT, .deliver = deliver_together};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
