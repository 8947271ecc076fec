/* A valid destination whose deliver() notices if two calls on one instance overlap: the
 * host must serialise calls unless CANO_FLAG_REENTRANT is set. Each call holds the
 * instance for a moment, as a network call would. */
#include <stdatomic.h>
#include <unistd.h>

#include "fixture.h"

static atomic_int in_flight;
static atomic_int overlapped;

static void deliver_slowly(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    (void)instance;
    (void)issue;
    (void)context;
    if (atomic_fetch_add(&in_flight, 1) > 0) atomic_store(&overlapped, 1);
    usleep(2000);
    atomic_fetch_sub(&in_flight, 1);
    result->status = atomic_load(&overlapped) ? CANO_STATUS_PERMANENT : CANO_STATUS_OK;
    result->message = fixture_string(atomic_load(&overlapped) ? "overlapping calls" : "alone");
}

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("overlap-detector"), .deliver = deliver_slowly};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
