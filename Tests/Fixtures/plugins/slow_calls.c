/* A destination whose create() and deliver() take long (CREATE_MS, DELIVER_MS), but
 * return: `plugins check` flags a slow create, and its watchdog is per call, not total. */
#include <time.h>
#include "fixture.h"

#ifndef CREATE_MS
#define CREATE_MS 1500
#endif
#ifndef DELIVER_MS
#define DELIVER_MS 0
#endif

static void pause_ms(long ms) {
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&t, &t) != 0) {}
}

static void slow_create(cano_bytes config, const cano_host_services *host, void **out, cano_result *result) {
    pause_ms(CREATE_MS);
    fixture_create(config, host, out, result);
}

static void slow_deliver(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    pause_ms(DELIVER_MS);
    fixture_deliver(instance, issue, context, result);
}

static const cano_plugin_descriptor descriptor = {
    FIXTURE_DESCRIPTOR_FIELDS("slow-calls"),
    .create = slow_create,
    .deliver = slow_deliver,
};

EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &descriptor; }
