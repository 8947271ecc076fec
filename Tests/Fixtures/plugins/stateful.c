/* A destination that uses the host services on every delivery, for the process-isolation
 * tests: it counts deliveries in the key-value store (so the count must survive a restart
 * of its process), logs a line, adds to a counter, returns the count as its reference,
 * prints to stdout (which must not corrupt the host's frame stream), and segfaults when
 * the Issue mentions CRASH_ME. */
#include <stdio.h>

#include "fixture.h"

static const cano_host_services *stateful_host;

static void stateful_create(cano_bytes config, const cano_host_services *host, void **out, cano_result *result) {
    (void)config;
    stateful_host = host;
    *out = &fixture_instance_token;
    result->status = CANO_STATUS_OK;
}

static int mentions(cano_bytes haystack, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= haystack.len; i++)
        if (memcmp(haystack.ptr + i, needle, n) == 0) return 1;
    return 0;
}

static void stateful_deliver(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    (void)instance;
    (void)context;
    const cano_host_services *h = stateful_host;
    if (mentions(issue, "CRASH_ME")) *(volatile int *)0 = 1;

    cano_bytes key = {(const uint8_t *)"count", 5};
    cano_buffer value = {0};
    long count = 0;
    int32_t found = h->kv_get(h->host_ctx, key, &value);
    if (found == 0 && value.ptr) {
        char text[32] = {0};
        memcpy(text, value.ptr, value.len < 31 ? value.len : 31);
        count = strtol(text, NULL, 10);
    }
    h->free_buffer(h->host_ctx, value.ptr);
    if (found < 0) {
        result->status = CANO_STATUS_RETRY;
        result->message = fixture_string("kv_get failed");
        return;
    }
    count++;
    char text[32];
    int len = snprintf(text, sizeof text, "%ld", count);
    cano_bytes stored = {(const uint8_t *)text, (size_t)len};
    if (h->kv_put(h->host_ctx, key, stored) != 0) {
        result->status = CANO_STATUS_RETRY;
        result->message = fixture_string("kv_put failed");
        return;
    }

    static const char line[] = "stateful delivering";
    static const char fields[] = "{\"step\":\"deliver\",\"attempt\":1,\"first\":true}";
    h->log(h->host_ctx, CANO_LOG_INFO, (cano_bytes){(const uint8_t *)line, sizeof line - 1},
           (cano_bytes){(const uint8_t *)fields, sizeof fields - 1});
    h->counter_add(h->host_ctx, (cano_bytes){(const uint8_t *)"stateful_deliveries", 19}, 1);
    printf("stray output that must not reach the frame stream\n");
    fflush(stdout);

    result->status = CANO_STATUS_OK;
    result->message = fixture_string("stored");
    char reference[48];
    snprintf(reference, sizeof reference, "count:%ld", count);
    result->reference = fixture_string(reference);
}

static const cano_plugin_descriptor d = {FIXTURE_DESCRIPTOR_FIELDS("stateful"), .create = stateful_create, .deliver = stateful_deliver};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
